package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// transactionsStream emits the booked rows of GET
// /accounts/{id}/transactions/, each with account_id, transaction_key and
// status "booked".
//
// Incremental semantics (at least once, per account):
//   - State keeps, per account, booked_through: the newest booking date
//     (valueDate when a row has no bookingDate) of the rows read, never
//     past the API's today.
//   - A run asks for date_from = booked_through - lookback_days, never
//     earlier than the oldest day the account allows (start_date, the
//     institution's transaction_total_days, the agreement's
//     max_historical_days). date_to is left open, so a row a bank dates a
//     day ahead is not lost. A first sync, a new account and full_refresh
//     start at that oldest day; start_date defaults to 90 days back.
//   - A state from the future reads nothing and stays as it is.
//   - One call per account per run, shared with pending_transactions (see
//     conn.accountTransactions): an unchanged account costs one call.
//   - A call the quota does not allow is skipped with a WARN; the account
//     keeps its state and the stream still completes.
//   - The state is checkpointed as accounts finish, and at the end; it also
//     keeps the transactions endpoint's quota per account. An account
//     whose answer repeats transactionIds for the first time has that
//     announced before its rows (readAccount).
//
// transaction_key: see bookedKeys. The key is account_id +
// transaction_key; internalTransactionId first, as GoCardless advises.
//
// Late rows: the API filters by bookingDate OR valueDate, so a card row
// booked weeks ago can arrive now because its valueDate is recent. Every
// booked row the call returns is emitted; only rows the wider shared call
// (pendingDays) returned and the stream's own window would not have (both
// dates before its date_from) are left out, being read already.
type transactionsStream struct{ c *conn }

func (s *transactionsStream) Name() string            { return transactionsName }
func (s *transactionsStream) Schema() json.RawMessage { return loadSchema("transactions") }
func (s *transactionsStream) PrimaryKey() [][]string {
	return [][]string{{"account_id"}, {"transaction_key"}}
}
func (s *transactionsStream) CursorField() []string { return []string{"bookingDate"} }

// accountTxPos is one account's entry in the transactions state.
type accountTxPos struct {
	// BookedThrough is the newest booking date read (YYYY-MM-DD).
	BookedThrough string `json:"booked_through,omitempty"`
	// IDsRepeat records that the bank repeated transactionIds once: the
	// bank's ids are never used as a fallback key for the account again.
	IDsRepeat bool `json:"transaction_ids_repeat,omitempty"`
	// KeyRule is the rule the account's keys follow: keyRuleInternal. A
	// state without it was written by a version that keyed by transactionId
	// first, and is migrated (see LegacyKeysThrough).
	KeyRule string `json:"key_rule,omitempty"`
	// LegacyKeysThrough is the booked_through of an account migrated from
	// the transactionId-first rule: rows dated on or before it keep the
	// keys they were delivered under.
	LegacyKeysThrough string `json:"legacy_keys_through,omitempty"`
	// SyncedAt is when a run last read the account (the API's clock).
	SyncedAt string `json:"synced_at"`
	// Replaced are the accounts this one took over in connect --reconnect
	// (a new requisition gives the same bank account a new id), oldest
	// first, each with the booked_through its rows had reached: a row
	// dated on or before it was delivered under that id, and keeps it when
	// the lookback (or a bank sending it late) reads it again, so that no
	// destination holds it twice. Entries stay: one per re-link, every 90
	// to 180 days.
	Replaced []replacedAccount `json:"replaced,omitempty"`
}

// replacedAccount is an account id an account took over, and how far its
// rows were delivered under that id.
type replacedAccount struct {
	ID      string `json:"id"`
	Through string `json:"through"` // YYYY-MM-DD
}

// idOn is the account id a row dated day was delivered under: the oldest
// replaced id whose rows reached that day, else the account's own.
func (p *accountTxPos) idOn(day, own string) string {
	if day == "" {
		return own
	}
	for _, r := range p.Replaced {
		if day <= r.Through {
			return r.ID
		}
	}
	return own
}

// CheckState implements source.StateChecker.
func (s *transactionsStream) CheckState(raw json.RawMessage) error {
	_, err := parseTxState(raw)
	return err
}

func parseTxState(raw json.RawMessage) (*quota.State[accountTxPos, allowance], error) {
	return quota.DecodeState[accountTxPos, allowance]("transactions", raw, func(a *accountTxPos) error {
		if _, err := time.Parse(time.DateOnly, a.BookedThrough); err != nil && a.BookedThrough != "" {
			return fmt.Errorf("booked_through %q is not a date (YYYY-MM-DD)", a.BookedThrough)
		}
		if _, err := time.Parse(time.DateOnly, a.LegacyKeysThrough); err != nil && a.LegacyKeysThrough != "" {
			return fmt.Errorf("legacy_keys_through %q is not a date (YYYY-MM-DD)", a.LegacyKeysThrough)
		}
		for _, r := range a.Replaced {
			if r.ID == "" {
				return errors.New("replaced: an entry without an id")
			}
			if _, err := time.Parse(time.DateOnly, r.Through); err != nil {
				return fmt.Errorf("replaced: through %q is not a date (YYYY-MM-DD)", r.Through)
			}
		}
		if a.KeyRule != "" && a.KeyRule != keyRuleInternal {
			return fmt.Errorf("key_rule %q is not one this version knows (%q); it was written by a newer version: run that one, or start this account again without state", a.KeyRule, keyRuleInternal)
		}
		return nil
	})
}

func (s *transactionsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseTxState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid transactions state")
	}
	if err := s.c.futureStart(ctx); err != nil {
		return err
	}
	refs, listErr := s.c.readable(ctx)
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, s.c.clock.Now(), func(p *accountTxPos) string { return p.SyncedAt }, out.Logger())
	}
	now := httpclient.FormatTime(s.c.clock.Now())
	readErr := quota.ReadAnnouncing(ctx, s.c.quotas, quota.Transactions, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, prev *accountTxPos, announce quota.Announce[accountTxPos]) (*accountTxPos, error) {
		if req.Mode != protocol.Incremental {
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
// returns its new place. announce is nil in a full_refresh read, whose
// state is never emitted.
//
// An answer that repeats transactionIds for the first time sets the
// account's IDsRepeat, which keys its rows without an
// internalTransactionId by their content from then on; an incremental
// read announces it before the rows go out, with the account's progress
// unchanged. A destination has the rows as soon as they are printed,
// before the checkpoint after them (with --parquet-dir, STATEs wait for
// their file), and a run killed in between left the next one no memory of
// the flag: when the bank's next answer no longer repeated ids, the next
// run keyed the same rows by their transactionId, twice in the
// destination. The migration fields need no announcement (the next run
// derives the same ones from the same place), but go with the flag, as the
// rows were keyed under them.
func (s *transactionsStream) readAccount(ctx context.Context, a accountRef, prev *accountTxPos, announce quota.Announce[accountTxPos], out source.Output) (*accountTxPos, error) {
	from := s.c.bookedFrom(ctx, a, prev)
	next := &accountTxPos{KeyRule: keyRuleInternal}
	if prev != nil {
		*next = *prev
		if prev.KeyRule == "" { // written by a version that keyed by transactionId first
			next.KeyRule = keyRuleInternal
			if !prev.IDsRepeat { // those accounts were keyed internal-first already
				next.LegacyKeysThrough = prev.BookedThrough
			}
		}
	}
	today := s.c.clock.Today()
	if from.After(today) {
		quota.WarnFromTheFuture(out.Logger(), a.ID, from, today)
		return next, nil // a state from the future: nothing to read yet
	}
	// The call reaches back for pending rows only when this run reads
	// them: a catalog of transactions alone needs its lookback, no more.
	resp, err := s.c.accountTransactions(ctx, a, txWindow{from: from, pending: s.c.cfg.pending && s.c.Reads(pendingName)})
	if err != nil {
		return nil, err
	}
	rows, err := resp.booked.Take()
	if err != nil {
		return nil, source.SystemErrorf("account %s: its booked transactions: %v", a.ID, err)
	}
	if resp.idsRepeat && !next.IDsRepeat {
		next.IDsRepeat = true
		if announce != nil {
			err := announce(func(cur *accountTxPos) *accountTxPos {
				// The place's progress stays; synced_at is left empty,
				// as the account is being read.
				ann := &accountTxPos{}
				if cur != nil {
					*ann = *cur
				}
				ann.IDsRepeat = true
				ann.KeyRule, ann.LegacyKeysThrough = next.KeyRule, next.LegacyKeysThrough
				ann.SyncedAt = ""
				return ann
			})
			if err != nil {
				return nil, err
			}
		}
	}
	keys := bookedKeys(rows, next.IDsRepeat, next.LegacyKeysThrough)
	fromDay, todayDay := from.Format(time.DateOnly), today.Format(time.DateOnly)
	newest := next.BookedThrough
	for i, r := range rows {
		d := r.keys.date()
		if d != "" && d > newest {
			newest = min(d, todayDay)
		}
		if r.keys.before(fromDay) {
			continue // the shared call reached further back, for pending rows
		}
		rec := jsonrow.With(r.raw, jsonrow.String("account_id", next.idOn(d, a.ID)), jsonrow.String("transaction_key", keys[i]), jsonrow.String("status", "booked"))
		if err := out.Record(rec); err != nil {
			return nil, err
		}
	}
	next.BookedThrough = newest
	return next, nil
}

// bookedFrom is the date_from the booked stream reads an account from,
// given its place in the stream's incremental state (nil: none, or not
// incremental): lookback_days before the newest booking date read, or the
// oldest day allowed.
func (c *conn) bookedFrom(ctx context.Context, a accountRef, prev *accountTxPos) time.Time {
	oldest := c.oldestDay(ctx, a)
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
// share (bookedFrom), where it asked for the whole history every run. A
// state that does not decode keeps nothing: the runtime has refused it
// already. It also notes whether the booked stream is a snapshot this run
// (bookedSnapshot).
func (c *conn) PlanRequests(reqs map[string]source.ReadRequest) {
	c.bookedPlaces = quota.IncrementalPlaces(reqs, transactionsName, parseTxState)
	r, ok := reqs[transactionsName]
	c.bookedSnapshot = ok && r.Mode == protocol.FullRefresh
}

// oldestDay is the first day an account's transactions may be read from:
// start_date (default 90 days back), but never before what the institution
// (transaction_total_days) and the agreement (max_historical_days) allow.
// Both count today as one of their days.
func (c *conn) oldestDay(ctx context.Context, a accountRef) time.Time {
	today := c.clock.Today()
	start := c.cfg.startDate
	if start.IsZero() {
		start = today.AddDate(0, 0, -DefaultStartDays)
	}
	days := c.institutionDays(ctx, a.InstitutionID)
	if a.historyDays > 0 && a.historyDays < days {
		days = a.historyDays
	}
	return later(start, today.AddDate(0, 0, -(days-1)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// txRow is one row of an answer with the fields that key it.
type txRow struct {
	raw  json.RawMessage // a slice of the answer's body
	keys txKeys
	// problem: the row is not a transaction object (see decodeTransactions):
	// notObject, or misfit.
	problem bool
	// notObject: the row is not a JSON object, so no record can hold it.
	notObject bool
	// misfit names a key field whose value is not a string (a number, an
	// object): the row is kept as sent, and keys holds its other fields,
	// the misfit read as absent, unless the same key came again as a
	// string.
	misfit string
}

// The two streams one transactions call serves.
const (
	transactionsName = "transactions"
	pendingName      = "pending_transactions"
)

// txResponse is one account's transactions answer, shared by the booked and
// pending streams: each takes its rows once, and they are freed then.
type txResponse struct {
	booked, pending *source.Part[[]txRow]
	// idsRepeat: some transactionId appears on two booked rows.
	idsRepeat bool
}

// txWindow is what the first stream to need an account's transactions asks
// for.
type txWindow struct {
	from    time.Time
	pending bool // pending rows are wanted as well
}

// pendingDays is how far back the shared call reaches when pending rows are
// wanted: a card hold can stay pending for weeks, while an incremental
// read of booked rows only needs a week or so.
const pendingDays = 30

// accountTransactions makes an account's one transactions call of the run
// and hands the same answer to every stream that asks. The first stream to
// ask sets the window. The booked stream asks from its date_from, widened
// to pendingDays when pending rows are wanted, and filters rows before its
// own date_from itself; the pending stream, not knowing the booked
// stream's state, asks from the oldest allowed day. Either way one call
// serves both streams, whatever the catalog's order.
func (c *conn) accountTransactions(ctx context.Context, a accountRef, w txWindow) (*txResponse, error) {
	return c.transactions.Get(a.ID, func() (*txResponse, error) {
		from := w.from
		if w.pending {
			if p := c.clock.Today().AddDate(0, 0, -pendingDays); p.Before(from) {
				from = later(p, c.oldestDay(ctx, a))
			}
		}
		q := url.Values{"date_from": {from.Format(time.DateOnly)}}
		var booked, pending []txRow
		// The rows are slices of the body, so they keep it; the client
		// reads a body of more than 32 KiB into a buffer of its exact size
		// (httpclient.readBody), so they keep no slack worth a copy.
		err := c.dataCall(ctx, a, quota.Transactions, q, func(b []byte) error {
			var err error
			booked, pending, err = decodeTransactions(b)
			return err
		})
		var skip *quotaSkip
		if errors.As(err, &skip) {
			c.warnSkip(ctx, skip)
		}
		if err != nil {
			return nil, err
		}
		if err := checkRows(ctx, a, "booked", booked); err != nil {
			return nil, err
		}
		if err := checkRows(ctx, a, "pending", pending); err != nil {
			return nil, err
		}
		// The rows are slices of the body. The pending stream may read
		// after the booked one has let go of its rows: its few rows are
		// copied out, so as not to keep the whole body until then.
		pending = jsonrow.Detach(pending, func(r *txRow) *json.RawMessage { return &r.raw })
		return &txResponse{
			booked:    source.NewPart(booked, c.Reads(transactionsName)),
			pending:   source.NewPart(pending, c.cfg.pending && c.Reads(pendingName)),
			idsRepeat: idsRepeat(booked),
		}, nil
	})
}

// checkRows fails an answer with a row that is not a JSON object, which no
// record can hold. A row whose key field is of another type is kept: a
// value no schema expected must not cost the account its rows; a WARN,
// once a stream and field, says what its key and date are taken from.
func checkRows(ctx context.Context, a accountRef, what string, rows []txRow) error {
	for i, r := range rows {
		switch {
		case r.notObject:
			return source.SystemErrorf("account %s: %s row %d of the transactions answer is not a transaction object", a.ID, what, i)
		case r.misfit != "":
			source.WarnOnce(ctx, "misfit-key:"+r.misfit, "a transaction's "+r.misfit+" is not the string the schema declares; the row is kept as sent "+
				"(a typed sink nulls that column and keeps the value in _leftovers) and is keyed and dated by its other fields", "field", r.misfit, "account", a.ID, "list", what, "row", i)
		}
	}
	return nil
}
