// Package quota is what a connector must respect of a PSD2 bank's limits
// on reading an account, for the providers that pass them on (GoCardless
// Bank Account Data, Enable Banking).
//
// A bank may refuse more than a few unattended reads of an account a day
// (as few as 4), per endpoint. A call known to fail must not be made (it
// may count all the same, and a refused one is never worth retrying in
// the same run), so a run keeps what it knows per account and endpoint in
// a Ledger its streams share, and each stream keeps the books of the
// endpoint it calls in its State, beside each account's place, for the
// next run (Read). What an entry of the books holds is the provider's
// (an Entry): GoCardless records what the bank's headers say remains and
// when it resets; Enable Banking, whose banks say nothing in advance, the
// calls it made and until when a refusal holds.
//
// The same limit makes account details, which hardly ever change, worth
// fetching once a day (CachedDetails). And an account is read through a
// consent that lapses: the accounts of a lapsed one are reported once and
// not called (Consented). A stream that keeps no state reads its accounts
// with Each, or EachPart where a sink may replace its snapshot account by
// account.
package quota
