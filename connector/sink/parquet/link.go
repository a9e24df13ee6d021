package parquet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// link is a stream's Writer as a link of the read's sink chain. Its state
// barrier: a state is passed on only once every row before it is in a
// committed file. Files commit by size (RowsPerFile) and at the end of the
// stream, so a state that arrives while the file in progress has rows is
// held, and passed on when that file commits; a newer state replaces it.
//
// Announcements must also reach the outputs before the rows after them
// (see source.StreamSink.Announce). When the links after this one keep
// rows (stdout prints records, or a database follows), an announcement is
// passed on at once, after committing the file in progress. When they do
// not (--no-records, no other sink), and the stream can merge states
// (source.StateMerger), an announcement is held like any state; before a
// file commits, the link passes on the last state it passed on with every
// id the held state lists added (merge), so the printed state lists every
// row the file holds without claiming what it does not: files are cut by
// size only, not at every account.
type link struct {
	w    *Writer
	next source.StreamSink
	log  *slog.Logger // the stream's; nil discards
	// uncommitted counts rows written to the file in progress; a state
	// is held back only while it is not zero.
	uncommitted int64
	held        source.State
	// merge is the stream's MergeState when announcements may be held,
	// else nil.
	merge func(released, state source.State) (source.State, error)
	// listed says the last state passed on lists every row written to
	// the file in progress: a commit needs no merged state first.
	listed bool
	// released is the last state passed on (the run's input state before
	// any): where a run killed now resumes.
	released source.State
	// listing is the SHA-256 of the merged state passed on last, while no
	// state has been passed on since (listingOut). The held state that
	// follows it can be the same (a state that claims no progress beyond
	// released), and two identical states may not go out with records
	// between them. A hash, as a state can weigh megabytes; taken once a
	// file, not for every state passed on.
	listing    [sha256.Size]byte
	listingOut bool
}

func newLink(w *Writer, info source.StreamInfo, next source.StreamSink) *link {
	l := &link{w: w, next: next, log: info.Log, released: source.StateOf(info.State), listed: true}
	if m, ok := info.Stream.(source.StateMerger); ok && !info.NextKeepsRows {
		l.merge = m.MergeState
	}
	return l
}

func (l *link) Record(row jsonrow.Row) error {
	// Rows go on at once: none is covered by a state yet.
	if err := l.next.Record(row); err != nil {
		return err
	}
	if l.w.commitsWith() {
		// This row completes the file: its rows must be listed first.
		if err := l.list(); err != nil {
			return err
		}
	}
	committed, err := l.w.WriteRow(row)
	if err != nil {
		return fmt.Errorf("writing %s record to the sink: %w", l.w.stream, err)
	}
	l.uncommitted++
	if committed {
		return l.committed()
	}
	return nil
}

// list passes on, before a commit, a state listing every row of the file
// in progress, when the last one passed on may not: the held state merged
// into the last state passed on.
func (l *link) list() error {
	if l.listed || l.held.IsZero() || l.merge == nil {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("listing the %s ids of the file in progress before it is committed: %w", l.w.stream, err)
	}
	merged, err := l.merge(l.released, l.held)
	if err != nil {
		return fail(err)
	}
	l.listed = true
	if merged == l.released {
		return nil // the last state passed on lists them all already
	}
	if l.listing, err = merged.Sum(); err != nil {
		return fail(err)
	}
	l.listingOut = true
	return l.next.Announce(source.Announcement{State: merged, Listing: true})
}

// commit lists the rows of the file in progress if needed, then commits
// it.
func (l *link) commit() error {
	if err := l.list(); err != nil {
		return err
	}
	if err := l.w.Commit(); err != nil {
		return fmt.Errorf("committing %s files: %w", l.w.stream, err)
	}
	return nil
}

// committed passes on the state held for rows now durable.
func (l *link) committed() error {
	l.uncommitted = 0
	if st := l.held; !st.IsZero() {
		l.held = source.State{}
		return l.pass(st, nil)
	}
	return nil
}

// pass passes on a state whose rows are durable (as an announcement when
// a is not nil), unless it repeats the merged state passed on just before.
func (l *link) pass(st source.State, a *source.Announcement) error {
	l.released, l.listed = st, true
	if l.listingOut {
		l.listingOut = false
		sum, err := st.Sum()
		if err != nil {
			return fmt.Errorf("encoding %s state: %w", l.w.stream, err)
		}
		if sum == l.listing {
			return nil // the merged state before it said the same
		}
	}
	if a != nil {
		return l.next.Announce(*a)
	}
	return l.next.State(st)
}

func (l *link) State(state source.State) error {
	if l.w.err != nil {
		// The sink failed: its last rows are in no file, so no state may
		// go out, even one another worker emits after the failure.
		return l.w.err
	}
	if l.uncommitted > 0 {
		l.held = state
		return nil
	}
	return l.pass(state, nil)
}

// Announce passes an announcement on before any row after it, so that
// stdout has it before those rows and before any file holding them is
// committed: held back like a state, a run killed between a commit and
// the next state would leave rows in the files that no printed state
// lists. Like any state it may go out only once the rows before it are
// durable, so the file in progress is committed first, early, unless the
// link may hold it (merge): then it is held like a state, and the rows
// after it are listed before their file commits.
func (l *link) Announce(a source.Announcement) error {
	if l.w.err != nil {
		return l.w.err
	}
	if l.uncommitted > 0 && l.merge != nil {
		l.held, l.listed = a.State, false
		return nil
	}
	if l.uncommitted > 0 {
		if err := l.commit(); err != nil {
			return err
		}
		if err := l.committed(); err != nil {
			return err
		}
	}
	return l.pass(a.State, &a)
}

// End commits the file in progress, even when the read failed: its rows
// are complete, and the state that covers them lets the next run skip them.
//
// A full-refresh stream's files are its snapshot instead, published
// together only when it was read to its end (one without a row gets an
// empty file: Writer.EndSnapshot), and removed when it was not: its next
// run reads it whole again, and until then the last complete snapshot
// stays the newest. A read whole but for some parts (a
// *source.PartialSnapshot: accounts whose call failed) is published with
// the previous snapshot's rows of those parts carried over (carryOver), so
// that the newest run's files hold this read's rows of every other part;
// where they cannot be carried over (the previous files were written from
// another schema), the snapshot is discarded as after any failed read.
func (l *link) End(readErr error) error {
	partial := source.PartialSnapshotOf(readErr)
	if !l.w.fullRefresh {
		partial = nil
	}
	if partial != nil {
		if err := l.w.carryOver(partial.Field, partial.Missing); err != nil {
			if l.log != nil {
				l.log.Warn(fmt.Sprintf("parquet: the previous snapshot's rows of the parts this read lacked (%s) cannot be kept in this run's files, so the previous snapshot stays the newest, whole: %v", partial.Field, err),
					slog.String("folder", l.w.dir))
			}
			partial = nil
		}
	}
	if l.w.fullRefresh && readErr != nil && partial == nil {
		l.w.DiscardSnapshot()
		return l.next.End(readErr)
	}
	if readErr == nil || partial != nil {
		if err := l.w.EndSnapshot(); err != nil {
			return l.next.End(errors.Join(readErr, fmt.Errorf("committing %s files: %w", l.w.stream, err)))
		}
	}
	err := l.commit()
	if err == nil {
		if err = l.w.PublishSnapshot(); err != nil {
			err = fmt.Errorf("publishing the %s snapshot: %w", l.w.stream, err)
		}
	}
	if err == nil && partial == nil {
		err = l.committed() // a failed stream's state never goes on
	}
	switch {
	case readErr == nil:
		readErr = err
	case partial != nil && err != nil:
		readErr = errors.Join(readErr, err)
	}
	return l.next.End(readErr)
}
