package pluggy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// transactionsStream emits every transaction of every account of every
// configured item, from GET /v2/transactions.
//
// Incremental semantics (at least once, per account):
//   - State keeps, per account, the newest createdAt seen. Pluggy back-dates
//     rows it ingests late (a card payment dated at the bill's close), so a
//     high-water mark on the transaction date would lose them forever; the
//     ingestion time does not.
//   - A run asks for rows created since that cursor (less a one-hour overlap
//     for rows still being committed when the last run read), then re-reads
//     rows dated within lookback_days of it by dateFrom (credit_lookback_days
//     for CREDIT accounts, 40 by default: a bill closing re-creates its rows
//     under new ids about every 30 days), because Pluggy updates rows in
//     place and there is no updatedAtFrom filter. The API
//     refuses both filters in one request, hence two queries; a row both
//     return is emitted once.
//   - The lookback is anchored on the saved cursor, not on today, so a state
//     from the future reads nothing.
//   - Rows that vanished from that re-read window since the last run
//     (deleted, or replaced under a new id) get a tombstone record: see
//     tombstones.go.
//   - A first sync, a new account and full_refresh read from start_date.
//   - The state is checkpointed as accounts finish, and always at the end;
//     an account's cursor only moves once all its rows are out.
type transactionsStream struct{ c *conn }

// createdAtOverlap is how far before the saved cursor a run asks for new
// rows: rows of a sync Pluggy was still committing may carry a createdAt
// slightly older than rows already visible.
const createdAtOverlap = time.Hour

// Checkpoints follow every account, except in very large syncs, where
// marshalling the whole state after each of thousands of accounts would cost
// more than the reads: there they are spaced checkpointEvery apart. The
// tombstone windows make a state large sooner (about 40 bytes an id), so a
// state holding more than checkpointSpacedAboveIDs window ids (about 1 MB)
// is spaced too.
const (
	checkpointEvery              = time.Second
	checkpointEachUpTo       int = 1000
	checkpointSpacedAboveIDs     = 25000
)

// announceBytesPerSecond bounds what announcements (announce.go) write,
// each the whole state (about 40 bytes a window id, 100 an account): one
// follows another at the earliest a state's size at this rate later. A
// first sync of thousands of accounts otherwise wrote a number of bytes
// quadratic in their count (each account's announcement holding every
// account before it); this way it writes at most this many a second, and a
// read with new rows waits at most a state's size at this rate (10 ms for
// a state of 1 MB, 25,000 window ids) before they go out, and only when it
// has no older rows to emit meanwhile (announcer.walk). Smaller states,
// as checkpoints, are not spaced (their number stays that of the accounts
// with new rows, whatever the timing).
//
// The rate trades STATE bytes for wall time. Measured on 1,000,000 rows of
// 100 accounts (a 3 MB state; docs/performance.md): at 20 MB/s the read
// took 2.7 s against 1.8 s without announcements, waiting its turn; at
// 100 MB/s 1.9 – 2.1 s, with 150 MB of STATE against 100 MB.
const announceBytesPerSecond = 100 << 20

const pluggyTimeLayout = "2006-01-02T15:04:05.000Z"

func (s *transactionsStream) Name() string            { return "transactions" }
func (s *transactionsStream) Schema() json.RawMessage { return loadSchema("transactions") }
func (s *transactionsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *transactionsStream) CursorField() []string   { return []string{"createdAt"} }

// txState is the stream state. Version lets its shape evolve.
//
// It is encoded by MarshalJSON, byte for byte as encoding/json would encode
// txStateJSON, without building the windows' maps of strings.
type txState struct {
	Version  int
	Accounts map[string]*accountCursor
	// LogPosition is how far into webhook_log the changes are applied
	// (feed.go); empty, and left out of the JSON, without webhook_log.
	LogPosition string
}

// txStateJSON is the state's JSON shape, as decoded.
type txStateJSON struct {
	Version     int                           `json:"version"`
	Accounts    map[string]*accountCursorJSON `json:"accounts"`
	LogPosition string                        `json:"log_position,omitempty"`
}

type accountCursorJSON struct {
	CreatedAt    string   `json:"created_at"`
	SyncedAt     string   `json:"synced_at"`
	Window       txWindow `json:"window,omitempty"`
	Announced    txWindow `json:"announced,omitempty"`
	ReconciledAt string   `json:"reconciled_at,omitempty"`
}

// accountCursor is one account's place.
type accountCursor struct {
	// CreatedAt is the newest createdAt read (RFC 3339, UTC); empty for
	// an account whose first read was cut short (only Announced is set).
	CreatedAt string
	// SyncedAt is when the run that last read the account started. Besides
	// telling users when an account was last read, it makes each account's
	// checkpoint differ from the last, so no two consecutive states are
	// identical with records between them (which the protocol forbids).
	SyncedAt string
	// Window is the ids read dated inside the next run's re-read window, by
	// day, so that run can tell which rows vanished (tombstones.go). Empty
	// in states of older versions and with lookback_days 0, and then left
	// out of the JSON.
	Window idWindow
	// Announced is the ids a read of the account cut short may have
	// emitted that Window does not hold (announce.go): set while the
	// account is read, gone once it has been read to its end. Left out of
	// the JSON when empty.
	Announced idWindow
	// ReconciledAt is when a run last re-read the account's window and
	// diffed its ids (RFC 3339); only kept with webhook_log (feed.go).
	ReconciledAt string

	createdAt    time.Time
	reconciledAt time.Time
	// encoded is the cursor's JSON once encoded: a cursor is not changed
	// once the runtime holds it, and a state is encoded at every
	// checkpoint and announcement, mostly of the same finished accounts.
	encoded []byte
}

const txStateVersion = 1

// CheckState implements source.StateChecker.
func (s *transactionsStream) CheckState(raw json.RawMessage) error {
	_, err := parseTxState(raw)
	return err
}

func parseTxState(raw json.RawMessage) (*txState, error) {
	in := &txStateJSON{Version: txStateVersion}
	if _, err := source.DecodeState("transactions", raw, txStateVersion, in); err != nil {
		return nil, err
	}
	if err := webhook.CheckPosition(in.LogPosition); err != nil {
		return nil, fmt.Errorf("transactions state: log_position: %w", err)
	}
	st := &txState{Version: in.Version, Accounts: make(map[string]*accountCursor, len(in.Accounts)), LogPosition: in.LogPosition}
	for id, a := range in.Accounts {
		if a == nil {
			return nil, fmt.Errorf("transactions state: accounts[%q] is null", id)
		}
		var t time.Time
		var err error
		// An account only announced (its first read was cut short) has
		// no cursor yet.
		if a.CreatedAt != "" || len(a.Announced) == 0 {
			if t, err = time.Parse(time.RFC3339Nano, a.CreatedAt); err != nil {
				return nil, fmt.Errorf("transactions state: accounts[%q].created_at %q is not an RFC 3339 timestamp", id, a.CreatedAt)
			}
		}
		if err := a.Window.check(); err != nil {
			return nil, fmt.Errorf("transactions state: accounts[%q].%w", id, err)
		}
		if err := a.Announced.check(); err != nil {
			return nil, fmt.Errorf("transactions state: accounts[%q].announced: %w", id, err)
		}
		var rt time.Time
		if a.ReconciledAt != "" {
			if rt, err = time.Parse(time.RFC3339Nano, a.ReconciledAt); err != nil {
				return nil, fmt.Errorf("transactions state: accounts[%q].reconciled_at %q is not an RFC 3339 timestamp", id, a.ReconciledAt)
			}
		}
		st.Accounts[id] = &accountCursor{CreatedAt: a.CreatedAt, SyncedAt: a.SyncedAt, Window: a.Window.compact(), Announced: a.Announced.compact(), ReconciledAt: a.ReconciledAt, createdAt: t.UTC(), reconciledAt: rt}
		in.Accounts[id] = nil // done with its map
	}
	return st, nil
}

// MarshalJSON implements json.Marshaler: WriteJSON's bytes, in one buffer
// sized for them up front.
func (st *txState) MarshalJSON() ([]byte, error) {
	members, n := st.members()
	var b bytes.Buffer
	b.Grow(n)
	if err := st.writeJSON(&b, members); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteJSON implements source.JSONWriter: each account is written from its
// cursor's encoding, so that hashing or printing a state of megabytes takes
// no copy of it.
func (st *txState) WriteJSON(w io.Writer) error {
	members, _ := st.members()
	return st.writeJSON(w, members)
}

func (st *txState) writeJSON(w io.Writer, accounts []source.Member) error {
	head := strconv.AppendInt([]byte(`{"version":`), int64(st.Version), 10)
	head = append(head, `,"accounts":`...)
	var tail []byte
	if st.LogPosition != "" {
		tail = jsonrow.AppendString([]byte(`,"log_position":`), st.LogPosition)
	}
	return source.WriteMembers(w, head, accounts, append(tail, '}'))
}

// members returns the accounts in key order (as encoding/json orders a
// map), each cursor encoded (once in its life), and about how long the
// state's JSON is.
func (st *txState) members() ([]source.Member, int) {
	members := make([]source.Member, 0, len(st.Accounts))
	n := 64 + len(st.LogPosition)
	for id, a := range st.Accounts {
		a.encodeOnce()
		members = append(members, source.Member{Key: id, Value: a.encoded})
		n += len(id) + 4 + len(a.encoded)
	}
	slices.SortFunc(members, func(a, b source.Member) int { return strings.Compare(a.Key, b.Key) })
	return members, n
}

var (
	_ source.Snapshotter = (*txState)(nil)
	_ source.JSONWriter  = (*txState)(nil)
)

// Snapshot implements source.Snapshotter: the state as it is now, for the
// runtime to encode when a sink asks for it, perhaps on another goroutine,
// perhaps never (PostgreSQL encodes only the states it commits). Cursors
// do not change once the runtime holds them, so the snapshot shares them;
// each is encoded here, once in its life, so that encoding a snapshot
// only reads them. The runtime calls it with the partitions' lock held.
func (st *txState) Snapshot() json.Marshaler {
	for _, a := range st.Accounts {
		a.encodeOnce()
	}
	return &txState{Version: st.Version, Accounts: maps.Clone(st.Accounts), LogPosition: st.LogPosition}
}

// encodeOnce keeps the cursor's JSON: a cursor is encoded into every
// state after it, mostly unchanged.
func (a *accountCursor) encodeOnce() {
	if a.encoded == nil {
		a.encoded = a.encode(make([]byte, 0, len(a.CreatedAt)+len(a.SyncedAt)+len(a.ReconciledAt)+100+a.Window.jsonSize()+a.Announced.jsonSize()))
	}
}

func (a *accountCursor) encode(b []byte) []byte {
	b = jsonrow.AppendString(append(b, `{"created_at":`...), a.CreatedAt)
	b = jsonrow.AppendString(append(b, `,"synced_at":`...), a.SyncedAt)
	if a.Window.len() > 0 {
		b = a.Window.appendJSON(append(b, `,"window":`...))
	}
	if a.Announced.len() > 0 {
		b = a.Announced.appendJSON(append(b, `,"announced":`...))
	}
	if a.ReconciledAt != "" {
		b = jsonrow.AppendString(append(b, `,"reconciled_at":`...), a.ReconciledAt)
	}
	return append(b, '}')
}

// accountRef is one account to read.
type accountRef struct {
	ItemID, ID string
	// Type is the account's type (BANK, CREDIT): it sets the re-read
	// window (settings.lookbackFor).
	Type string
}

// accountsToRead lists the accounts of every configured item. An item whose
// accounts cannot be listed is reported and the others are still read.
//
// Items are listed max_concurrency at a time, like accounts are read: two
// calls per item one after another would leave a sync of many items waiting
// on latency alone before its first account. The list keeps config order.
func (c *conn) accountsToRead(ctx context.Context) ([]accountRef, error) {
	ids := c.cfg.ItemIDs
	perItem := make([][]accountRef, len(ids))
	err := source.Each(ctx, c.cfg.MaxConcurrency, len(ids), func(ctx context.Context, i int) error {
		itemID := ids[i]
		if _, err := c.item(ctx, itemID); err != nil {
			return err
		}
		accts, err := c.itemAccounts(ctx, itemID)
		if err != nil {
			return err
		}
		var errs []error
		for _, raw := range accts {
			var a account
			if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
				errs = append(errs, source.SystemErrorf("item %s: an account without an id", itemID))
				continue
			}
			perItem[i] = append(perItem[i], accountRef{ItemID: itemID, ID: a.ID, Type: a.Type})
		}
		return errors.Join(errs...)
	})
	var refs []accountRef
	for _, r := range perItem {
		refs = append(refs, r...)
	}
	return refs, err
}

func (s *transactionsStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseTxState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid transactions state")
	}
	feed, err := s.openFeed(ctx, st, out)
	if err != nil {
		return err
	}
	accts, listErr := s.c.accountsToRead(ctx)
	s.reportItemErrors(ctx, feed, out)

	keys := make([]string, len(accts))
	for i, a := range accts {
		keys[i] = a.ID
	}
	if req.Mode == protocol.Incremental && listErr == nil {
		source.DropGone(source.Gone{Attr: "account", Lister: "item of item_ids"}, st.Accounts, listedSet(keys), s.c.start,
			func(c *accountCursor) string { return c.SyncedAt }, out.Logger())
	}
	var lastCheckpoint time.Time
	windowIDs := 0
	for _, a := range st.Accounts {
		windowIDs += a.windowSize()
	}
	// The runtime reads the accounts, records their cursors in st and
	// checkpoints it; accounts that failed keep their previous cursor.
	parts := source.Partitions[accountCursor]{
		Keys: keys, Attr: "account", Cursors: st.Accounts, Limit: s.c.cfg.MaxConcurrency,
		State: func() any { return st },
		Throttle: func(_ string, prev, next *accountCursor) bool {
			windowIDs += next.windowSize() - prev.windowSize()
			if (len(accts) > checkpointEachUpTo || windowIDs > checkpointSpacedAboveIDs) && time.Since(lastCheckpoint) < checkpointEvery {
				return true
			}
			lastCheckpoint = time.Now()
			return false
		},
		AnnounceEvery: func() time.Duration {
			if len(accts) <= checkpointEachUpTo && windowIDs <= checkpointSpacedAboveIDs {
				return 0 // a state under 1 MB: one announcement per account is cheap
			}
			size := 40*windowIDs + 100*len(accts) // about the state's bytes
			return time.Duration(size) * time.Second / announceBytesPerSecond
		},
	}
	readErr := parts.Read(ctx, out, func(ctx context.Context, out source.Output, i int, prev *accountCursor) (*accountCursor, error) {
		a := accts[i]
		if req.Mode != protocol.Incremental {
			prev = nil
		}
		var (
			cur *accountCursor
			err error
		)
		// The account's announcements (announce.go) replace its entry in
		// the state until it is read to its end.
		announce := &partitionAnnouncer{ctx: ctx, out: out, parts: &parts, key: a.ID}
		if feed != nil {
			cur, err = s.readAccountWithFeed(ctx, feed, a, prev, req.Mode == protocol.Incremental, out, announce)
		} else {
			cur, err = s.readAccount(ctx, a, prev, req.Mode == protocol.Incremental, out, announce)
		}
		if err != nil {
			return nil, within("account "+a.ID+" of item "+a.ItemID, err)
		}
		return cur, nil
	})
	// The log position moves only once every account has applied the
	// events up to it, in a checkpoint of its own.
	if feed != nil && listErr == nil && readErr == nil && st.LogPosition != feed.changes.End {
		st.LogPosition = feed.changes.End
		readErr = out.Checkpoint(st)
	}
	return errors.Join(listErr, readErr)
}

// listedSet is the keys a run listed, for source.DropGone.
func listedSet(keys []string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

// readAccount emits one account's rows and returns its new cursor. In
// incremental mode it also tracks the re-read window, announces the ids
// the window will hold before emitting them (announce.go), and reports the
// rows that left the window or a cut-short run's announcement
// (tombstones.go).
func (s *transactionsStream) readAccount(ctx context.Context, a accountRef, prev *accountCursor, incremental bool, out source.Output, announce announceTo) (*accountCursor, error) {
	cfg := s.c.cfg
	start := s.c.start
	var newest time.Time
	hasCursor := prev != nil && prev.CreatedAt != ""
	if hasCursor {
		newest = prev.createdAt
		if newest.After(s.c.now().Add(24 * time.Hour)) {
			// A state written by hand or by a clock gone wrong: nothing
			// is read until then (the acceptance tests' future-state
			// rule), which no error will tell the user. A day's margin:
			// the cursor is Pluggy's clock, not ours.
			out.Logger().Warn("the state says this account was read up to a time more than a day after now; nothing new is read for it until then. If the state was not meant to be in the future, fix or delete its entry (deleting it re-reads from start_date)",
				"account", a.ID, "created_at", prev.CreatedAt)
		}
	}
	lookback := cfg.lookbackFor(a.Type)
	windowFrom := func(cursor time.Time) string { return s.windowFrom(cursor, lookback).Format(time.DateOnly) }
	var win *windowTracker
	var ann *announcer
	if incremental && lookback > 0 {
		win = newWindowTracker()
		win.raise(windowFrom(newest))
		if announce != nil {
			ann = newAnnouncer(prev, announce)
		}
	}
	var seen map[string]struct{}
	if hasCursor || ann != nil && ann.prior.len() > 0 {
		seen = map[string]struct{}{}
	}
	// observe moves the cursor (and the window's floor) to a row's
	// createdAt.
	observe := func(createdAt string) {
		if t, ok := webhook.ParseTime(createdAt); ok { // Z-less too: Pluggy's times are UTC
			// A createdAt ahead of this run's start (clock skew) must not
			// push the cursor past rows not yet ingested.
			if t.After(start) {
				t = start
			}
			if t.After(newest) {
				newest = t
				win.raise(windowFrom(newest))
			}
		}
	}
	// Pluggy leaves the item out of a transaction; every row of the account
	// gets it (the same slice, so no row allocates it).
	joins := []jsonrow.Field{jsonrow.String("itemId", a.ItemID)}
	record := func(raw []byte, k txKeys, observed bool) error {
		if seen != nil {
			if _, dup := seen[k.ID]; dup {
				return nil
			}
			seen[k.ID] = struct{}{}
		}
		if !observed {
			observe(k.CreatedAt)
		}
		win.add(k.ID, k.Date)
		return out.Record(jsonrow.Row{Raw: raw, Fields: joins})
	}
	emit := func(raw []byte, k txKeys) error { return record(raw, k, false) }
	// each walks a query, through the announcer if there is one.
	each := func(q url.Values) error {
		if ann == nil {
			return s.c.client.eachTransaction(ctx, q, emit)
		}
		return ann.walk(ctx, s.c.client, q, win, observe, func(raw []byte, k txKeys) error { return record(raw, k, true) })
	}
	var gone []string
	if !hasCursor {
		q := url.Values{"accountId": {a.ID}, "dateFrom": {cfg.startDate.Format(time.DateOnly)}}
		if err := each(q); err != nil {
			return nil, err
		}
		gone = ann.unconfirmed(seen)
		if newest.IsZero() {
			newest = start.Add(-createdAtOverlap) // nothing yet: new rows are created after now
		}
	} else {
		q := url.Values{"accountId": {a.ID}, "createdAtFrom": {prev.createdAt.Add(-createdAtOverlap).Format(pluggyTimeLayout)}}
		if err := each(q); err != nil {
			return nil, err
		}
		if lookback > 0 {
			from := windowFrom(prev.createdAt)
			q := url.Values{"accountId": {a.ID}, "dateFrom": {from}}
			if err := each(q); err != nil {
				return nil, err
			}
			gone = prev.Window.vanished(from, seen)
			if more := ann.unconfirmed(seen); len(more) > 0 {
				listed := make(map[string]bool, len(gone))
				for _, id := range gone {
					listed[id] = true
				}
				for _, id := range more {
					if !listed[id] {
						gone = append(gone, id)
					}
				}
			}
		}
	}
	if len(gone) > 0 {
		if err := s.reportVanished(ctx, a, gone, seen, emit, out); err != nil {
			return nil, err
		}
	}
	cur := &accountCursor{CreatedAt: newest.UTC().Format(pluggyTimeLayout), SyncedAt: start.Format(time.RFC3339Nano), createdAt: newest}
	if win != nil {
		cur.Window = win.window(windowFrom(newest))
	}
	return cur, nil
}
