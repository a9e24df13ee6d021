package gocardless

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// pendingStream emits the pending rows of each account's transactions
// call, with account_id, pending_key (see pendingKeys) and status
// "pending". Pending rows are fetched from the bank again on every call and
// change or vanish when they book, so the stream is a snapshot: full
// refresh only, to be replaced each run (destination overwrite). It makes
// no call of its own: the account's one transactions call of the run serves
// the transactions stream and this one. An account whose call was skipped
// for quota has no pending rows in that run's snapshot: the stream ends
// INCOMPLETE, a *source.PartialSnapshot naming the accounts not read when
// all others were, so that the Parquet and PostgreSQL sinks replace the
// other accounts' pending rows and keep those accounts' previous ones:
// the incremental transactions stream has loaded the rows that booked
// since, which the previous pending snapshot still held. (A transactions
// stream read in full_refresh ends INCOMPLETE on the same failures and is
// kept whole; the pending snapshot is then kept whole too.)
type pendingStream struct{ c *conn }

func (s *pendingStream) Name() string            { return pendingName }
func (s *pendingStream) Schema() json.RawMessage { return loadSchema("pending_transactions") }
func (s *pendingStream) PrimaryKey() [][]string {
	return [][]string{{"account_id"}, {"pending_key"}}
}
func (s *pendingStream) CursorField() []string { return nil }

func (s *pendingStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	if !s.c.cfg.pending {
		return source.NotRead("config include_pending is false")
	}
	if err := s.c.futureStart(ctx); err != nil {
		return err
	}
	refs, listErr := s.c.readable(ctx)
	// Where every account was listed and transactions is not itself a
	// snapshot, one read whole but for some accounts is a partial one
	// (quota.EachPart): a sink keeps their previous rows and replaces the
	// others'. Not beside a transactions snapshot, which the same failures
	// leave whole in the sinks: a pending row booked since would then be
	// in neither (its old booked snapshot lacks it).
	partial := listErr == nil && !s.c.bookedSnapshot
	readErr := quota.EachPart(ctx, refs, accountWorkers, out, "account_id", partial, func(ctx context.Context, a accountRef, out source.Output) error {
		// The pending rows' window (accountTransactions widens the call to
		// pendingDays back), and, when the booked stream reads this call's
		// answer after this stream, as far back as it will need.
		from := s.c.clock.Today()
		if s.c.Reads(transactionsName) {
			from = s.c.bookedFrom(ctx, a, s.c.bookedPlaces[a.ID])
		}
		resp, err := s.c.accountTransactions(ctx, a, txWindow{from: from, pending: true})
		if err != nil {
			return err
		}
		rows, err := resp.pending.Take()
		if err != nil {
			return source.SystemErrorf("account %s: its pending transactions: %v", a.ID, err)
		}
		keys := pendingKeys(rows)
		for j, r := range rows {
			rec := jsonrow.With(r.raw, jsonrow.String("account_id", a.ID), jsonrow.String("pending_key", keys[j]), jsonrow.String("status", "pending"))
			if err := out.Record(rec); err != nil {
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
