package enablebanking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// transactionsStream emits the booked rows (status BOOK) of GET
// /accounts/{uid}/transactions, each as the bank sent it with account_key,
// account_uid, session_id, transaction_key (keys.go) and signed_amount
// (amount.go).
//
// Incremental semantics (at least once, per account key):
//   - State keeps, per account, booked_through: the newest date (booking,
//     else value, else transaction date) of the rows read, never past the
//     API's today; and the keys of the rows the next run re-reads.
//   - A run asks for date_from = booked_through - lookback_days, never
//     earlier than start_date (default 90 days back); date_to is left
//     open, so a row a bank dates ahead is not lost. A first sync, a new
//     account and full_refresh start at start_date.
//   - A state from the future reads nothing and stays as it is.
//   - One call chain per account per run (its continuation pages follow
//     with the same parameters), shared with pending_transactions: an
//     unchanged account costs one call of its daily limit.
//   - A call the limit does not allow is skipped with a WARN; the account
//     keeps its state and the stream still completes.
//   - The state is checkpointed as accounts finish, and at the end; it also
//     keeps the transactions endpoint's books per account.
type transactionsStream struct{ c *conn }

func (s *transactionsStream) Name() string            { return transactionsName }
func (s *transactionsStream) Schema() json.RawMessage { return loadSchema("transactions") }
func (s *transactionsStream) PrimaryKey() [][]string {
	return [][]string{{"account_key"}, {"transaction_key"}}
}
func (s *transactionsStream) CursorField() []string { return []string{"booking_date"} }

// txPos is one account's entry in the transactions state.
type txPos struct {
	// BookedThrough is the newest date read (YYYY-MM-DD).
	BookedThrough string `json:"booked_through,omitempty"`
	// Keys are the keys given to rows the next run re-reads.
	Keys []rememberedKey `json:"keys,omitempty"`
	// SyncedAt is when a run last read the account (the API's clock).
	SyncedAt string `json:"synced_at"`
}

// StateBytes implements quota.Weigher: a place with a week of a busy
// account's keys weighs kilobytes, and a read of many such accounts spaces
// its checkpoints.
func (p *txPos) StateBytes() int {
	n := 64 + len(p.BookedThrough) + len(p.SyncedAt)
	for _, k := range p.Keys {
		n += 28 + len(k.Date) + len(k.Fingerprint) + len(k.Key) // {"date":"","fp":"","key":""},
	}
	return n
}

// CheckState implements source.StateChecker.
func (s *transactionsStream) CheckState(raw json.RawMessage) error {
	_, err := decodeTxState(raw)
	return err
}

func decodeTxState(raw json.RawMessage) (*quota.State[txPos, usage], error) {
	return quota.DecodeState[txPos, usage]("transactions", raw, func(a *txPos) error {
		if _, err := time.Parse(time.DateOnly, a.BookedThrough); err != nil && a.BookedThrough != "" {
			return fmt.Errorf("booked_through %q is not a date (YYYY-MM-DD)", a.BookedThrough)
		}
		for i, k := range a.Keys {
			if k.Key == "" || k.Fingerprint == "" {
				return fmt.Errorf("keys[%d] has no key or fp", i)
			}
		}
		return nil
	})
}

func (s *transactionsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := decodeTxState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid transactions state")
	}
	refs, listErr := s.c.readable(ctx)
	if err := s.c.futureStart(); err != nil {
		return err
	}
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, s.c.clock.Now(), func(p *txPos) string { return p.SyncedAt }, out.Logger())
	}
	now := httpclient.FormatTime(s.c.clock.Now())
	readErr := quota.ReadAnnouncing(ctx, s.c.quotas.Ledger, quota.Transactions, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, prev *txPos, announce quota.Announce[txPos]) (*txPos, error) {
		incremental := req.Mode == protocol.Incremental
		if !incremental {
			prev, announce = nil, nil
		}
		next, err := s.readAccount(ctx, a, prev, announce, out)
		if err != nil {
			return nil, err
		}
		next.SyncedAt = now
		return next, nil
	})
	return errors.Join(listErr, readErr)
}

// readAccount emits one account's booked rows from date_from on and
// returns its new place. Only an incremental read (announce not nil)
// remembers the keys of the rows the next run re-reads: a full_refresh
// read's state is never emitted, and the keys of every account's lookback
// days, held until the stream ends, were most of what grew with the
// accounts read (some 10 MB at 1,000,000 rows of the fake).
//
// Keys it gives that the state does not remember yet are announced before
// the rows go out, with the account's progress unchanged: a destination
// has the rows as soon as they are printed, before the checkpoint after
// them (with --parquet-dir, STATEs wait for their file), and a run killed
// in between left the next one no memory of their keys, so a row whose
// reference the bank changed meanwhile came again under a new key, twice
// in the destination.
func (s *transactionsStream) readAccount(ctx context.Context, a accountRef, prev *txPos, announce quota.Announce[txPos], out source.Output) (*txPos, error) {
	remember := announce != nil
	from := s.c.bookedFrom(prev)
	next := &txPos{}
	if prev != nil {
		*next = *prev
	}
	today := s.c.clock.Today()
	if from.After(today) {
		quota.WarnFromTheFuture(out.Logger(), a.Key, from, today)
		return next, nil // a state from the future: nothing to read yet
	}
	ans, err := s.c.accountTransactions(ctx, a, from)
	if err != nil {
		return nil, err
	}
	booked, err := ans.booked.Take()
	if err != nil {
		return nil, source.SystemErrorf("account %s (uid %s): its booked transactions: %v", a.Key, a.UID, err)
	}
	if ans.from.After(from) {
		// The pending stream asked first, for fewer days: this stream
		// needs its own, wider call.
		if booked, _, err = s.c.fetchTransactions(ctx, a, from); err != nil {
			return nil, err
		}
	}
	rows := booked[:0:0]
	fromDay := from.Format(time.DateOnly)
	for _, r := range booked {
		// The shared call may reach further back, for pending rows; older
		// booked rows were read by earlier runs, under the keys they had.
		if d := r.f.date(); d == "" || d >= fromDay {
			rows = append(rows, r)
		}
	}
	keys := bookedKeys(rows, next.Keys)
	todayDay := today.Format(time.DateOnly)
	newest := next.BookedThrough
	for _, r := range rows {
		if d := r.f.date(); d != "" && d > newest {
			newest = min(d, todayDay)
		}
	}
	var kept []rememberedKey
	if t, err := time.Parse(time.DateOnly, newest); err == nil && remember {
		cutoff := t.AddDate(0, 0, -s.c.cfg.lookback).Format(time.DateOnly)
		for i, r := range rows {
			if d := r.f.date(); d != "" && d >= cutoff {
				kept = append(kept, rememberedKey{Date: d, Fingerprint: r.f.fingerprint(), Key: keys[i]})
			}
		}
	}
	if fresh := unremembered(kept, next.Keys); len(fresh) > 0 {
		err := announce(func(cur *txPos) *txPos {
			// The place's progress stays; synced_at is left empty, as
			// the account is being read, so the checkpoint after its rows
			// never repeats the announcement.
			ann := &txPos{}
			if cur != nil {
				ann.BookedThrough, ann.Keys = cur.BookedThrough, cur.Keys
			}
			ann.Keys = append(slices.Clip(ann.Keys), fresh...)
			return ann
		})
		if err != nil {
			return nil, err
		}
	}
	for i, r := range rows {
		if err := out.Record(transactionRecord(r, a, jsonrow.String("transaction_key", keys[i]))); err != nil {
			return nil, err
		}
	}
	next.BookedThrough = newest
	next.Keys = kept
	return next, nil
}

// unremembered returns the keys of kept that remembered does not hold.
func unremembered(kept, remembered []rememberedKey) []rememberedKey {
	known := make(map[rememberedKey]bool, len(remembered))
	for _, k := range remembered {
		known[k] = true
	}
	var out []rememberedKey
	for _, k := range kept {
		if !known[k] {
			out = append(out, k)
		}
	}
	return out
}

// transactionRecord is a row with the connector's fields in front:
// account_key, account_uid, session_id, the row's key and signed_amount.
func transactionRecord(r txRow, a accountRef, key jsonrow.Field) jsonrow.Row {
	signed := jsonrow.Raw("signed_amount", json.RawMessage("null"))
	if s, ok := signedAmount(r.f.Amount.Amount, r.f.Indicator); ok {
		signed = jsonrow.String("signed_amount", s)
	}
	return jsonrow.With(r.raw, jsonrow.String("account_key", a.Key), jsonrow.String("account_uid", a.UID),
		jsonrow.String("session_id", a.SessionID), key, signed)
}

// oldestDay is the first day transactions are read from: start_date,
// default DefaultStartDays before the API's today.
func (c *conn) oldestDay() time.Time {
	if !c.cfg.startDate.IsZero() {
		return c.cfg.startDate
	}
	return c.clock.Today().AddDate(0, 0, -DefaultStartDays)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// The two streams one transactions call chain serves.
const (
	transactionsName = "transactions"
	pendingName      = "pending_transactions"
)

// txAnswer is one account's transactions call chain, shared by the booked
// and pending streams: each takes its rows once, and they are freed then.
type txAnswer struct {
	from            time.Time
	booked, pending *source.Part[[]txRow]
}

// refusedWindow reports whether err is a 400 ASPSP_ERROR: what a bank
// that keeps less history answers a window longer than it has.
func refusedWindow(err error) bool {
	se, ae, ok := statusOf(err)
	return ok && se.Status == http.StatusBadRequest && ae.Error == codeASPSPError
}

// maxPages bounds a continuation chain: a bank that keeps answering with
// a key must not hold a run forever.
const maxPages = 1000

// historyFallbackDays are the windows, longest first, a first
// transactions call is asked again with when the bank refused a longer one
// with a blanket 400 ASPSP_ERROR: Danske rejects a window beyond about 90
// days instead of clamping it, and clients narrow 120, 90, 60, 30 days
// (the reference, §5), so a first sync from further back than the bank
// keeps would fail every run and never read anything. Only the windows
// shorter than the refused one are tried: at most three more calls, once,
// on an account's first sync.
var historyFallbackDays = []int{90, 60, 30}

// narrower returns the longest of historyFallbackDays that starts after
// from, or false when none does.
func (c *conn) narrower(from time.Time) (time.Time, bool) {
	for _, days := range historyFallbackDays {
		if d := c.clock.Today().AddDate(0, 0, -days); from.Before(d) {
			return d, true
		}
	}
	return time.Time{}, false
}

// pendingDays is how far back the pending stream reads when it is the
// first to ask for an account's transactions.
const pendingDays = 30

// bookedFrom is the date_from the booked stream reads an account from,
// given its place in the stream's incremental state (nil: none, or not
// incremental): lookback_days before the newest booking date read, or the
// oldest day allowed.
func (c *conn) bookedFrom(prev *txPos) time.Time {
	oldest := c.oldestDay()
	if prev != nil {
		if t, err := time.Parse(time.DateOnly, prev.BookedThrough); err == nil {
			return later(t.AddDate(0, 0, -c.cfg.lookback), oldest)
		}
	}
	return oldest
}

// PlanRequests implements source.RequestPlanner: it keeps the booked
// stream's incremental places, so that the pending stream, read first,
// asks for as many days as the booked stream will need of the call they
// share (bookedFrom) instead of its own 30, which made the booked stream
// call again. A state that does not decode keeps nothing: the runtime has
// refused it already. It also notes whether the booked stream is a
// snapshot this run (bookedSnapshot).
func (c *conn) PlanRequests(reqs map[string]source.ReadRequest) {
	c.bookedPlaces = quota.IncrementalPlaces(reqs, transactionsName, decodeTxState)
	r, ok := reqs[transactionsName]
	c.bookedSnapshot = ok && r.Mode == protocol.FullRefresh
}

// readsPending reports whether this run emits pending rows: include_pending
// is on and the catalog selects pending_transactions. Otherwise the shared
// call is the booked stream's alone: its lookback, booked rows only, as
// with include_pending off, and no pages of rows nothing emits.
func (c *conn) readsPending() bool { return c.cfg.IncludePending && c.Reads(pendingName) }

// accountTransactions makes an account's one transactions call chain of the
// run and hands the same answer to every stream that asks; the first to
// ask sets date_from.
func (c *conn) accountTransactions(ctx context.Context, a accountRef, from time.Time) (*txAnswer, error) {
	return c.transactions.Get(a.Key, func() (*txAnswer, error) {
		if c.readsPending() {
			// A card hold can stay pending for weeks, while an incremental
			// read of booked rows needs a week or so.
			if p := later(c.clock.Today().AddDate(0, 0, -pendingDays), c.oldestDay()); p.Before(from) {
				from = p
			}
		}
		booked, pending, err := c.fetchTransactions(ctx, a, from)
		var skip *quotaSkip
		if errors.As(err, &skip) {
			c.warnSkip(ctx, skip)
		}
		if err != nil {
			return nil, err
		}
		// The rows are slices of their pages. The pending stream may read
		// after the booked one has let go of its rows: its few rows are
		// copied out, so as not to keep their pages until then.
		pending = jsonrow.Detach(pending, func(r *txRow) *json.RawMessage { return &r.raw })
		return &txAnswer{
			from:    from,
			booked:  source.NewPart(booked, c.Reads(transactionsName)),
			pending: source.NewPart(pending, c.readsPending()),
		}, nil
	})
}

// fetchTransactions reads every page of an account's transactions from
// date_from on. When the run reads pending rows the call has no status
// filter (the bank sends booked and pending rows in one answer, so pending
// rows cost no extra call); otherwise it asks for BOOK only, as Enable
// Banking advises. Each continuation repeats the first call's parameters: some
// banks refuse a key with others. An empty page with a key is not the end.
// A first call the bank refuses with 400 ASPSP_ERROR is made again from
// the next shorter of historyFallbackDays back, with a WARN each time,
// until one is answered or none is shorter: what the bank keeps is read,
// instead of nothing.
func (c *conn) fetchTransactions(ctx context.Context, a accountRef, from time.Time) (booked, pending []txRow, err error) {
	q := url.Values{"date_from": {from.Format(time.DateOnly)}}
	if !c.readsPending() {
		q.Set("transaction_status", "BOOK")
	}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, nil, source.TransientErrorf("account %s (uid %s): the bank was still sending continuation keys after %d pages; the account's state is kept: run again later", a.Key, a.UID, maxPages)
		}
		var p txPage
		err := c.bankCall(ctx, a, quota.Transactions, "GET /accounts/{uid}/transactions", accountPath(a.UID, "transactions"), q, page == 0, func(b []byte) error {
			if cap(b)-len(b) > len(b)/4 {
				// The rows keep the page: not the slack of the buffer it
				// was read into (32 KiB for a page without a length).
				b = bytes.Clone(b)
			}
			var err error
			p, err = decodeTxPage(b)
			return err
		})
		if fallback, ok := c.narrower(from); ok && err != nil && page == 0 && refusedWindow(err) {
			// The refused call reached the bank, which counts it against
			// the daily limit as one answered: the ledger counts it too,
			// or a narrowed first sync (up to four calls) left it
			// thinking three were left and the next run drew a 429.
			c.quotas.spend(a.Key, quota.Transactions)
			c.env.Log.Warn("the bank refused transactions from date_from with a blanket 400 ASPSP_ERROR, which a bank keeping less history answers a longer window (Danske: about 90 days), and an outage any; asking again from "+fallback.Format(time.DateOnly)+": if the bank answers, the account's older rows are not read",
				"account", a.Key, "uid", a.UID, "date_from", from.Format(time.DateOnly))
			from, page = fallback, -1
			q.Set("date_from", from.Format(time.DateOnly))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for i, r := range p.rows {
			switch {
			case r.notObject:
				return nil, nil, source.SystemErrorf("account %s (uid %s): row %d of a transactions page is not a transaction object", a.Key, a.UID, i)
			case r.misfit != "":
				// A value no schema expected must not cost the account its
				// rows: kept as sent, said once a stream and field.
				source.WarnOnce(ctx, "misfit-key:"+r.misfit, "a transaction's "+r.misfit+" is not of the type the schema declares; the row is kept as sent "+
					"(a typed sink nulls that column and keeps the value in _leftovers) and is keyed, dated and signed by its other fields", "field", r.misfit, "account", a.Key, "uid", a.UID, "row", i)
			}
			// A row without a status came back from a call for booked rows,
			// or from a bank that left it out: booked is where it is kept.
			if st := strings.TrimSpace(r.f.Status); st == "" || strings.EqualFold(st, "BOOK") {
				booked = append(booked, r)
			} else {
				pending = append(pending, r)
			}
		}
		if p.next == nil || *p.next == "" {
			return booked, pending, nil
		}
		if seen[*p.next] {
			return nil, nil, source.TransientErrorf("account %s (uid %s): the bank sent the same continuation key twice; the account's state is kept: run again later", a.Key, a.UID)
		}
		seen[*p.next] = true
		q.Set("continuation_key", *p.next)
	}
}
