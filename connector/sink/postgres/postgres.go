package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Options configure a Destination.
type Options struct {
	// URL is a PostgreSQL connection URL or keyword/value string (libpq's
	// forms; PG* environment variables fill what it leaves out).
	URL string
	// Schema is the schema the tables go in; empty means the connector's
	// name without "source-" (pluggy, gocardless).
	Schema string
	// HardDelete deletes a row on its tombstone instead of setting
	// _deleted_at.
	HardDelete bool
	// Connector is the binary's name (source-pluggy), for the default
	// schema and the lock holder's label.
	Connector string
	// Version is the connector's version, recorded with each state.
	Version string
	// Provider names whose data the schema holds (pluggy, gocardless,
	// enablebanking), recorded in _state (see checkProvider); empty
	// records and checks nothing.
	Provider string
	// Views are created (or replaced) once their tables exist.
	Views []View
	// Start is the run's start; zero means now. Rows get it as
	// _extracted_at.
	Start time.Time
}

// View is a view the connector ships over its tables, e.g. a report.
type View struct {
	Name string
	// Tables are the tables (streams) the query reads; the view is made
	// only once all exist.
	Tables []string
	// Query is the view's SELECT, naming tables unqualified: it is created
	// with the destination's schema as search_path.
	Query string
}

// Stream is what the destination needs to know of a configured stream.
type Stream struct {
	Name       string
	Schema     json.RawMessage
	PrimaryKey [][]string
}

// Destination is one run's connections to the database: it holds the
// schema's advisory lock from Open to Close.
//
// It has two: conn holds the lock and runs every transaction that
// changes the tables (the merges, each with its state), while load only
// copies rows into the staging tables, so the server parses the next
// checkpoint's rows while it merges the last one's (see Table).
type Destination struct {
	opts    Options
	cfg     *pgx.ConnConfig // the URL's settings, for a look at who holds a lock
	shown   string          // the URL with its password masked
	user    string          // the role the URL logs in as
	conn    *pgx.Conn
	load    *pgx.Conn
	tables  map[string]*table
	states  map[string]json.RawMessage
	started time.Time
	active  *Table // the stream being loaded: the connection is its
	// resumed says the run resumes from states (it took States), so a
	// table emptied or dropped since its state is worth a word.
	resumed bool
	// startup are the timeouts the run's sessions turn off in their
	// startup parameters (see timeouts): none through a pooler that
	// refuses them.
	startup []string
}

// DefaultSchema is the schema a connector's tables go in without
// --postgres-schema.
func DefaultSchema(connector string) string {
	return strings.ReplaceAll(strings.TrimPrefix(connector, "source-"), "-", "_")
}

// checkSchemaName refuses a schema name PostgreSQL would not take as
// given: one it reserves (pg_*), which it refuses to create, and one past
// its 63-byte names, which it silently cuts, so that two runs given two
// long names with the same start would share one schema under two locks.
func checkSchemaName(name string) error {
	switch {
	case len(name) > 63:
		return source.ConfigErrorf("--postgres-schema %q is %d bytes long, and PostgreSQL cuts names at 63; give a shorter name", name, len(name))
	case strings.HasPrefix(name, "pg_"):
		return source.ConfigErrorf("--postgres-schema %q: PostgreSQL reserves schema names that start with pg_; give another name", name)
	}
	return nil
}

// connectTimeout bounds reaching the server, so an unreachable host fails
// the run in seconds rather than at the TCP timeout.
const connectTimeout = 15 * time.Second

// Open connects, takes the schema's lock, creates or checks the schema, the
// tables of streams, the _state table and the views, and reads the stored
// states. Any failure is an error naming the URL (password masked), the
// object and the fix, with nothing written.
func Open(ctx context.Context, opts Options, streams []Stream) (*Destination, error) {
	if opts.Schema == "" {
		opts.Schema = DefaultSchema(opts.Connector)
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	d := &Destination{opts: opts, shown: MaskURL(opts.URL), tables: map[string]*table{}, started: opts.Start.UTC()}
	if err := checkSchemaName(opts.Schema); err != nil {
		return nil, err
	}
	for _, st := range streams {
		t, err := newTable(opts.Schema, st)
		if err != nil {
			return nil, source.ConfigErrorf("--postgres: %v", err)
		}
		d.tables[st.Name] = t
	}
	cfg, err := ParseURL(opts.URL)
	if err != nil {
		return nil, source.ConfigErrorf("--postgres %v", err)
	}
	cfg.ConnectTimeout = connectTimeout
	d.user = cfg.User
	cfg.RuntimeParams["application_name"] = d.holderName()
	d.cfg = cfg
	if err := d.connect(ctx); err != nil {
		return nil, err
	}
	err = d.lockWaitBounded(ctx, cfg)
	if err == nil {
		err = d.setup(ctx)
	}
	if err != nil {
		d.load.Close(context.Background())
		d.conn.Close(context.Background())
		return nil, err
	}
	return d, nil
}

// setup runs Open's steps on the connection.
func (d *Destination) setup(ctx context.Context) error {
	schema := d.opts.Schema
	// Rows go in through binary COPY, whose text the server stores without
	// converting it from the client's UTF-8: a LATIN1 database would hold
	// mojibake, and a SQL_ASCII one refuses the jsonb of a row with a
	// non-ASCII escape, failing its stream at every run.
	var db, encoding string
	if err := d.conn.QueryRow(ctx, "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&db, &encoding); err != nil {
		return d.sqlError(err, "reading the database's encoding")
	}
	if encoding != "UTF8" {
		return source.ConfigErrorf("PostgreSQL at %s: database %q has encoding %s, but bank data is UTF-8 text, which it cannot hold as sent; nothing was written. "+
			"Fix: point --postgres at a UTF8 database (CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0)", d.shown, db, encoding, ident(db+"_utf8"))
	}
	key := lockKey(schema)
	locked, err := TryAdvisoryLock(ctx, d.conn, key, lockGrace)
	if err != nil {
		return d.sqlError(err, "taking the schema's advisory lock")
	}
	if !locked {
		return d.lockedError(ctx, key)
	}
	// A schema of another role will do if its owner granted this user
	// USAGE and CREATE on it (the usual way a DBA hands a loader a
	// schema): the run makes its tables there, and owns them.
	var owner string
	var member bool
	err = d.conn.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner), pg_has_role(current_user, nspowner, 'USAGE')
		OR has_schema_privilege(oid, 'USAGE') AND has_schema_privilege(oid, 'CREATE')
		FROM pg_namespace WHERE nspname = $1`, schema).Scan(&owner, &member)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := d.conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident(schema)); err != nil {
			var pg *pgconn.PgError
			if errors.As(err, &pg) && pg.Code == "42501" {
				return source.ConfigErrorf("PostgreSQL at %s: the --postgres user may not create schema %q (%s); nothing was written. Fix: GRANT CREATE ON DATABASE to that user, or create the schema for it (CREATE SCHEMA %s AUTHORIZATION <user>)",
					d.shown, schema, pg.Message, ident(schema))
			}
			return d.sqlError(err, "creating schema "+schema)
		}
	case err != nil:
		return d.sqlError(err, "looking up schema "+schema)
	case !member:
		var user string
		_ = d.conn.QueryRow(ctx, "SELECT current_user").Scan(&user)
		return source.ConfigErrorf("PostgreSQL at %s: schema %q belongs to role %q, and the --postgres user %q may not create tables in it, which every run does, also where the streams' tables are there (its staging tables, _load_<stream>_0 and _1, which the rows go through); nothing was written. Fix: as %s, GRANT USAGE, CREATE ON SCHEMA %s TO %s, or use another --postgres-schema",
			d.shown, schema, owner, user, ident(owner), ident(schema), ident(user))
	}
	tx, err := d.conn.Begin(ctx)
	if err != nil {
		return d.sqlError(err, "starting the setup transaction")
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // a no-op once committed
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s._state (
		stream text PRIMARY KEY,
		state json NOT NULL,
		updated_at timestamp with time zone NOT NULL,
		connector_version text)`, ident(schema))); err != nil {
		return d.sqlError(err, "creating table "+schema+"._state")
	}
	if err := d.checkProvider(ctx, tx); err != nil {
		return err
	}
	// A commit COPYs its state in (commitState), which leaves updated_at
	// to its default; and every commit writes the stream's whole state
	// (megabytes for transactions), kept out of line but not compressed,
	// since pglz took 7% of the merging connection's CPU for a few MB
	// saved per commit. Catalog-only changes, so tables of earlier runs
	// get them too; made only where missing, as ALTER TABLE waits for
	// every session that read _state, a psql left open in a transaction
	// say, and the run would wait with it, holding the schema's lock.
	var hasDefault bool
	var storage string
	if err := tx.QueryRow(ctx, `SELECT
		coalesce((SELECT atthasdef FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'updated_at'), false),
		coalesce((SELECT attstorage::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'state'), '')`,
		pgx.Identifier{schema, "_state"}.Sanitize()).Scan(&hasDefault, &storage); err != nil {
		return d.sqlError(err, "reading the columns of "+schema+"._state")
	}
	if !hasDefault {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s._state ALTER COLUMN updated_at SET DEFAULT now()`, ident(schema))); err != nil {
			return d.sqlError(err, "setting a default on "+schema+"._state")
		}
	}
	if storage != "e" {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s._state ALTER COLUMN state SET STORAGE EXTERNAL`, ident(schema))); err != nil {
			return d.sqlError(err, "setting the storage of "+schema+"._state")
		}
	}
	for _, t := range d.tables {
		if err := t.ensure(ctx, tx, d.shown); err != nil {
			return d.wrapSQL(err)
		}
		// Made afresh each run: what a killed run left in them is
		// covered by no state, and they follow the table's columns.
		for i := range 2 {
			for _, q := range t.stageSQL(i) {
				if _, err := tx.Exec(ctx, q); err != nil {
					return d.sqlError(err, "creating the staging tables of "+t.qname())
				}
			}
		}
	}
	if err := d.views(ctx, tx); err != nil {
		return err
	}
	d.states = map[string]json.RawMessage{}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT stream, state::text FROM %s._state", ident(schema)))
	if err != nil {
		return d.sqlError(err, "reading "+schema+"._state")
	}
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return d.sqlError(err, "reading "+schema+"._state")
		}
		// A full-refresh stream's sentinel is not a state to resume from.
		if _, ok := d.tables[name]; ok && !strings.Contains(state, "__ab_no_cursor_state_message") {
			d.states[name] = json.RawMessage(state)
		}
	}
	if err := rows.Err(); err != nil {
		return d.sqlError(err, "reading "+schema+"._state")
	}
	if err := tx.Commit(ctx); err != nil {
		return d.sqlError(err, "committing the tables")
	}
	// A merge sorts a checkpoint's rows by key when a key comes twice:
	// let that happen in memory rather than in temporary files.
	if _, err := d.conn.Exec(ctx, "SET work_mem = '64MB'"); err != nil {
		return d.sqlError(err, "setting work_mem")
	}
	return nil
}

// providerKey begins the comment on a schema's _state table that names
// the provider whose data the schema holds: the key the Parquet sink's
// files record it under.
const providerKey = "source_pluggy.provider="

// checkProvider refuses a schema that holds another provider's data, as
// the comment on its _state table says, and records this run's provider
// there in a schema that names none (a new one, or one loaded before the
// comment was; a comment of someone else's is left alone, and so is a
// table of another owner, which only its owner may comment on).
// Providers name their streams alike (accounts, transactions) with other
// columns and keys: a second provider's run added its columns to the
// first one's tables, merged its rows among theirs by id, replaced their
// states, and the first provider's next full refresh emptied the tables
// of the second's rows. The Parquet sink refuses a folder of another
// provider's files the same way. A comment rather than a row of _state,
// whose rows are the streams' states, which scripts export as a state
// file (connect.md).
func (d *Destination) checkProvider(ctx context.Context, tx pgx.Tx) error {
	if d.opts.Provider == "" {
		return nil
	}
	schema := d.opts.Schema
	table := pgx.Identifier{schema, "_state"}.Sanitize()
	var comment *string
	var owner bool
	err := tx.QueryRow(ctx, `SELECT obj_description(oid, 'pg_class'), pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = $1::regclass`, table).Scan(&comment, &owner)
	if err != nil {
		return d.sqlError(err, "reading the comment on "+schema+"._state")
	}
	if comment == nil {
		if !owner {
			return nil
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("COMMENT ON TABLE %s IS %s", table, quoteLiteral(providerKey+d.opts.Provider))); err != nil {
			return d.sqlError(err, "recording the provider in the comment on "+schema+"._state")
		}
		return nil
	}
	holds, ours := strings.CutPrefix(*comment, providerKey)
	if ours && holds != d.opts.Provider {
		return source.ConfigErrorf("PostgreSQL at %s: schema %q holds %s data (the comment on %s says so), and this run is of %s: one schema cannot hold two providers' tables, whose streams share names (accounts, transactions) but not their columns or keys; nothing was written. "+
			"Fix: give each connector its own --postgres-schema (the default is the provider's name)",
			d.shown, schema, holds, table, d.opts.Provider)
	}
	return nil
}

// views creates the connector's views whose tables all exist.
func (d *Destination) views(ctx context.Context, tx pgx.Tx) error {
	if len(d.opts.Views) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident(d.opts.Schema)); err != nil {
		return d.sqlError(err, "setting search_path")
	}
	for _, v := range d.opts.Views {
		ok := true
		for _, name := range v.Tables {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{d.opts.Schema, name}.Sanitize()).Scan(&exists); err != nil {
				return d.sqlError(err, "looking up table "+name)
			}
			ok = ok && exists
		}
		if !ok {
			continue
		}
		// The view is replaced only when its query changed (its comment
		// names the query it was made from): CREATE OR REPLACE waits for
		// every session that read the view, and the run would wait with
		// it, holding the schema's lock.
		h := fnv.New64a()
		h.Write([]byte(v.Query))
		mark := fmt.Sprintf("made by %s --postgres from query %x; replaced when the query changes", d.opts.Connector, h.Sum64())
		var comment *string
		if err := tx.QueryRow(ctx, "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind = 'v'",
			pgx.Identifier{d.opts.Schema, v.Name}.Sanitize()).Scan(&comment); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return d.sqlError(err, "looking up view "+v.Name)
		}
		if comment != nil && *comment == mark {
			continue
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS %s", ident(v.Name), v.Query)); err != nil {
			// Something of that name is in the way: a table, or a view with
			// other columns (CREATE OR REPLACE only adds columns), the
			// user's or an older version's.
			var pg *pgconn.PgError
			if errors.As(err, &pg) && (pg.Code == "42809" || pg.Code == "42P16") {
				q := pgx.Identifier{d.opts.Schema, v.Name}.Sanitize()
				return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s: cannot make the connector's view %s (%s); nothing was written. Fix: rename or drop %s (the run makes the view again), or use another --postgres-schema",
						d.shown, q, pg.Message, q)}
			}
			return d.sqlError(err, "creating view "+d.opts.Schema+"."+v.Name)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("COMMENT ON VIEW %s IS %s", ident(v.Name), quoteLiteral(mark))); err != nil {
			return d.sqlError(err, "commenting view "+d.opts.Schema+"."+v.Name)
		}
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// States returns the stored state of each incremental stream, as the last
// committed checkpoint left it.
func (d *Destination) States() map[string]json.RawMessage {
	d.resumed = true
	return d.states
}

// logLostRows says, for a stream that resumes from its stored state, that
// its table holds none of the rows the state covers: it was dropped (the
// run made it again) or holds no rows. The stored state still says where
// the last run stopped, so the rows before it are not read again. The
// state is kept, not dropped for a read from start_date: it holds more
// than the rows' progress (the banks' quotas, the accounts gone), and a
// stream that has had no rows yet is empty too, so only a dropped table
// is a WARN.
func (d *Destination) logLostRows(log *slog.Logger, name string) {
	t, ok := d.tables[name]
	if !ok || !d.resumed || d.states[name] == nil || !t.emptyAtOpen {
		return
	}
	// The table and the statement go in the message, not in attributes,
	// whose quoting would escape their quotes and spoil a copy and paste.
	if t.created {
		log.Warn(fmt.Sprintf("table %s was not there (dropped since its state was stored in %s._state) and was made again, empty; the run resumes from the stored state, so the rows read before it are not loaded again. "+
			"To reload them, delete the state (%s) and read again: the stream is then read from start_date", t.qname(), ident(d.opts.Schema), t.dropState()))
		return
	}
	log.Info(fmt.Sprintf("table %s holds no rows, though %s._state holds a state for its stream; if it was emptied (TRUNCATE, DELETE) since, the run resumes from the stored state and does not load the rows read before it again. "+
		"To reload them, delete the state (%s) and read again: the stream is then read from start_date", t.qname(), ident(d.opts.Schema), t.dropState()))
}

// Schema is the schema the tables are in.
func (d *Destination) Schema() string { return d.opts.Schema }

// Close releases the lock and the connection. Uncommitted rows are dropped:
// no state covers them.
func (d *Destination) Close() error {
	if d.conn == nil {
		return nil
	}
	if d.active != nil {
		d.active.Abort()
		d.active = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d.load != nil {
		_ = d.load.Close(ctx) // it holds no lock, and nothing that counts
		d.load = nil
		// Every merge has committed or failed: what the staging tables
		// hold counts for nothing. Drop them, so the schema holds only the
		// tables, _state and the views; best effort, as the next run makes
		// them afresh anyway.
		var drop []string
		for _, t := range d.tables {
			drop = append(drop, t.stageName(0), t.stageName(1))
		}
		_, _ = d.conn.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(drop, ", "))
	}
	// Unlock first: the server releases a closed session's locks only when
	// its backend has exited, which a run started right after would meet.
	_, _ = d.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
	err := d.conn.Close(ctx)
	d.conn = nil
	return err
}
