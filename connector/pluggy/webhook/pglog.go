package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// (a session advisory lock, like the directory's lock file) and it commits
// one transaction at a time: the events of concurrent deliveries are
// inserted together, in one transaction (eventlog.Group), which commits
// durably (synchronous_commit off is raised to local: connect) before the
// next takes a seq. The payload is kept as text, byte for byte as Pluggy sent
// it (compacted).

const (
	pgTable = "pluggy.webhook_events"
	// pgPruned records, in one row, the seq through which Prune deleted
	// the table's rows, for readPG: a reader whose position is below it
	// missed rows that are gone. The table's first seq tells as much for
	// a position inside the table's span, but not for the position a
	// read of the table when it was empty took, 0.
	pgPruned = "pluggy.webhook_events_pruned"
	// pgLockKey is the advisory lock a receiver holds on its database.
	pgLockKey int64 = 0x706c7567677977 // "pluggyw"
	// pgTimeout bounds one statement, so a stuck database answers 503
	// rather than holding Pluggy past its 5 s.
	pgTimeout = 4 * time.Second
	// pgLockGrace is how long a receiver waits for the lock of one that
	// was just stopped.
	pgLockGrace = 3 * time.Second
	// pgGiven is where a receiver's URL is given, for its errors.
	pgGiven = "--log"
	// pgApp names the log's sessions in pg_stat_activity.
	pgApp = "source-pluggy webhook log"
)

type pgLog struct {
	url, shown string

	mu   sync.Mutex
	conn *pgx.Conn
	// n is the figure Len gives, for the lines that log it (the start's
	// "listening", a prune's "pruned the event log") and nothing else:
	// no append, prune or read looks at it. Its one owner is the pgLog,
	// under mu. openPG sets it once, before any append or prune can run
	// (pgCount: a count, or PostgreSQL's estimate past pgCountUpTo rows);
	// from then on only what this receiver commits moves it, an append
	// by the rows it inserted, a prune step by the rows its DELETE
	// removed. A reconnection leaves it as it is: it used to count the
	// table again, a read of every row inside the 4 s the first batch
	// after it had (pgTimeout), which on a table of millions of rows
	// answered that batch 503, and went on doing so at every try once
	// the count took longer than that; and a prune step that deleted its
	// rows before that count and subtracted them after it took them off
	// twice. Rows deleted by hand, or a database restored from a backup,
	// are not followed until the next start.
	n int
	// failed is the last append's failure until an append, or Healthy's
	// probe, inserts again: the server may answer a ping while it refuses
	// every INSERT (a privilege revoked, the table dropped, its disk full),
	// and a health check must not call the log writable meanwhile.
	failed error

	group   eventlog.Group[pgEvent, string]
	events  atomic.Int64
	commits atomic.Int64
}

// pgEvent is an event waiting for its insert.
type pgEvent struct {
	ev         Event
	receivedAt time.Time
}

// parsePG parses a PostgreSQL log's URL, with an error that names the fix
// (its TLS settings, or how to write it) and shows no piece of its
// password.
func parsePG(url string) (*pgx.ConnConfig, error) {
	return postgres.ParseURL(url)
}

// pgConnect opens a session of the log's database: the receiver's, a
// prune's, a read's. Opened as the PostgreSQL sink opens its own
// (postgres.Connect), with the timeouts a DBA may set for a role or a
// database off, but for those the URL sets: the receiver's statements are
// bounded by pgTimeout, and it keeps its session open between deliveries.
// A role's idle_session_timeout ended that session whenever the receiver
// was idle for longer, and /healthz and the next delivery were answered
// 503 (a readiness probe whose period is longer than the timeout found the
// receiver never ready); a role's short statement_timeout cancelled the count the
// receiver starts with (it exited), and the first statement of every
// --retain prune, which reads past the old rows, so that the table was
// never pruned. A lock_timeout is left as set: it only cuts short a wait
// pgTimeout bounds anyway. given is where the URL was given (--log, the
// receiver's; webhook_log, a read's), which an error names. guard, if
// any, keeps the session from sending a cancel request until it is in
// (the check's second session: ownSession).
func pgConnect(ctx context.Context, url, given string, guard *postgres.CancelGuard) (*pgx.Conn, error) {
	shown := postgres.MaskURL(url)
	cfg, err := parsePG(url)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 15 * time.Second
	cfg.RuntimeParams["application_name"] = pgApp
	if guard != nil {
		cfg = guard.Config(cfg)
	}
	conn, err := postgres.Connect(ctx, cfg, given)
	if err != nil {
		msg := error(fmt.Errorf("cannot connect to PostgreSQL at %s: %s", shown, postgres.Mask(url, err.Error())))
		if postgres.NoneFree(err) {
			msg = noConnectionFree{msg}
		}
		if postgres.Unreachable(err) {
			// The server may be restarting: the next run, or a retry,
			// reads the log.
			return nil, &source.Error{Type: protocol.TransientError, Err: msg}
		}
		return nil, msg
	}
	return conn, nil
}

// noConnectionFree is pgConnect's error when the server refused the
// session for want of a free connection (postgres.NoneFree): a receiver
// whose own session got in runs without a second one (ownSession, Prune),
// where a pooler's refusal (PgBouncer's max_client_conn) failed the start.
type noConnectionFree struct{ error }

func (e noConnectionFree) Unwrap() error { return e.error }

func openPG(ctx context.Context, url string) (*pgLog, error) {
	l := &pgLog{url: url, shown: postgres.MaskURL(url)}
	l.group.Commit = l.commit
	if err := l.connect(ctx, true); err != nil {
		return nil, err
	}
	n, err := pgCount(ctx, l.conn)
	if err != nil {
		l.conn.Close(context.Background())
		return nil, fmt.Errorf("PostgreSQL at %s: counting the rows of %s: %s", l.shown, pgTable, postgres.Mask(l.url, err.Error()))
	}
	l.n = n
	return l, nil
}

// pgCountUpTo is how many rows pgCount counts. Counting reads every row:
// 5 million rows took 0.3 s to 1.6 s on a 2-core test machine with the
// table in memory, and a table read from disk takes seconds more; up to
// this many, a few milliseconds.
const pgCountUpTo = 10000

// pgCount is the figure the log lines start from (pgLog.n): the table's
// rows, counted if there are at most pgCountUpTo, else PostgreSQL's own
// estimate, the rows its last VACUUM or ANALYZE found (pg_class.reltuples)
// scaled to the pages the table has now, as its planner scales them. An
// estimate is enough for a figure in a log line, and costs the same on
// any table; a table never vacuumed nor analyzed has none (autovacuum,
// on by default, analyzes a new table about a minute after its first rows), and
// then the figure is the rows counted, pgCountUpTo and one, fewer than it
// holds.
func pgCount(ctx context.Context, conn *pgx.Conn) (int, error) {
	var counted int64
	var estimate *float64
	err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT FROM `+pgTable+` LIMIT $1) s),
		(SELECT (reltuples / relpages * (pg_relation_size(oid) / current_setting('block_size')::bigint))::float8 FROM pg_class
			WHERE oid = $2::regclass AND relpages > 0 AND reltuples >= 0)`, pgCountUpTo+1, pgTable).Scan(&counted, &estimate)
	if err != nil {
		return 0, err
	}
	if counted > pgCountUpTo && estimate != nil {
		return int(max(counted, int64(*estimate))), nil
	}
	return int(counted), nil
}

// connect opens the session, creates the table and takes the lock.
func (l *pgLog) connect(ctx context.Context, setup bool) error {
	conn, err := pgConnect(ctx, l.url, pgGiven, nil)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		conn.Close(context.Background())
		return fmt.Errorf("PostgreSQL at %s: %s: %s", l.shown, what, postgres.Mask(l.url, err.Error()))
	}
	if err := l.ownSession(ctx, conn); err != nil {
		conn.Close(context.Background())
		return err
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
	// A commit stands for an event on disk only if it waits for its WAL
	// to be flushed: with synchronous_commit off (a DBA's setting for the
	// role, the database or the server, even the URL's), it returned
	// first, the event was acknowledged, and a server crash then lost up
	// to three wal_writer_delay of events Pluggy never delivers again.
	// Raised to local, which waits for this server's disk and, unlike
	// on, for no standby; any other setting waits at least as long. The
	// comment keeps a pooler that balances statements (pgpool-II) from
	// sending it to another server's session (ownSession).
	if _, err := conn.Exec(ctx, `/*NO LOAD BALANCE*/ SELECT set_config('synchronous_commit', 'local', false) WHERE current_setting('synchronous_commit') = 'off'`); err != nil {
		return fail("making its commits durable (synchronous_commit)", err)
	}
	l.conn = conn
	return nil
}

// ownSession refuses a receiver whose session is not a server session of
// its own: a connection pooler in front of the server (PgBouncer) in
// transaction or statement mode (pool_mode = transaction) hands each
// statement to whichever server session is free, so the receiver's lock
// stays on the pooled server session that took it, and a second receiver
// handed that server session takes it again: two receivers appended to
// one table at once (seen through PgBouncer 1.18 with
// default_query_exec_mode=exec in the URL), their seqs no longer
// committed in order for readers. It asks conn and a session opened for
// the check, alternately, for their server process ids
// (postgres.OwnServerSessions), before the lock is taken. Where that
// session cannot be had for want of a free connection (a role's
// CONNECTION LIMIT 1, a full server), or does not come within
// checkWait (a pool in session mode with none free), the
// check is left out: the receiver's own session is enough to run. That
// session sends no cancel request for its first statement, which such a
// pool holds in its queue, as the run's second session sends none
// (postgres.CancelGuard): PgBouncer 1.18 crashed on one.
func (l *pgLog) ownSession(ctx context.Context, conn *pgx.Conn) error {
	// Each session answers a statement before the check's: pgConnect runs
	// none where the URL sets every timeout, and a pool in session mode
	// with one server session handed it to whichever asked first, the
	// second (the receiver's own then waited), or held the second's first
	// statement, which had no bound, until its query_wait_timeout (2 min):
	// the start failed either way, and a SIGTERM meanwhile sent a cancel
	// request for the statement held (the guard lifted).
	if _, err := conn.PgConn().Exec(ctx, "/*NO LOAD BALANCE*/ SELECT 1").ReadAll(); err != nil {
		return fmt.Errorf("PostgreSQL at %s: the receiver's session: %s", l.shown, postgres.Mask(l.url, err.Error()))
	}
	probeCtx, cancel := context.WithTimeout(ctx, checkWait(ctx))
	defer cancel()
	guard := postgres.NewCancelGuard(probeCtx)
	probe, err := pgConnect(probeCtx, l.url, pgGiven, guard)
	if errors.As(err, new(noConnectionFree)) || postgres.SecondSessionLate(ctx, probeCtx, err) {
		return nil
	}
	if err != nil {
		// Through a pool in transaction mode the second session's first
		// statement, prepared, may meet the first's on the one server
		// session both were handed: postgres.Connect's error names the
		// pool mode and the fix.
		return err
	}
	defer probe.Close(context.Background())
	// Within the wait, as the read's second session's (connect of
	// postgres.Destination).
	if _, err := probe.PgConn().Exec(probeCtx, "/*NO LOAD BALANCE*/ SELECT 1").ReadAll(); err != nil {
		if postgres.SecondSessionLate(ctx, probeCtx, err) {
			return nil
		}
		return fmt.Errorf("PostgreSQL at %s: the check's second session: %s", l.shown, postgres.Mask(l.url, err.Error()))
	}
	guard.In() // its statement answered: a server session's
	own, pids, err := postgres.OwnServerSessions(ctx, conn, probe)
	switch {
	case err != nil:
		return fmt.Errorf("PostgreSQL at %s: reading the sessions' server process ids: %s", l.shown, postgres.Mask(l.url, err.Error()))
	case own:
		return nil
	}
	return fmt.Errorf("the event log %s in PostgreSQL at %s: the receiver's session and a second one ran on one server session, or a session moved between two (server process ids %v and %v), %s, and two receivers could write the log at once, its events no longer in order for readers. %s",
		pgTable, l.shown, pids[0], pids[1], postgres.TransactionPooled("the receiver's lock"), postgres.TransactionPoolFix(pgGiven))
}

// checkWait is how long ownSession's second session may take:
// postgres.SecondSessionWait, or half what is left of ctx where that is
// less, so that a reconnection, within the 4 s of a delivery's append or a
// /healthz (pgTimeout), has time left for the lock and the insert once the
// check is left out. It waited the whole 5 s there: ctx ran out first, as
// if the receiver were stopped, and through a pool of one server session
// (PgBouncer's default_pool_size = 1) every delivery after a lost session
// was answered 503.
func checkWait(ctx context.Context) time.Duration {
	wait := postgres.SecondSessionWait
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline)/2)
	}
	return wait
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

// Append inserts ev and returns once the transaction that holds it has
// committed. Concurrent appends are inserted in one transaction (commit).
func (l *pgLog) Append(_ context.Context, ev Event, receivedAt time.Time) (string, error) {
	// Not the request's context: a client hanging up mid-INSERT must not
	// cancel it (pgx closes a connection whose query is cancelled), nor
	// the others' inserts in its transaction.
	return l.group.Do(pgEvent{ev: ev, receivedAt: receivedAt})
}

// pgText is a payload as the table's text column takes it: a run of bytes
// that is not UTF-8 (JSON's grammar lets one stand in a string, and Go's
// decoder takes it) is replaced by one U+FFFD.
// PostgreSQL refuses such text whole, so the event was answered 503 at
// every delivery and lost once Pluggy stopped retrying; the ids and kinds
// the read applies are ASCII, so nothing it uses changes. A directory log
// keeps the bytes as sent.
func pgText(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

const pgInsert = `INSERT INTO ` + pgTable + ` (event_id, received_at, payload) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING RETURNING seq`

// commit inserts a batch of events in one transaction, in order, so that
// they take ascending seqs and become visible together, once it commits.
// An eventId already in the table, or earlier in the batch, is a
// duplicate. If the transaction fails while the session lives (the server
// refused one event: every event of the transaction would share its
// fate), each event is inserted again on its own, so that one bad event
// fails no other.
//
// That retry has a budget of its own, pgTimeout from its start. It shared
// the batch's, so a batch refused late (at its commit, by a deferred
// check, or after a slow insert) left the events after the refused one no
// time: the one under way when the budget ran out was cancelled, which
// closes the session, and every later one was answered 503 as if the log
// were not writable, though the server had refused none of them. Their
// answers may now come up to pgTimeout later, past Pluggy's 5 s: Pluggy
// then delivers the event again and is answered duplicate, where a 503
// cost it the same redelivery and left the event out of the log. An
// event the retry's budget does not reach is answered 503 without being
// sent, the log not counted unwritable for it.
func (l *pgLog) commit(batch []pgEvent) ([]string, []error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	seqs := make([]string, len(batch))
	errs := make([]error, len(batch))
	l.mu.Lock()
	defer l.mu.Unlock()
	fail := func(err error) ([]string, []error) {
		for i := range errs {
			errs[i] = err
		}
		return seqs, errs
	}
	if l.conn == nil || l.conn.IsClosed() {
		if err := l.connect(ctx, false); err != nil {
			return fail(err)
		}
	}
	if len(batch) > 1 {
		err := pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, e := range batch {
				b.Queue(pgInsert, e.ev.EventID, e.receivedAt, pgText(e.ev.Raw))
			}
			br := tx.SendBatch(ctx, b)
			for i := range batch {
				var seq int64
				err := br.QueryRow().Scan(&seq)
				switch {
				case errors.Is(err, pgx.ErrNoRows):
					errs[i] = eventlog.ErrDuplicate
				case err != nil:
					_ = br.Close()
					return err
				default:
					seqs[i] = strconv.FormatInt(seq, 10)
				}
			}
			return br.Close()
		})
		if err == nil {
			l.commits.Add(1)
			l.failed = nil
			for i := range batch {
				if errs[i] == nil {
					l.n++
					l.events.Add(1)
				}
			}
			return seqs, errs
		}
		clear(seqs)
		clear(errs)
		if l.conn.IsClosed() {
			err = fmt.Errorf("inserting into %s: %s", pgTable, postgres.Mask(l.url, err.Error()))
			l.failed = err
			return fail(err)
		}
	}
	retry, cancelRetry := context.WithTimeout(context.Background(), pgTimeout)
	defer cancelRetry()
	for i, e := range batch {
		if retry.Err() != nil {
			errs[i] = fmt.Errorf("not inserted: the server refused the transaction this event was in, and inserting its events one by one took the %s it may take before this one's turn (Pluggy delivers it again)", pgTimeout)
			continue
		}
		seqs[i], errs[i] = l.insert(retry, e)
	}
	return seqs, errs
}

// insert inserts one event, in a transaction of its own. Called with l.mu
// held.
func (l *pgLog) insert(ctx context.Context, e pgEvent) (string, error) {
	var seq int64
	err := l.conn.QueryRow(ctx, pgInsert, e.ev.EventID, e.receivedAt, pgText(e.ev.Raw)).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", eventlog.ErrDuplicate
	}
	if err != nil {
		err = fmt.Errorf("inserting into %s: %s", pgTable, postgres.Mask(l.url, err.Error()))
		l.failed = err
		return "", err
	}
	l.commits.Add(1)
	l.failed = nil
	l.n++
	l.events.Add(1)
	return strconv.FormatInt(seq, 10), nil
}

// errProbe rolls back Healthy's probe insert.
var errProbe = errors.New("probe rolled back")

// probe inserts a row and rolls it back: whether an append would succeed
// now, without one. The row takes a seq that no row will have, as a
// failed INSERT does; a reader's position is the last seq it read, and
// only the order of seqs matters to it. Its event_id holds a control
// character, which no event's may (CheckIDs): one an event could carry
// was, once an event had it, a key every probe hit, and /healthz failed
// until an event was appended.
func (l *pgLog) probe(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, l.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+pgTable+` (event_id, received_at, payload) VALUES (E'\x01healthz probe, rolled back', now(), '{}')`); err != nil {
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
	if err := l.group.Err(); err != nil {
		return err // a commit panicked: no append is tried again
	}
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

func (l *pgLog) Stats() Stats {
	return Stats{Appended: l.events.Load(), Commits: l.commits.Load()}
}

// Len is pgLog.n: the rows of the table as the receiver started, counted
// or estimated (pgCount), with what it appended and pruned since.
func (l *pgLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.n, 0) // an estimate below the rows a prune deleted
}

func (l *pgLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		return l.conn.Close(context.Background())
	}
	return nil
}

// pgPruneBatch is how many rows one DELETE of Prune removes: a first prune
// of a long table goes in steps, each a short transaction, rather than one
// that holds its locks, and its WAL, for minutes.
const pgPruneBatch = 5000

// Prune deletes the rows received before cutoff that form the table's
// oldest part, but for the newest of them: the rows below the newest row
// that, like every row before it, was received before cutoff.
//
// A reader's position is the last seq it read, and a read asks for
// seq > position; readPG finds a position gone when it is below the
// table's first seq less one. Deleting only a prefix keeps that exact: a
// reader whose position is at or past the first row left (less one) has
// read every row deleted, and one below it finds its position gone and
// reconciles. Rows are not deleted by their received_at alone, which can
// run against the seqs by the moments two requests wait for the insert
// before them: a row deleted between two kept ones would be skipped by a
// reader without a word. The newest old row stays, as a directory keeps
// the segment a newer one follows (eventlog.Writer.Prune): a reader that
// read since cutoff is at it or past it, and keeps its place.
//
// It runs on a session of its own, opened for it, not on the receiver's,
// which appends and /healthz share and wait for: a first --retain on a
// long table takes minutes, which KeepPruning spends while the receiver
// serves. The rows it deletes are committed ones below a committed row
// (rows become visible in seq order: one transaction at a time), which
// no append touches. A ctx ended (the receiver stopping) cuts the step
// under way; the next start goes on.
//
// A server or role with no connection to spare for that session (its
// max_connections, the role's CONNECTION LIMIT: 1 for a role meant for
// one receiver) refuses it at every round, and the prune never ran,
// though the receiver's own session could do it. It then runs on that
// session, a step at a time between appends (session), each holding
// them back for one DELETE of pgPruneBatch rows. So does a pool in
// session mode with no server session to spare (PgBouncer's pool_size =
// 1): it logs the session in and holds its first statement in its queue,
// and the prune waited there until PgBouncer's query_wait_timeout (2
// min) and failed, at every round; the session is given
// postgres.SecondSessionWait to answer, and sends no cancel request
// meanwhile (ownSession's check).
func (l *pgLog) Prune(ctx context.Context, cutoff time.Time) (Pruned, error) {
	var p Pruned
	conn, err := l.ownPruneSession(ctx)
	switch {
	case errors.As(err, new(noConnectionFree)):
		conn = nil
	case err != nil:
		return p, fmt.Errorf("pruning %s: %w", pgTable, err)
	default:
		defer conn.Close(context.Background())
	}
	step := func(fn func(context.Context, *pgx.Conn) error) error {
		if conn == nil {
			return l.session(ctx, fn)
		}
		ctx, cancel := context.WithTimeout(ctx, pgTimeout)
		defer cancel()
		return fn(ctx, conn)
	}
	var below, first *int64
	err = step(func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT max(seq), min(seq) FROM `+pgTable+` WHERE seq < coalesce(
			(SELECT seq FROM `+pgTable+` WHERE received_at >= $1 ORDER BY seq LIMIT 1), 9223372036854775807)`, cutoff).Scan(&below, &first)
	})
	if err != nil || below == nil || *first >= *below {
		return p, l.pruneError(err, "reading how far its old rows go", "GRANT SELECT ON "+pgTable+" TO ROLE")
	}
	// Recorded before a row goes: a reader between the two finds its
	// position pruned before it is, and reconciles, rather than after.
	if err := step(func(ctx context.Context, conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgPruned).Scan(&exists); err != nil {
				return err
			}
			if !exists { // as pgCreate: IF NOT EXISTS alone wants CREATE on the schema
				if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgPruned+` (through bigint NOT NULL)`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `DELETE FROM `+pgPruned+` WHERE through < $1`, *below-1); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO `+pgPruned+` (through) SELECT $1::bigint WHERE NOT EXISTS (SELECT FROM `+pgPruned+`)`, *below-1)
			return err
		})
	}); err != nil {
		return p, l.pruneError(err, "recording how far it prunes in "+pgPruned,
			"GRANT SELECT, INSERT, DELETE ON "+pgPruned+" TO ROLE, having created it (CREATE TABLE "+pgPruned+" (through bigint NOT NULL)) if missing, or GRANT CREATE ON SCHEMA pluggy TO ROLE")
	}
	for {
		if err := ctx.Err(); err != nil {
			return p, err // the receiver stops: the next start goes on
		}
		var n int64
		err := step(func(ctx context.Context, conn *pgx.Conn) error {
			tag, err := conn.Exec(ctx, `DELETE FROM `+pgTable+` WHERE seq IN (SELECT seq FROM `+pgTable+` WHERE seq < $1 ORDER BY seq LIMIT `+strconv.Itoa(pgPruneBatch)+`)`, *below)
			n = tag.RowsAffected()
			return err
		})
		l.mu.Lock()
		l.n -= int(n)
		l.mu.Unlock()
		p.Events += n
		if err != nil {
			if ctx.Err() != nil {
				return p, ctx.Err()
			}
			return p, l.pruneError(err, "deleting its old rows", "GRANT DELETE ON "+pgTable+" TO ROLE")
		}
		if n < pgPruneBatch {
			return p, nil
		}
	}
}

// ownPruneSession opens Prune's own session within
// postgres.SecondSessionWait, or returns a noConnectionFree error where
// none can be had that soon (refused, or held in a pool's queue).
func (l *pgLog) ownPruneSession(ctx context.Context) (*pgx.Conn, error) {
	bounded, cancel := context.WithTimeout(ctx, postgres.SecondSessionWait)
	defer cancel()
	guard := postgres.NewCancelGuard(bounded)
	conn, err := pgConnect(bounded, l.url, pgGiven, guard)
	if postgres.SecondSessionLate(ctx, bounded, err) {
		return nil, noConnectionFree{fmt.Errorf("PostgreSQL at %s: a session of its own for the prune did not come within %s: %w", l.shown, postgres.SecondSessionWait, err)}
	}
	if err == nil {
		guard.In()
	}
	return conn, err
}

// canPrune checks, as the receiver starts, that its role may do what
// Prune does, so that a --retain it cannot apply fails the start, not the
// first prune, which may come a month later. Each privilege is asked on
// its own: has_table_privilege given several answers whether the role
// holds any one of them, and a role that could only read the table of
// what was pruned (a reader's grant) passed, to fail every prune.
func (l *pgLog) canPrune(ctx context.Context) error {
	var ok bool
	err := l.session(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT has_table_privilege($1, 'DELETE') AND CASE WHEN to_regclass($2) IS NULL
			THEN has_schema_privilege('pluggy', 'CREATE')
			ELSE has_table_privilege($2, 'SELECT') AND has_table_privilege($2, 'INSERT') AND has_table_privilege($2, 'DELETE') END`, pgTable, pgPruned).Scan(&ok)
	})
	if err == nil && !ok {
		err = errors.New("permission denied")
	}
	return l.pruneCheckError(err)
}

// pruneCheckError is canPrune's error: the privileges a prune needs,
// which the start checks.
func (l *pgLog) pruneCheckError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("PostgreSQL at %s: pruning %s (--retain deletes its old rows and records how far in %s: the receiver's role needs DELETE on the first, and creates the second, or needs SELECT, INSERT and DELETE on it): %s", l.shown, pgTable, pgPruned, postgres.Mask(l.url, err.Error()))
}

// pruneError is the error of a step of Prune (doing), saying why it
// failed as far as the error tells, and that the prune tries again at its
// next round (KeepPruning): a lock another session held past lock_timeout,
// or past the receiver's own pgTimeout for a statement (a transaction left
// open, a report reading the rows FOR UPDATE); a statement_timeout (where
// it is set, postgres.TimeoutWhere, as --postgres's errors say); the
// session lost; and, for a privilege the server refused (42501) alone, the
// GRANT that gives it (grant). Every failure said the role might lack
// DELETE, and a DBA looked for a privilege the role had while the cause
// (a lock, a timeout) went unsaid.
func (l *pgLog) pruneError(err error, doing, grant string) error {
	if err == nil {
		return nil
	}
	msg := postgres.Mask(l.url, err.Error())
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		msg = postgres.Mask(l.url, pg.Message)
	}
	const next = "nothing more was deleted, and the prune tries again at its next round"
	why := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		why = fmt.Sprintf("%s: it took longer than the receiver's %s for one statement, waiting for a lock another session holds on the rows it deletes (a transaction left open, rows read FOR UPDATE; pg_locks and pg_stat_activity say which), or on a slow server; the receiver closed that session, %s", msg, pgTimeout, next)
	case pg != nil && pg.Code == "55P03":
		where, fix := l.timeoutWhere(false, "lock_timeout")
		why = fmt.Sprintf("%s, the lock_timeout %s: another session held a lock on the rows it deletes for longer (a transaction left open, rows read FOR UPDATE; pg_locks and pg_stat_activity say which); %s, which gets through once that session is done. To let the prune wait for it, up to the receiver's %s for a statement: %s",
			msg, where, next, pgTimeout, fix)
	case pg != nil && pg.Code == "40P01":
		why = fmt.Sprintf("%s (another session locked the rows it deletes in the opposite order); %s", msg, next)
	case pg != nil && pg.Code == "57014" && strings.Contains(pg.Message, "statement timeout"):
		// The log's sessions turn statement_timeout off as they connect
		// (pgConnect), but for the URL's.
		where, fix := l.timeoutWhere(true, "statement_timeout")
		why = fmt.Sprintf("%s, the statement_timeout %s; %s, and fails alike while it is set. Fix: %s, or raise it past the longest statement of a prune (a first prune of a long table reads past its old rows)", msg, where, next, fix)
	case pg != nil && pg.Code == "57014":
		why = fmt.Sprintf("%s (another session cancelled it, with pg_cancel_backend, say); %s", msg, next)
	case postgres.LostConnection(err):
		why = fmt.Sprintf("%s: lost the connection (the server restarted, failed over or ended the session); %s", msg, next)
	case pg != nil && pg.Code == "42501":
		why = fmt.Sprintf("%s: the receiver's role lacks a privilege --retain needs; %s, and fails alike until it has it. Fix, as the table's owner: %s",
			msg, next, strings.ReplaceAll(grant, "ROLE", pgx.Identifier{l.user()}.Sanitize()))
	default:
		why = fmt.Sprintf("%s; %s", msg, next)
	}
	return fmt.Errorf("PostgreSQL at %s: pruning %s, %s: %s", l.shown, pgTable, doing, why)
}

// timeoutWhere is postgres.TimeoutWhere for the URL's setting name: where
// it is set and the fix there; off says the log's sessions turn it off.
func (l *pgLog) timeoutWhere(off bool, name string) (where, fix string) {
	cfg, err := parsePG(l.url)
	if err != nil {
		return "", ""
	}
	return postgres.TimeoutWhere(cfg, off, pgGiven, pgApp+" (looking for a setting)", name)
}

// user is the role the URL logs in as.
func (l *pgLog) user() string {
	cfg, err := parsePG(l.url)
	if err != nil {
		return "ROLE"
	}
	return cfg.User
}

// session runs fn on the receiver's session, between appends, connecting
// again if the session was lost. Not under ctx, as Append: pgx closes a
// connection whose query is cancelled, and a shutdown would take the
// session from the appends still in flight.
func (l *pgLog) session(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil || l.conn.IsClosed() {
		if err := l.connect(ctx, false); err != nil {
			return err
		}
	}
	return fn(ctx, l.conn)
}

// readPG reads the table from seq from (exclusive) into ch; read says
// whether from is a position a read took (0 once the table was empty),
// not the start of a first read.
//
// It reads in one snapshot (a REPEATABLE READ transaction): the table's
// first and last seqs, which tell whether the position is still there, and
// the rows after it are those of one moment, so a prune that deletes rows
// meanwhile cannot remove the rows between the position and the ones read.
func readPG(ctx context.Context, url string, from int64, read bool, ch *Changes) (int64, error) {
	conn, err := pgConnect(ctx, url, "webhook_log", nil)
	if err != nil {
		return from, err
	}
	defer conn.Close(context.Background())
	shown := postgres.MaskURL(url)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s: %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var first, top int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM `+pgTable).Scan(&first, &top); err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s (start the receiver with --log on this database first): %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	var pruned int64
	var recorded bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgPruned).Scan(&recorded); err != nil {
		return from, fmt.Errorf("PostgreSQL at %s: reading %s: %s", shown, pgTable, postgres.Mask(url, err.Error()))
	}
	if recorded {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(through), 0) FROM `+pgPruned).Scan(&pruned); err != nil {
			return from, fmt.Errorf("PostgreSQL at %s: reading %s (the receiver's --retain records there how far it pruned %s: grant the read's role SELECT on it, as on %s): %s", shown, pgPruned, pgTable, pgTable, postgres.Mask(url, err.Error()))
		}
	}
	switch {
	case read && from < pruned:
		ch.Reset, ch.ResetReason = true, fmt.Sprintf("seq %d is before the rows the receiver's --retain pruned, through seq %d", from, pruned)
		from = 0
	case from > top:
		// The table was replaced (a new table's seqs start at the clock:
		// pgCreate): what happened between the position and the table's
		// start is unknown.
		ch.Reset, ch.ResetReason = true, fmt.Sprintf("seq %d is past the table's last, %d: the table was replaced", from, top)
		from = 0
	case from > 0 && from < first-1:
		// Rows after the position were deleted: pruned (--retain) or
		// removed by hand, or the table was replaced.
		ch.Reset, ch.ResetReason = true, fmt.Sprintf("seq %d is before the table's first row, %d: the rows after it were deleted (the receiver's --retain prunes the rows older than it) or the table was replaced", from, first)
		from = 0
	}
	rows, err := tx.Query(ctx, `SELECT seq, payload FROM `+pgTable+` WHERE seq > $1 AND seq <= $2 ORDER BY seq`, from, top)
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
