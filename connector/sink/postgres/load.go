package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Table is one stream's loading into its table. Its methods are called from
// one goroutine at a time.
//
// An incremental stream's checkpoints are pipelined over the destination's
// two connections and the stream's two staging tables: the rows of one
// checkpoint are copied (load) into one staging table while the previous
// checkpoint's rows are merged (conn) from the other, in a transaction
// that also stores that checkpoint's state and empties its staging table.
// The staging tables only carry rows on their way in: a row counts once a
// merge has committed it with the state that covers it, so exactly-once
// rests on the merge's transaction alone, as with a single connection.
type Table struct {
	d           *Destination
	t           *table
	incremental bool
	enc         *encoder
	ctx         context.Context

	stage      int // the staging table rows are copied into
	pw         *io.PipeWriter
	bw         *bufio.Writer
	errc       chan error
	tuple      []byte
	rows       int64 // rows copied into the staging table since its last merge
	tombstones int64 // of which tombstones

	merging   *merge       // the merge in flight on d.conn, if any
	committed source.State // the latest state committed and not yet collected
	err       error        // a merge or a COPY failed: every later call fails with it
}

// merge is a checkpoint being merged in the background.
type merge struct {
	state source.State
	done  chan struct{} // closed once err is set
	err   error
}

// Table starts loading stream name: incremental (merged by key at each
// Commit) or full refresh (replacing the table's rows at End). ctx bounds
// the stream's statements.
func (d *Destination) Table(ctx context.Context, name string, incremental bool) (*Table, error) {
	t, ok := d.tables[name]
	if !ok {
		return nil, fmt.Errorf("postgres: stream %s was not opened", name)
	}
	if d.active != nil {
		d.active.Abort()
	}
	d.active = &Table{d: d, t: t, incremental: incremental, enc: newEncoder(t, d.started), ctx: ctx}
	return d.active, nil
}

// copyBuffer is how much of the COPY stream is built before it is handed
// to the server; the server parses one chunk while the next is built.
const copyBuffer = 256 << 10

// Write adds a record (a JSON object) to the current checkpoint.
func (w *Table) Write(rec []byte) error { return w.WriteRow(jsonrow.Of(rec)) }

// WriteRow adds a row to the current checkpoint. Rows stream to the server
// through COPY into a staging table as they come: memory does not grow
// with the checkpoint.
func (w *Table) WriteRow(row jsonrow.Row) error {
	if w.err != nil {
		return w.err
	}
	tuple, err := w.enc.encode(w.tuple[:0], row)
	w.tuple = tuple
	if err != nil {
		return fmt.Errorf("stream %s: %w", w.t.name, err)
	}
	if w.pw == nil {
		w.startCopy()
		if _, err := w.bw.Write(copyHeader); err != nil {
			return w.copyFailed(err)
		}
	}
	if _, err := w.bw.Write(tuple); err != nil {
		return w.copyFailed(err)
	}
	w.rows++
	if w.enc.del != nil {
		w.tombstones++
	}
	return nil
}

// startCopy begins the checkpoint's COPY into the staging table. It runs
// on its own (its own transaction): the staging table holds nothing that
// counts until a merge takes it.
func (w *Table) startCopy() {
	pr, pw := io.Pipe()
	w.pw = pw
	w.bw = bufio.NewWriterSize(pw, copyBuffer)
	w.errc = make(chan error, 1)
	conn := w.d.load.PgConn()
	sql := w.t.copySQL(w.stage)
	go func() {
		_, err := conn.CopyFrom(w.ctx, pr, sql)
		pr.CloseWithError(errOr(err, io.ErrClosedPipe))
		w.errc <- err
	}()
}

func errOr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// endCopy finishes the COPY in progress, if any: its rows are then in the
// staging table.
func (w *Table) endCopy() error {
	if w.pw == nil {
		return nil
	}
	_, ferr := w.bw.Write(copyTrailer)
	if ferr == nil {
		ferr = w.bw.Flush()
	}
	w.pw.Close()
	err := <-w.errc
	w.pw, w.bw = nil, nil
	if err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return w.copyFailed(err)
	}
	return nil
}

func (w *Table) copyFailed(err error) error {
	if w.pw != nil {
		w.pw.CloseWithError(err)
		if cerr := <-w.errc; cerr != nil {
			err = cerr
		}
		w.pw, w.bw = nil, nil
	}
	w.rows, w.tombstones = 0, 0
	// The COPY took its rows with it, those of the state held for the
	// next merge among them: every later call fails, so that no state
	// is committed, or passed on, that would cover rows the table never
	// got (the stream's end committed the held state with no rows, and
	// the next run, resuming from it, never loaded them).
	w.err = w.d.sqlError(err, "loading rows of "+w.t.name)
	return w.err
}

// Commit makes the checkpoint durable: the rows written since the last
// commit are merged into the table and state is stored as the stream's, in
// one transaction. When it returns nil both are committed; on error
// neither is. A full-refresh stream's rows wait for End.
func (w *Table) Commit(state json.RawMessage) error { return w.CommitUpTo(state, w.enc.seq) }

// Seq is the number of rows written so far: a state taken now covers the
// rows up to Seq.
func (w *Table) Seq() int64 { return w.enc.seq }

// CommitUpTo is Commit of the rows up to seq only, those state covers; the
// rows written after it are dropped (the stream failed after its last
// state, and the next run reads them again).
func (w *Table) CommitUpTo(state json.RawMessage, seq int64) error {
	return w.commitUpTo(source.StateOf(state), seq)
}

func (w *Table) commitUpTo(state source.State, seq int64) error {
	if err := w.Flush(state, seq); err != nil {
		return err
	}
	err := w.wait()
	w.committed = source.State{}
	return err
}

// Flush hands a checkpoint to the background: it ends the COPY of the rows
// written since the last one, waits for the previous checkpoint's merge,
// and starts merging this one's rows up to seq (those state covers; the
// rows after it are dropped) with state, in one transaction, while the
// next rows are copied into the other staging table. Committed and Wait
// say when it has committed. A full-refresh stream's rows wait for End.
func (w *Table) Flush(state source.State, seq int64) error {
	if !w.incremental {
		return nil
	}
	if err := w.endCopy(); err != nil {
		return err
	}
	if err := w.wait(); err != nil {
		return err
	}
	if w.err != nil {
		return w.err // a COPY failed while the merge before it ran
	}
	m := &merge{state: state, done: make(chan struct{})}
	stage, rows, tombstones := w.stage, w.rows, w.tombstones
	w.merging, w.stage, w.rows, w.tombstones = m, 1-w.stage, 0, 0
	go func() {
		defer close(m.done)
		m.err = w.apply(stage, rows, tombstones, seq, state)
	}()
	return nil
}

// apply is a checkpoint's transaction on the destination's main
// connection: the merge of staging table stage's rows up to seq, the
// stream's state, and the staging table emptied for the checkpoint after
// next. It runs on its own goroutine and touches nothing of w that the
// stream's goroutine changes.
func (w *Table) apply(stage int, rows, tombstones, seq int64, state source.State) error {
	tx, err := w.d.conn.Begin(w.ctx)
	if err != nil {
		return w.d.sqlError(err, "starting a transaction for "+w.t.name)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // a no-op once committed
	if rows > 0 {
		if err := w.merge(tx, stage, tombstones, seq); err != nil {
			return w.d.sqlError(err, "merging rows into "+w.t.qname())
		}
		if _, err := tx.Exec(w.ctx, "TRUNCATE "+w.t.stageName(stage)); err != nil {
			return w.d.sqlError(err, "emptying the staging table of "+w.t.name)
		}
	}
	return w.commitState(tx, state)
}

// merge applies staging table stage's rows up to seq. Most checkpoints
// carry each key once, so the merge first takes the rows as they are,
// which spares sorting them; if PostgreSQL answers that a key came twice
// (21000), it rolls back to before that attempt and merges each key's last
// version instead. Tombstones always take the second way. On a first sync
// (the table was empty), the rows are first tried as a plain INSERT,
// cheaper than the upsert, until one meets a key already there (23505).
func (w *Table) merge(tx pgx.Tx, stage int, tombstones, seq int64) error {
	hard := w.d.opts.HardDelete
	if tombstones == 0 {
		if _, err := tx.Exec(w.ctx, "SAVEPOINT merge"); err != nil {
			return err
		}
		attempts := []struct{ sql, code string }{{w.t.mergeSQL(stage, hard, false, true)[0], "21000"}}
		if w.t.empty {
			attempts = append([]struct{ sql, code string }{{w.t.insertSQL(stage), "23505"}}, attempts...)
		}
		for _, a := range attempts {
			_, err := tx.Exec(w.ctx, a.sql, seq)
			var pg *pgconn.PgError
			if !errors.As(err, &pg) || pg.Code != a.code {
				return err
			}
			if _, err := tx.Exec(w.ctx, "ROLLBACK TO SAVEPOINT merge"); err != nil {
				return err
			}
			if a.code == "23505" {
				w.t.empty = false
			}
		}
	}
	for _, q := range w.t.mergeSQL(stage, hard, tombstones > 0, false) {
		if _, err := tx.Exec(w.ctx, q, seq); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for the merge in flight, if any, and keeps its state as the
// latest committed one; a merge that failed fails the stream.
func (w *Table) wait() error {
	m := w.merging
	if m == nil {
		return w.err
	}
	<-m.done
	w.merging = nil
	if m.err != nil {
		w.err = m.err
		return m.err
	}
	if !m.state.IsZero() {
		w.committed = m.state
	}
	return nil
}

// Committed returns, without waiting, the latest state committed since the
// last call (the zero State if none), or the error of a merge that failed.
func (w *Table) Committed() (source.State, error) {
	if m := w.merging; m != nil {
		select {
		case <-m.done:
			if err := w.wait(); err != nil {
				return source.State{}, err
			}
		default:
		}
	}
	state := w.committed
	w.committed = source.State{}
	return state, w.err
}

// Wait waits for the merge in flight and returns the latest state
// committed since the last call to Committed or Wait (the zero State if
// none).
func (w *Table) Wait() (source.State, error) {
	if err := w.wait(); err != nil {
		return source.State{}, err
	}
	state := w.committed
	w.committed = source.State{}
	return state, nil
}

// End ends a stream that read to its end. A full-refresh stream's rows
// replace the table's contents, with its final state, in one transaction;
// an incremental stream commits like Commit.
func (w *Table) End(state source.State) error {
	if w.incremental {
		return w.commitUpTo(state, w.enc.seq)
	}
	return w.replace(state, "", nil)
}

// KeepsParts reports whether the table has a text column field, by which
// EndKeeping can tell the parts of a snapshot apart.
func (w *Table) KeepsParts(field string) bool {
	i, ok := w.t.byName[field]
	return ok && w.t.cols[i].sqlType == "text"
}

// EndKeeping ends a full-refresh stream read whole but for the parts keep
// (a *source.PartialSnapshot's Missing): the table's rows whose column
// field holds one of them stay, and the read's rows replace every other
// row, in one transaction. No state is stored: the stream failed.
func (w *Table) EndKeeping(field string, keep []string) error {
	if keep == nil {
		keep = []string{} // a NULL array would keep every row
	}
	return w.replace(source.State{}, field, keep)
}

// replace makes the read's rows the table's, but for the rows whose
// column keepCol (when not "") holds one of keep, and stores state.
func (w *Table) replace(state source.State, keepCol string, keep []string) error {
	if err := w.endCopy(); err != nil {
		return err
	}
	if err := w.wait(); err != nil {
		return err
	}
	tx, err := w.d.conn.Begin(w.ctx)
	if err != nil {
		return w.d.sqlError(err, "starting a transaction for "+w.t.name)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // a no-op once committed
	stmts := append(w.t.replaceSQL(w.stage, keepCol), "TRUNCATE "+w.t.stageName(w.stage))
	for i, q := range stmts {
		var args []any
		if i == 1 {
			args = append(args, w.enc.seq)
		}
		if keepCol != "" && i < 2 {
			args = append(args, keep)
		}
		if _, err := tx.Exec(w.ctx, q, args...); err != nil {
			var pg *pgconn.PgError
			if i == 0 && errors.As(err, &pg) && pg.Code == "0A000" {
				// PostgreSQL refuses to TRUNCATE a table that a foreign
				// key references (the user's, made since): name it.
				_ = tx.Rollback(w.ctx)
				if ferr := w.referencedError(err); ferr != nil {
					return ferr
				}
			}
			return w.d.sqlError(err, "replacing the rows of "+w.t.qname())
		}
	}
	w.rows, w.tombstones = 0, 0
	return w.commitState(tx, state)
}

// commitState stores state (unless zero) and commits tx.
//
// The state is streamed in: the stream's row of _state is deleted and
// written again with COPY, in the same transaction. A transactions state
// weighs megabytes; as a statement's parameter it was made whole in memory
// and copied whole again into the connection's buffer, on every commit,
// where COPY takes it in 64 KiB pieces from the stream's snapshot.
func (w *Table) commitState(tx pgx.Tx, state source.State) error {
	if !state.IsZero() {
		schema := ident(w.d.opts.Schema)
		if _, err := tx.Exec(w.ctx, fmt.Sprintf(`DELETE FROM %s._state WHERE stream = $1`, schema), w.t.name); err != nil {
			return w.d.sqlError(err, "storing the state of "+w.t.name)
		}
		if err := w.copyState(tx, schema, state); err != nil {
			return w.d.sqlError(err, "storing the state of "+w.t.name)
		}
	}
	if err := tx.Commit(w.ctx); err != nil {
		return w.d.sqlError(err, "committing "+w.t.name)
	}
	return nil
}

// copyState writes the stream's row of schema._state, in COPY's text
// format, streamed from a goroutine through a pipe; updated_at takes its
// default, the transaction's start.
func (w *Table) copyState(tx pgx.Tx, schema string, state source.State) error {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		field := copyText{bw}
		_, err := io.WriteString(field, w.t.name)
		if err == nil {
			err = bw.WriteByte('\t')
		}
		if err == nil {
			err = state.WriteJSON(field)
		}
		if err == nil {
			err = bw.WriteByte('\t')
		}
		if err == nil {
			_, err = io.WriteString(field, w.d.opts.Version)
		}
		if err == nil {
			err = bw.WriteByte('\n')
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	sql := fmt.Sprintf("COPY %s._state (stream, state, connector_version) FROM STDIN", schema)
	_, err := tx.Conn().PgConn().CopyFrom(w.ctx, pr, sql)
	pr.CloseWithError(errors.New("the COPY of the state ended")) // unblocks the writer if the server stopped reading
	return err
}

// copyText writes to w what COPY's text format reads back as the bytes
// given: a backslash, newline, carriage return or tab escaped. Compact JSON
// holds no raw control characters, but its strings may hold backslashes.
type copyText struct{ w io.Writer }

func (c copyText) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\\\n\r\t")
		if i < 0 {
			m, err := c.w.Write(p)
			return n + m, err
		}
		if _, err := c.w.Write(p[:i]); err != nil {
			return n, err
		}
		esc := [2]byte{'\\', p[i]}
		switch p[i] {
		case '\n':
			esc[1] = 'n'
		case '\r':
			esc[1] = 'r'
		case '\t':
			esc[1] = 't'
		}
		if _, err := c.w.Write(esc[:]); err != nil {
			return n, err
		}
		n += i + 1
		p = p[i+1:]
	}
	return n, nil
}

// Abort drops what was written since the last Flush (the stream failed):
// no state covers those rows, so the next run reads them again. A merge
// in flight is waited for: it commits what its state covers, and
// Committed or Wait still return that state.
func (w *Table) Abort() {
	if w.pw != nil {
		// The aborted COPY's error (and CloseWithError's, always nil for a
		// pipe) says only that it was aborted: its rows are dropped anyway.
		_ = w.pw.CloseWithError(errors.New("stream aborted"))
		<-w.errc //nolint:errcheck // see above
		w.pw, w.bw = nil, nil
	}
	_ = w.wait() // its error is the stream's, reported where it is collected
	// The staging table may hold a failed stream's rows (a full refresh's,
	// or an earlier COPY's): the next run makes it afresh, and the next
	// stream here uses its own.
	w.rows, w.tombstones = 0, 0
}

// Pending reports whether rows were written since the last commit.
func (w *Table) Pending() bool { return w.rows > 0 }
