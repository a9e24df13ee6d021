package pluggy

// CategorySpendingSQL is the report Pluggy's guide builds once the data is in
// your own database, as a view over the transactions and accounts tables
// that `read --postgres` loads (tables named unqualified: the view is
// created in the destination's schema). Per month (UTC), account and
// category: money out and money in, in the account's currency, and the
// number of transactions. Deleted rows (_deleted_at set) are left out.
//
// Signs: bank accounts send money out negative; credit-card accounts
// (accounts.type = 'CREDIT') send purchases positive, as the card's
// balance sees them (see the reference's sign conventions), so their
// amounts are negated first. Foreign-currency rows count in the account's
// currency (amountInAccountCurrency).
const CategorySpendingSQL = `
SELECT
  date_trunc('month', t."date" AT TIME ZONE 'UTC')::date AS month,
  t."accountId" AS account_id,
  a."name" AS account_name,
  coalesce(t."category", 'Uncategorized') AS category,
  sum(greatest(-s.amount, 0)) AS money_out,
  sum(greatest(s.amount, 0)) AS money_in,
  count(*) AS transactions
FROM transactions t
LEFT JOIN accounts a ON a."id" = t."accountId"
CROSS JOIN LATERAL (
  SELECT CASE WHEN a."type" = 'CREDIT' THEN -1 ELSE 1 END
         * coalesce(t."amountInAccountCurrency", t."amount") AS amount
) s
WHERE t._deleted_at IS NULL
GROUP BY 1, 2, 3, 4`
