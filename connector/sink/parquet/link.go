package parquet

import (
	"encoding/json"
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// link is a stream's Writer as a link of the read's sink chain. Its state
// barrier: a state is passed on only once every row before it is in a
// committed file. Files commit by size (RowsPerFile) and at the end of the
// stream, so a state that arrives while the file in progress has rows is
// held, and passed on when that file commits; a newer state replaces it.
type link struct {
	w    *Writer
	next source.StreamSink
	// uncommitted counts rows written to the file in progress; a state
	// is held back only while it is not zero.
	uncommitted int64
	held        json.RawMessage
}

func (l *link) Record(row jsonrow.Row) error {
	// Rows go on at once: none is covered by a state yet.
	if err := l.next.Record(row); err != nil {
		return err
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

// committed passes on the state held for rows now durable.
func (l *link) committed() error {
	l.uncommitted = 0
	if st := l.held; st != nil {
		l.held = nil
		return l.next.State(st)
	}
	return nil
}

func (l *link) State(state json.RawMessage) error {
	if l.w.err != nil {
		// The sink failed: its last rows are in no file, so no state may
		// go out, even one another worker emits after the failure.
		return l.w.err
	}
	if l.uncommitted > 0 {
		l.held = state
		return nil
	}
	return l.next.State(state)
}

// Announce passes an announcement on before any row after it, so that
// stdout has it before those rows and before any file holding them is
// committed: held back like a state, a run killed between a commit and
// the next state would leave rows in the files that no printed state
// lists. Like any state it may go out only once the rows before it are
// durable, so the file in progress is committed first, early: files are
// cut where a read announces new ids (announce.go says how rarely).
func (l *link) Announce(state json.RawMessage) error {
	if l.w.err != nil {
		return l.w.err
	}
	if l.uncommitted > 0 {
		if err := l.w.Commit(); err != nil {
			return fmt.Errorf("committing %s files: %w", l.w.stream, err)
		}
		if err := l.committed(); err != nil {
			return err
		}
	}
	return l.next.Announce(state)
}

// End commits the file in progress, even when the read failed: its rows
// are complete, and the state that covers them lets the next run skip them.
func (l *link) End(readErr error) error {
	if err := l.w.Commit(); err != nil {
		if readErr == nil {
			readErr = fmt.Errorf("committing %s files: %w", l.w.stream, err)
		}
	} else if err := l.committed(); err != nil && readErr == nil {
		readErr = err
	}
	return l.next.End(readErr)
}
