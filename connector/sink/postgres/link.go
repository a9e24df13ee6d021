package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/internal/memlimit"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Flags is the PostgreSQL sink on read's command line (a source.SinkFlags):
// --postgres URL turns it on.
type Flags struct {
	// Connector is the binary's name: the lock holder's label, and the
	// default schema (without "source-") unless Schema is set.
	Connector string
	// Schema is the default of --postgres-schema when it is not derived
	// from Connector: a binary that was renamed keeps the schema its
	// existing users' tables and states are in.
	Schema string
	// Version is recorded with each stored state.
	Version string
	// Provider is the provider whose data the schema holds (Options.Provider).
	Provider string
	// Views are the connector's views over its tables (reports).
	Views []View

	fs         *pflag.FlagSet
	url        string
	schema     string
	hardDelete bool
}

var _ source.StateKeeper = (*Flags)(nil)

// KeepsStates marks the sink as one that keeps the states with its rows.
func (f *Flags) KeepsStates() {}

// Flag is the flag that turns the sink on.
func (f *Flags) Flag() string { return "postgres" }

// AddFlags registers the PostgreSQL flags on read's flag set.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.url, "postgres", "", "also load every record into PostgreSQL at `URL` (postgres://USER:PASSWORD@HOST:PORT/DB; libpq's PG* variables, e.g. PGPASSWORD, fill what it leaves out); each checkpoint's rows and state commit together, and without --state the run resumes from the state stored there")
	def := f.Schema
	if def == "" {
		def = DefaultSchema(f.Connector)
	}
	fs.StringVar(&f.schema, "postgres-schema", def, "the schema `NAME` the tables go in (needs --postgres)")
	fs.BoolVar(&f.hardDelete, "postgres-hard-delete", false, "delete a row on its tombstone instead of setting _deleted_at (needs --postgres)")
}

// Open connects to the database the flags name, or returns nil without
// --postgres.
func (f *Flags) Open(streams []source.Stream) (source.Sink, error) {
	if f.url == "" {
		switch {
		case f.fs.Changed("postgres"):
			return nil, source.ConfigErrorf("--postgres is empty: give the database URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE")
		case f.fs.Changed("postgres-schema"):
			return nil, source.ConfigErrorf("--postgres-schema needs --postgres")
		case f.hardDelete:
			return nil, source.ConfigErrorf("--postgres-hard-delete needs --postgres")
		}
		return nil, nil
	}
	if f.schema == "" {
		// Given empty (a --postgres-schema "$CUSTOMER" whose variable is
		// unset): loading into the default schema instead would put one
		// customer's rows among another's.
		return nil, source.ConfigErrorf("--postgres-schema is empty: give the schema's name, or leave the flag out for the default")
	}
	url := f.url
	var ss []Stream
	for _, st := range streams {
		ss = append(ss, Stream{Name: st.Name(), Schema: st.Schema(), PrimaryKey: st.PrimaryKey()})
	}
	d, err := Open(context.Background(), Options{URL: url, Schema: f.schema, HardDelete: f.hardDelete,
		Connector: f.Connector, Version: f.Version, Provider: f.Provider, Views: f.Views}, ss)
	if err != nil {
		return nil, err
	}
	return &Sink{d: d, unholdMemory: memlimit.Hold(softLimit)}, nil
}

// softLimit is the floor of the soft memory limit the sink keeps while it
// is open (package memlimit). Under Go's default the heap grows to twice
// what is live, and a read's live heap grows with the transactions state
// (its tombstone windows: about 15 MB live at 1,000,000 Pluggy
// transactions, 6 at 100,000). With a 24 MiB floor, and states streamed
// rather than made whole, a 1M-row load peaked at 45 MB RSS, 44 at 100k
// rows, at the same speed as before both (docs/postgres.md, run I).
const softLimit = 24 << 20

// Sink is the PostgreSQL destination as a link of every stream's chain.
type Sink struct {
	d *Destination
	// unholdMemory restores the memory limit at Close.
	unholdMemory func()
}

var (
	_ source.Sink         = (*Sink)(nil)
	_ source.StateStore   = (*Sink)(nil)
	_ source.StateDropper = (*Sink)(nil)
)

// States are the states stored by the last committed checkpoints: where a
// run without --state resumes.
func (s *Sink) States() map[string]json.RawMessage { return s.d.States() }

// StateSource names where States come from, for the run's log.
func (s *Sink) StateSource() string {
	return fmt.Sprintf("PostgreSQL %s, table %s._state", s.d.shown, ident(s.d.opts.Schema))
}

// DropStateHint is the statement that deletes stream's stored state.
func (s *Sink) DropStateHint(stream string) string {
	return fmt.Sprintf("DELETE FROM %s._state WHERE stream = '%s'", ident(s.d.opts.Schema), strings.ReplaceAll(stream, "'", "''"))
}

// OpenStream starts loading one stream.
func (s *Sink) OpenStream(info source.StreamInfo, next source.StreamSink) (source.StreamSink, error) {
	t, err := s.d.Table(context.Background(), info.Stream.Name(), info.Mode == protocol.Incremental)
	if err != nil {
		return nil, err
	}
	t.enc.warn.Log = info.Log
	if info.Mode == protocol.Incremental && info.Log != nil {
		s.d.logLostRows(info.Log, info.Stream.Name())
	}
	return &link{t: t, next: next}, nil
}

// Close releases the schema's lock and the connection.
func (s *Sink) Close() error {
	s.unholdMemory()
	return s.d.Close()
}

// A state is committed (with the rows before it) once this many rows wait
// or this long has passed since the last commit; in between, a newer state
// replaces the one held. Each commit costs a merge, a write of the whole
// state (megabytes for transactions) and an fsync, so committing at every
// checkpoint of a fast read would make the database, not the API, the
// bottleneck; a crash loses at most this much progress, never consistency.
const (
	commitRows     = 50_000
	commitInterval = 2 * time.Second
)

// link is one stream's table in the chain. Its state barrier: an
// incremental stream's state is committed with the rows before it in one
// transaction and passed on once that has committed, which happens in the
// background while the next rows are read (see Table.Flush): the state
// goes on from the first Record, State or End after; a full-refresh
// stream's rows and its state wait for the end of the stream, where they
// replace the table's rows in one transaction.
type link struct {
	t    *Table
	next source.StreamSink
	// held is the latest state not yet committed, and heldSeq the rows it
	// covers. Its JSON is made only when it is committed, streamed into
	// the database: most states a fast read emits are replaced before the
	// next commit.
	held       source.State
	heldSeq    int64
	lastCommit time.Time
}

func (l *link) Record(row jsonrow.Row) error {
	// Rows go on at once: none is covered by a state yet.
	if err := l.next.Record(row); err != nil {
		return err
	}
	if err := l.passCommitted(); err != nil {
		return err
	}
	return l.t.WriteRow(row)
}

func (l *link) State(state source.State) error {
	if err := l.passCommitted(); err != nil {
		return err
	}
	l.held, l.heldSeq = state, l.t.Seq()
	if !l.t.incremental || l.t.rows < commitRows && time.Since(l.lastCommit) < commitInterval {
		return nil
	}
	return l.commit()
}

// Announce takes an announcement as a state: it is committed with the
// rows before it, so the table never holds a row that its committed state
// (the one a run without --state resumes from) neither covers nor lists.
// It is not committed at once: a commit per announcement would cost a
// merge and a write of the whole state per account. So with --postgres,
// stdout gets an announcement at the database's pace, after rows it lists.
func (l *link) Announce(a source.Announcement) error { return l.State(a.State) }

// passCommitted passes on the state of a checkpoint whose merge has
// committed since the last call, if any.
func (l *link) passCommitted() error {
	state, err := l.t.Committed()
	if err != nil || state.IsZero() {
		return err
	}
	return l.next.State(state)
}

// commit hands the held state and the rows it covers to the background
// merge, which streams the state into the database; the state goes on
// once that has committed. The merge before it commits first and its
// state goes on (Flush would wait for it anyway).
func (l *link) commit() error {
	if err := l.drain(); err != nil {
		return err
	}
	if err := l.t.Flush(l.held, l.heldSeq); err != nil {
		return err
	}
	l.held, l.lastCommit = source.State{}, time.Now()
	return l.passCommitted()
}

// drain waits for the merge in flight and passes its state on.
func (l *link) drain() error {
	state, err := l.t.Wait()
	if err != nil || state.IsZero() {
		return err
	}
	return l.next.State(state)
}

// End finishes the stream. An incremental stream commits its held state
// with the rows it covers, even when the read failed (those rows are
// complete; the ones after it are dropped and read again next run). A
// full-refresh stream that read to its end replaces the table's rows; one
// that failed leaves the table as it was, but for one read whole but for
// some parts (a *source.PartialSnapshot), whose rows replace those of the
// parts it read.
func (l *link) End(readErr error) error {
	var err error
	var notRead *source.NotReadError
	partial := source.PartialSnapshotOf(readErr)
	if partial != nil && (l.t.incremental || !l.t.KeepsParts(partial.Field)) {
		partial = nil
	}
	switch {
	case !l.t.incremental && readErr != nil && partial != nil:
		// Read whole but for some parts: their rows stay, every other
		// part's are replaced; as a failed stream, no state is stored.
		err = l.t.EndKeeping(partial.Field, partial.Missing)
	case !l.t.incremental && readErr != nil:
		l.t.Abort()
		if errors.As(readErr, &notRead) && !l.held.IsZero() {
			// The config turned the stream off: the old set stays,
			// and its state goes on as after a read.
			err = l.next.State(l.held)
		}
	case !l.t.incremental:
		if err = l.t.End(l.held); err == nil && !l.held.IsZero() {
			err = l.next.State(l.held)
		}
	case readErr != nil:
		if !l.held.IsZero() {
			err = l.commit()
		}
		l.t.Abort()
		if derr := l.drain(); err == nil {
			err = derr
		}
	default:
		// Rows after the last state (a stream that ended without a final
		// checkpoint) are complete too: commit them all.
		l.heldSeq = l.t.Seq()
		if !l.held.IsZero() || l.t.Pending() {
			err = l.commit()
		}
		if derr := l.drain(); err == nil {
			err = derr
		}
	}
	switch {
	case readErr == nil || notRead != nil && err != nil:
		readErr = err
	case partial != nil && err != nil:
		// The parts read are not in the table: the stream's error says
		// so beside the parts it lacked.
		readErr = errors.Join(readErr, err)
	}
	return l.next.End(readErr)
}
