package pluggy

import (
	"context"
	"net/url"
	"slices"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Announced ids: no ghost rows after a crash.
//
// A run emits an account's rows before the checkpoint that records the
// account's new window (tombstones.go), and outputs keep rows that no state
// covers yet: an Airbyte destination keeps the records it received after
// the last STATE, Parquet commits files by size. A run killed in between
// left rows in the outputs that no state listed: the next run resumed from
// the last state, which had the account's old window (or, on a first sync,
// none), so a row of those that Pluggy deleted meanwhile never got its
// tombstone and stayed live downstream for ever.
//
// So the ids of rows that a finished read would put in the window are
// announced in the state before any output has them:
//
//   - Before a page's rows are emitted, the ids of those dated on or after
//     the window's floor (rows dated earlier can never be in the window, so
//     a finished read would not detect their deletion either), and neither
//     in the previous window nor already announced, are added to the
//     account's "announced" list, and the state goes out as an announcement
//     (source.Output.Announce): stdout prints it before the page's rows, the
//     Parquet sink passes it on before any file holding them is committed,
//     PostgreSQL commits it with them. A page of known rows, or of old rows,
//     announces nothing; a first sync, whose pages come newest first,
//     announces its first pages only.
//   - The announcement keeps the account's cursor as it was, so a run
//     resuming from it reads the account again as before; when the account
//     is read to its end, its checkpoint replaces the announcement with the
//     new window, which holds every announced row still dated inside it.
//   - A run that finds an announcement (its account was cut short) checks
//     it like a window: announced ids its read did not return are looked up
//     (ids=), and those Pluggy no longer serves get a tombstone. Until the
//     account's read ends, its own announcements keep those ids too.
//   - Bounded as windows are: at most maxWindowIDs ids an account, the
//     newest kept.
//
// So a run killed at any point leaves, for every row the outputs hold, a
// last state that covers it as a finished read would (its window) or lists
// it (announced): its deletion is reported exactly as if the run had
// finished.

// announceBatchRows is how many rows with new ids a read may hold back to
// announce them together: a first sync's window is its first pages, and
// one announcement for them all, rather than one a page, keeps the number
// of STATE messages (each the whole state, megabytes for thousands of
// accounts) near one an account. About 2 MB of pages per worker at most.
const announceBatchRows = 2000

// announceTo is where one account's announcements go: the stream's
// partitions (partitionAnnouncer), which record them in the account's
// cursor and emit the state.
type announceTo interface {
	// Announce records ids and emits the state as soon as the spacing of
	// announcements allows (source.Partitions.Announce).
	Announce(ids idWindow) error
	// TryAnnounce records ids and emits the state only if the spacing
	// allows it now, and reports whether it did.
	TryAnnounce(ids idWindow) (bool, error)
	// Announced reports whether a state emitted since the last
	// TryAnnounce holds what it recorded (another account's announcement).
	Announced() bool
}

// partitionAnnouncer is announceTo for one account of the stream's
// partitions: an announcement replaces the account's entry in the state
// (its progress kept, its announced ids replaced) until it is read to its
// end.
type partitionAnnouncer struct {
	ctx   context.Context
	out   source.Output
	parts *source.Partitions[accountCursor]
	key   string
}

func withAnnounced(ids idWindow) func(*accountCursor) *accountCursor {
	return func(c *accountCursor) *accountCursor {
		next := &accountCursor{}
		if c != nil {
			*next = *c
		}
		next.Announced, next.encoded = ids, nil
		return next
	}
}

func (p *partitionAnnouncer) Announce(ids idWindow) error {
	return p.parts.Announce(p.ctx, p.out, p.key, withAnnounced(ids))
}

func (p *partitionAnnouncer) TryAnnounce(ids idWindow) (bool, error) {
	return p.parts.TryAnnounce(p.out, p.key, withAnnounced(ids))
}

func (p *partitionAnnouncer) Announced() bool { return p.parts.Announced(p.key) }

// announcer collects the ids of one account's read that the state must
// list before they are emitted, and sends the account's announcement when
// a page adds some.
type announcer struct {
	// prior is the announcement a cut-short run left: kept whole until the
	// read ends and checks it.
	prior idWindow
	// known are the ids the state lists already: the previous window's and
	// prior's, as text.
	known map[string]struct{}
	// ids are those collected by this run, by day; unsent are those of
	// them no emitted announcement holds yet.
	ids    map[string]int32
	unsent map[string]struct{}
	// tried is how many of unsent a refused TryAnnounce recorded.
	tried int
	// send replaces the account's announcement in the state and emits it.
	send announceTo
}

func newAnnouncer(prev *accountCursor, send announceTo) *announcer {
	n := &announcer{known: map[string]struct{}{}, ids: map[string]int32{}, unsent: map[string]struct{}{}, send: send}
	if prev == nil {
		return n
	}
	n.prior = prev.Announced
	for _, w := range []idWindow{prev.Window, prev.Announced} {
		w.each(func(_ int32, uuid []byte, other string) {
			if uuid != nil {
				other = string(uuid)
			}
			n.known[other] = struct{}{}
		})
	}
	return n
}

// collect notes the ids of rows the state must list before they go out,
// given the window's floor (days since 1970-01-01) once their createdAt
// values are taken into account, and reports whether rows have ids no
// emitted announcement holds yet (new ones, or ones a page before noted):
// such rows wait for the next announcement.
func (n *announcer) collect(rows []txRow, floor int32) bool {
	wait := false
	for i := range rows {
		r := &rows[i]
		d, ok := dayNumber(r.Date)
		if !ok || d < floor {
			continue
		}
		if _, ok := n.known[r.ID]; ok {
			continue
		}
		if _, ok := n.ids[r.ID]; !ok {
			n.ids[r.ID] = d
			n.unsent[r.ID] = struct{}{}
		}
		if _, ok := n.unsent[r.ID]; ok {
			wait = true
		}
	}
	return wait
}

// flush announces what collect noted since the last announcement, and
// reports whether nothing is left unannounced. Without wait it announces
// only if the spacing of announcements allows it now.
func (n *announcer) flush(floor int32, wait bool) (bool, error) {
	if len(n.unsent) == 0 {
		return true, nil
	}
	var sent bool
	var err error
	switch {
	case n.tried == len(n.unsent) && n.send.Announced():
		sent = true // another account's announcement held what was recorded
	case wait:
		sent, err = true, n.send.Announce(n.window(floor))
	default:
		sent, err = n.send.TryAnnounce(n.window(floor))
		n.tried = len(n.unsent)
	}
	if sent && err == nil {
		clear(n.unsent)
		n.tried = 0
	}
	return sent, err
}

// window is the announcement: prior, plus the ids of this run dated on or
// after floor (the others are forgotten: the floor only rises), the newest
// maxWindowIDs.
func (n *announcer) window(floor int32) idWindow {
	var w idWindow
	w.uuids = slices.Grow(slices.Clone(n.prior.uuids), len(n.ids))
	w.other = slices.Clone(n.prior.other)
	for id, d := range n.ids {
		if d < floor {
			delete(n.ids, id)
			continue
		}
		w.add(d, id)
	}
	w.sort()
	if w.len() > maxWindowIDs {
		w.keepNewest(maxWindowIDs)
	}
	return w
}

// unconfirmed lists the prior announcement's ids the read did not return.
func (n *announcer) unconfirmed(seen map[string]struct{}) []string {
	if n == nil {
		return nil
	}
	return n.prior.vanished("", seen)
}

// walk walks query q of the announcer's account: every row's createdAt
// goes to observe (which raises win's floor) as its page arrives, then the
// row to record. Pages with new ids to announce wait (up to
// announceBatchRows rows) until a page without any, or the end of the
// query: one announcement then covers them all before they go out. A walk
// that fails emits none of the rows waiting, so they need no announcement.
//
// Announcements are spaced when the state is large (source.Partitions'
// AnnounceEvery), and a read does not wait for its turn while it has other
// rows to emit: a page that needs no announcement (rows older than the
// window, or known) tries to announce for the waiting ones and goes out
// at once either way, so a first sync keeps reading its older pages while
// its first ones wait. It waits only holding announceBatchRows rows, or at
// the end of the query. The order of rows within a query does not matter
// to anything downstream (each id comes once; the checkpoint follows them
// all).
func (n *announcer) walk(ctx context.Context, c *Client, q url.Values, win *windowTracker, observe func(createdAt string), record func(raw []byte, k txKeys) error) error {
	var waiting [][]txRow
	held := 0
	emit := func(rows []txRow) error {
		for i := range rows {
			if err := record(rows[i].Raw, rows[i].txKeys); err != nil {
				return err
			}
		}
		return nil
	}
	flush := func(wait bool) error {
		if sent, err := n.flush(win.floor, wait); err != nil || !sent {
			return err
		}
		for _, rows := range waiting {
			if err := emit(rows); err != nil {
				return err
			}
		}
		waiting, held = waiting[:0], 0
		return nil
	}
	err := c.eachTransactionPage(ctx, q, func(rows []txRow) error {
		for i := range rows {
			observe(rows[i].CreatedAt)
		}
		if !n.collect(rows, win.floor) {
			if len(waiting) > 0 {
				if err := flush(false); err != nil {
					return err
				}
			}
			return emit(rows)
		}
		// The page's memory goes to a later page once this returns.
		waiting = append(waiting, detachRows(rows))
		if held += len(rows); held < announceBatchRows {
			return nil
		}
		return flush(true)
	})
	if err != nil {
		return err
	}
	return flush(true)
}
