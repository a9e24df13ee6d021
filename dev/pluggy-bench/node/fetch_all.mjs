// Reads every transaction of every account of the given items with the
// official Node SDK (pluggy-sdk), the way Pluggy's guide does: for each item
// fetchAccounts, then fetchAllTransactions(accountId) for each account, one
// after another. Prints each transaction as one JSON line, so
// dev/pluggy-bench can count and time it next to source-pluggy.
//
// Environment: PLUGGY_API_URL (read by the SDK itself), PLUGGY_CLIENT_ID,
// PLUGGY_CLIENT_SECRET, PLUGGY_ITEM_IDS (comma-separated).
import pluggy from 'pluggy-sdk';

const { PluggyClient } = pluggy;
const client = new PluggyClient({
  clientId: process.env.PLUGGY_CLIENT_ID,
  clientSecret: process.env.PLUGGY_CLIENT_SECRET,
});

// write honours backpressure, so a slow reader costs time, not memory.
function write(s) {
  return new Promise((resolve) => {
    if (process.stdout.write(s)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

for (const itemId of (process.env.PLUGGY_ITEM_IDS || '').split(',').filter(Boolean)) {
  const { results: accounts } = await client.fetchAccounts(itemId);
  for (const account of accounts) {
    // The whole account comes back as one array: that is the SDK's API.
    const transactions = await client.fetchAllTransactions(account.id);
    let chunk = '';
    for (const t of transactions) {
      chunk += JSON.stringify(t) + '\n';
      if (chunk.length >= 1 << 20) {
        await write(chunk);
        chunk = '';
      }
    }
    if (chunk) await write(chunk);
  }
}
