package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// The PostgreSQL log: the events in one table, so a receiver Deployment and
// a read CronJob share them without a shared volume.
//
//	pluggy.webhook_events (seq bigserial PRIMARY KEY, event_id text UNIQUE,
//	                       received_at timestamptz, payload text)
//
// A position is a seq: a reader asks for seq > position. That is only safe
// if rows become visible in seq order, so one receiver at a time writes
// (a session advisory lock, like the directory's lock file) and it inserts
// one event at a time: each INSERT commits (durably, with PostgreSQL's
// default synchronous_commit) before the next takes a seq. The payload is
// kept as text, byte for byte as Pluggy sent it (compacted).

const (
	pgTable = "pluggy.webhook_events"
	// pgLockKey is the advisory lock a receiver holds on its database.
	pgLockKey int64 = 0x706c7567677977 // "pluggyw"
	// pgTimeout bounds one statement, so a stuck database answers 503
	// rather than holding Pluggy past its 5 s.
	pgTimeout = 4 * time.Second
	// pgLockGrace is how long a receiver waits for the lock of one that
	// was just stopped.
	pgLockGrace = 3 * time.Second
)

type pgLog struct {
	url, shown string

	mu   sync.Mutex
	conn *pgx.Conn
	n    int
	// failed is the last append's failure until an append, or Healthy's
	// probe, inserts again: the server may answer a ping while it refuses
	// every INSERT (a privilege revoked, the table dropped, its disk full),
	// and a health check must not call the log writable meanwhile.
	failed error
}

// parsePG parses a PostgreSQL log's URL, with an error that names the fix
// (its TLS settings, or how to write it) and shows no piece of its
// password.
func parsePG(url string) (*pgx.ConnConfig, error) {
	return postgres.ParseURL(url)
}

func pgConnect(ctx context.Context, url string) (*pgx.Conn, error) {
	shown := postgres.MaskURL(url)
	cfg, err := parsePG(url)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 15 * time.Second
	cfg.RuntimeParams["application_name"] = "source-pluggy webhook log"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := fmt.Errorf("cannot connect to PostgreSQL at %s: %s", shown, postgres.Mask(url, err.Error()))
		if postgres.Unreachable(err) {
			// The server may be restarting: the next run, or a retry,
			// reads the log.
			return nil, &source.Error{Type: protocol.TransientError, Err: msg}
		}
		return nil, msg
	}
	return conn, nil
}

func openPG(ctx context.Context, url string) (*pgLog, error) {
	l := &pgLog{url: url, shown: postgres.MaskURL(url)}
	if err := l.connect(ctx, true); err != nil {
		return nil, err
	}
	return l, nil
}

// connect opens the session, creates the table and takes the lock.
func (l *pgLog) connect(ctx context.Context, setup bool) error {
	conn, err := pgConnect(ctx, l.url)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		conn.Close(context.Background())
		return fmt.Errorf("PostgreSQL at %s: %s: %s", l.shown, what, postgres.Mask(l.url, err.Error()))
	}
	if setup {
		if err := pgCreate(ctx, conn); err != nil {
			return fail("creating "+pgTable+" (the user needs CREATE on the database, or create the table for it)", err)
		}
	}
	// A receiver stopped a moment ago (a restart) holds the lock until
	// the server has closed its session: wait for that briefly.
	locked, err := postgres.TryAdvisoryLock(ctx, conn, pgLockKey, pgLockGrace)
	if err != nil {
		return fail("taking the receiver's lock", err)
	}
	if !locked {
		conn.Close(context.Background())
		return fmt.Errorf("the event log %s in PostgreSQL at %s is in use by another receiver (advisory lock %d); run one receiver per database", pgTable, l.shown, pgLockKey)
	}
	// Once the lock is held, as a directory's receiver numbers the
	// segment it begins (eventlog.Open): the next seq is the clock's, if
	// that is higher. A database restored from a backup (a point-in-time
	// recovery, a dump) has its sequence back where the backup left it,
	// and new rows would take the seqs of the rows it lost; a reader whose
	// position was among those would skip as many new rows once the table
	// had them. Without UPDATE on the sequence (a table created for the
	// receiver by someone else), this is left out.
	if _, err := conn.Exec(ctx, `SELECT setval(s, greatest(coalesce(pg_sequence_last_value(s), 0), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint), true)
		FROM (SELECT pg_get_serial_sequence($1, 'seq')::regclass AS s) q WHERE has_sequence_privilege(s, 'UPDATE')`, pgTable); err != nil {
		return fail("moving the sequence of "+pgTable+" past the clock", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgTable).Scan(&l.n); err != nil {
		return fail("counting "+pgTable, err)
	}
	l.conn = conn
	return nil
}

// pgCreate creates the schema and the table if missing. A new table's seq
// starts at the clock in microseconds, not at 1: a reader's position is a
// seq, and if the table were dropped and created again from 1, a position
// of the old table would fall inside the new one once it grew past it, and
// the reader would silently skip the new table's first events instead of
// noticing that its position is gone (readPG: a position below the
// table's first seq).
//
// A table that exists is left as it is, before any CREATE: CREATE SCHEMA
// IF NOT EXISTS needs CREATE on the database even when the schema is
// there, and a receiver whose table an administrator made for it may not
// have that.
func pgCreate(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgTable).Scan(&exists); err != nil || exists {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS pluggy`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgTable+` (seq bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, received_at timestamptz NOT NULL, payload text NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'seq'), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, false)`, pgTable)
		return err
	})
}

func (l *pgLog) Append(ctx context.Context, ev Event, receivedAt time.Time) (string, error) {
	// Not the request's context: a client hanging up mid-INSERT must not
	// cancel it (pgx closes a connection whose query is cancelled).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		if err := l.connect(ctx, false); err != nil {
			return "", err
		}
	}
	var seq int64
	err := l.conn.QueryRow(ctx, `INSERT INTO `+pgTable+` (event_id, received_at, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING RETURNING seq`,
		ev.EventID, receivedAt, string(ev.Raw)).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", eventlog.ErrDuplicate
	}
	if err != nil {
		err = fmt.Errorf("inserting into %s: %s", pgTable, postgres.Mask(l.url, err.Error()))
		l.failed = err
		return "", err
	}
	l.failed = nil
	l.n++
	return strconv.FormatInt(seq, 10), nil
}

// errProbe rolls back Healthy's probe insert.
var errProbe = errors.New("probe rolled back")

// probe inserts a row and rolls it back: whether an append would succeed
// now, without one. The row takes a seq that no row will have, as a
// failed INSERT does; a reader's position is the last seq it read, and
// only the order of seqs matters to it.
func (l *pgLog) probe(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+pgTable+` (event_id, received_at, payload) VALUES ('healthz probe, rolled back', now(), '{}')`); err != nil {
			return err
		}
		return errProbe
	})
	if errors.Is(err, errProbe) {
		return nil
	}
	return fmt.Errorf("%w; a probe insert fails too: %s", l.failed, postgres.Mask(l.url, err.Error()))
}

func (l *pgLog) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		if err := l.connect(ctx, false); err != nil {
			return err
		}
	}
	if l.failed == nil {
		return l.conn.Ping(ctx)
	}
	if err := l.probe(ctx); err != nil {
		return err
	}
	l.failed = nil
	return nil
}

func (l *pgLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *pgLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		return l.conn.Close(context.Background())
	}
	return nil
}

// readPG reads the table from seq from (exclusive) into ch.
func readPG(ctx context.Context, url string, from int64, ch *Changes) (int64, error) {
	conn, err := pgConnect(ctx, url)
	if err != nil {
		return from, err
	}
	defer conn.Close(context.Background())
	shown := postgres.MaskURL(url)
	var first, top int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM `+pgTable).Scan(&first, &top); err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s (start the receiver with --log on this database first): %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	if from > top || from > 0 && from < first-1 {
		// The table was replaced (a new table's seqs start at the clock:
		// pgCreate), or rows after the position were removed: what
		// happened between the position and the table's start is unknown.
		ch.Reset, from = true, 0
	}
	rows, err := conn.Query(ctx, `SELECT seq, payload FROM `+pgTable+` WHERE seq > $1 AND seq <= $2 ORDER BY seq`, from, top)
	if err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s: %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	defer rows.Close()
	end := from
	for rows.Next() {
		var seq int64
		var payload string
		if err := rows.Scan(&seq, &payload); err != nil {
			return from, err
		}
		ch.addPayload([]byte(payload))
		end = seq
	}
	if err := rows.Err(); err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s: %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	return max(end, top), nil
}
