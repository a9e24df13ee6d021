// Package fake is an in-process imitation of the GoCardless Bank Account Data
// API (formerly Nordigen), built only on the standard library.
//
// It exists because the real service no longer accepts new customers and
// enforces quotas as low as four calls per account per day: neither the
// connector's tests nor its demo can depend on it. The fake therefore models
// the parts of the API that a source connector has to get right rather than
// the happy path only:
//
//   - token issuance and refresh, bearer checks, and the 100/hour limit on
//     POST /token/new/;
//   - requisitions, end-user agreements, institutions and account metadata;
//   - the bank-level quota: each of details, balances and transactions is
//     limited per account on a rolling 24 hour window, reported in the
//     per-account rate-limit headers and answered with 429 RateLimitError
//     once spent, next to the company-level per-minute limits;
//   - the error bodies of expired access (typed 401, untyped 401 and 400),
//     inactive and suspended accounts, failing institutions and an IP
//     address not on the allow-list (403), and suspension after ten
//     consecutive failed accesses;
//   - Berlin Group transaction rows with the quirks banks are known for:
//     missing, blank, "NOTPROVIDED" and repeating transactionIds, ids
//     reused over time (ReuseTransactionID), pending rows without ids that
//     change between calls, decimal amounts as strings, Unicode text and
//     inconsistent date-time formats; booked rows without the
//     internalTransactionId GoCardless adds (Options.NoInternalIDs).
//
// All data is derived from Options.Seed and the day of Options.Now when New
// is called, so two servers built with the same options serve the same
// bytes. Scenario switches (ExpireRequisition, ExhaustQuota, AdvanceClock,
// ...) let tests provoke each failure on purpose; AdminHandler exposes the
// same switches over HTTP for the runnable cmd/fake-gocardless-bank-data.
package fake
