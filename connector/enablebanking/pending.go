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
// include_pending false (the call then asks for booked rows only).
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
	readErr := quota.Each(ctx, refs, accountWorkers, func(ctx context.Context, a accountRef) error {
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
	return errors.Join(listErr, readErr)
}
