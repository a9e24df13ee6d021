package enablebanking

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// pendingStream emits the rows of each account's transactions call whose
// status is not BOOK (PDNG, HOLD, SCHD, ...), with account_key,
// account_uid, session_id, pending_key and signed_amount. Pending rows have
// no stable id (the placeholder "0", and a new entry_reference when they
// book), so pending_key is the hash of the row's content: a row that
// changes gets a new key, and the snapshot, replaced each run (full refresh
// only, destination overwrite), holds only rows as they are now. Its booked
// twin arrives in transactions under its own key. It makes no call of its
// own beyond the account's one transactions call of the run, and none with
// include_pending false (the call then asks for booked rows only). An
// account whose call failed, or was skipped for its spent daily limit, has
// no rows in that run's snapshot: the stream ends INCOMPLETE, a
// *source.PartialSnapshot naming the accounts not read (their account_key,
// which stays the same across sessions) when all others were, so that the
// Parquet and PostgreSQL sinks replace the other accounts' pending rows and
// keep those accounts' previous ones: the incremental transactions stream
// has loaded the rows that booked since, which the previous pending
// snapshot still held. (A transactions stream read in full_refresh ends
// INCOMPLETE on the same failures and is kept whole; the pending snapshot
// is then kept whole too.)
type pendingStream struct{ c *conn }

func (s *pendingStream) Name() string            { return pendingName }
func (s *pendingStream) Schema() json.RawMessage { return loadSchema("pending_transactions") }
func (s *pendingStream) PrimaryKey() [][]string {
	return [][]string{{"account_key"}, {"pending_key"}}
}
func (s *pendingStream) CursorField() []string { return nil }

func (s *pendingStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	if !s.c.cfg.IncludePending {
		return source.NotRead("config include_pending is false")
	}
	refs, listErr := s.c.readable(ctx)
	if err := s.c.futureStart(); err != nil {
		return err
	}
	pendingFrom := later(s.c.clock.Today().AddDate(0, 0, -pendingDays), s.c.oldestDay())
	// Where every account was listed and transactions is not itself a
	// snapshot, one read whole but for some accounts is a partial one
	// (quota.EachPart): a sink keeps their previous rows and replaces the
	// others'. Not beside a transactions snapshot, which the same failures
	// leave whole in the sinks: a pending row booked since would then be
	// in neither (its old booked snapshot lacks it).
	partial := listErr == nil && !s.c.bookedSnapshot
	readErr := quota.EachPart(ctx, refs, accountWorkers, out, "account_key", partial, func(ctx context.Context, a accountRef, out source.Output) error {
		from := pendingFrom
		if s.c.Reads(transactionsName) {
			// The booked stream reads this call's answer after this
			// stream: the call reaches as far back as it will need.
			if b := s.c.bookedFrom(s.c.bookedPlaces[a.Key]); b.Before(from) {
				from = b
			}
		}
		ans, err := s.c.accountTransactions(ctx, a, from)
		if err != nil {
			return err
		}
		rows, err := ans.pending.Take()
		if err != nil {
			return source.SystemErrorf("account %s (uid %s): its pending transactions: %v", a.Key, a.UID, err)
		}
		keys := make([]string, len(rows))
		for j, r := range rows {
			keys[j] = rowkey.Content(r.raw)
		}
		rowkey.Disambiguate(keys)
		for j, r := range rows {
			if err := out.Record(transactionRecord(r, a, jsonrow.String("pending_key", keys[j]))); err != nil {
				return err
			}
		}
		return nil
	})
	if listErr == nil {
		return readErr // a *source.PartialSnapshot itself, where it is one
	}
	return errors.Join(listErr, readErr)
}
