package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// ParseURL parses a PostgreSQL URL with pgx, with an error that names what
// to fix and shows no piece of its password: the TLS settings it names
// that cannot be used (a CA file not where it says, a secret mounted
// elsewhere, an sslmode misspelt), for which percent-encoding is no fix,
// or how to write the URL. The error begins with the URL, masked; the
// caller puts before it where the URL was given (--postgres, --log,
// config.webhook_log).
func ParseURL(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	switch {
	case err == nil:
		return cfg, nil
	case tlsSetting(err):
		cause := err
		if inner := errors.Unwrap(err); inner != nil {
			cause = inner
		}
		return nil, fmt.Errorf("%s: its TLS settings cannot be used (%s); fix them (or PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY): "+
			"sslmode one of disable, allow, prefer, require, verify-ca, verify-full, and sslrootcert, sslcert and sslkey naming PEM files this user can read", MaskURL(url), Mask(url, cause.Error()))
	}
	return nil, fmt.Errorf("%s is not a PostgreSQL URL (%s); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE, with a / ? # %% or space in the user or password percent-encoded (%%2F %%3F %%23 %%25 %%20), or the password in PGPASSWORD",
		MaskURL(url), Mask(url, err.Error()))
}

// tlsSetting reports whether err, from parsing a connection string, is
// about its TLS settings (sslmode, or the files sslrootcert, sslcert and
// sslkey name) rather than its form. pgconn says so only in its text.
func tlsSetting(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to configure TLS") || strings.Contains(msg, "sslmode is invalid")
}

// urlSets reports whether the URL sets the server parameter p, as a
// parameter of its own or in options (-c name=value, -cname=value or
// --name=value, a dash standing for an underscore), by the setting's whole
// name: deadlock_timeout does not set lock_timeout.
func urlSets(cfg *pgx.ConnConfig, p string) bool {
	if _, ok := cfg.RuntimeParams[p]; ok {
		return true
	}
	for _, f := range strings.Fields(cfg.RuntimeParams["options"]) {
		f = strings.TrimPrefix(strings.TrimPrefix(f, "-c"), "--")
		name, _, _ := strings.Cut(f, "=")
		if strings.ReplaceAll(name, "-", "_") == p {
			return true
		}
	}
	return false
}

// timeouts are the guards a DBA sets for a role or a database (a common
// one) that would end a run at every run: statement_timeout cancels the
// COPY that stays open while the API is read, or a large merge, and so do
// idle_in_transaction_session_timeout and transaction_timeout (17);
// idle_session_timeout (14) ends the session that holds the schema's lock
// while it waits, idle, for the API's next pages. They are off for the
// run's sessions, as pg_dump turns off the first ones, unless the URL sets
// them (?statement_timeout=…, or in options=-c …).
//
// They are turned off in the sessions' startup parameters (see connect),
// which the server applies before any statement and above the user's and
// the database's settings: set by a statement once connected, a short one
// of the role's (statement_timeout = 1ms) cancelled that very statement,
// and an idle_session_timeout ended the first session while the second
// logged in. A pooler that refuses them (PgBouncer: "unsupported startup
// parameter") gets a connection without them, and they are set once
// connected; so are, on the first session, those not every server has
// (idle_session_timeout, 14; transaction_timeout, 17): a server refuses a
// startup parameter it does not know, and says its version only once
// connected.
var timeouts = []string{"statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout"}

// settingSince is the PostgreSQL version that added a setting a URL may
// set for the run (see timeouts), for the error of a server older than it.
var settingSince = map[string]string{
	"transaction_timeout":              "17",
	"idle_session_timeout":             "14",
	"client_connection_check_interval": "14",
}

// connect opens the run's two sessions, the merging one (d.conn) first,
// with timeouts off (openSession); the second is sent as startup
// parameters all the timeouts the first found the server has. Both are
// opened before anything is made: a second connection the server refuses
// (a connection limit) fails the run before setup has made anything.
func (d *Destination) connect(ctx context.Context) error {
	start := time.Now()
	conn, startup, doing, err := openSession(ctx, d.cfg)
	firstTook := time.Since(start)
	d.startup = startup
	switch {
	case doing != "":
		return d.sqlError(err, doing)
	case err != nil:
		return d.connectError(err, d.cfg)
	}
	d.conn = conn
	// The first session answers a statement before the second is opened:
	// openSession runs none where the URL sets every timeout, and a pool
	// in session mode with one server session (PgBouncer's pool_size =
	// 1, told to ignore them) handed it to the second, whose first
	// statement asked first, and held the first session's until its
	// query_wait_timeout (2 min), which failed the run as a
	// transient_error, where it is a config_error within the wait.
	if _, err := serverPID(ctx, conn); err != nil {
		conn.Close(context.Background())
		return d.sqlError(err, "reading the first session's server process id")
	}
	// The first session's later parameters (idle_session_timeout) may be
	// refused where its first ones were not: dial falls back here too.
	// The second session and its first statement (simple protocol: see
	// below) have secondSessionWait: a pool in session mode with one
	// server session for this user logs it in and holds that statement
	// for ever, or for PgBouncer's query_wait_timeout (2 min).
	wait := secondSessionWait(firstTook)
	second, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	guard := NewCancelGuard(second)
	d.load, d.startup, err = dial(second, guard.Config(d.cfg), d.startup)
	if err == nil {
		_, err = serverPID(second, d.load)
		if err != nil {
			d.load.Close(context.Background())
		} else {
			guard.In()
		}
	}
	if err != nil {
		d.conn.Close(context.Background())
		// A refusal is not late, though the wait ended as dial tried it
		// again (TestPostgresSecondSessionRefusedFarAway).
		late := SecondSessionLate(ctx, second, err) && !oneSessionGiven(err)
		switch {
		case late || oneSessionGiven(err):
			return d.oneSessionError(err, late, wait)
		case d.load != nil:
			return d.sqlError(err, "reading the second session's server process id")
		}
		return d.connectError(err, d.cfg)
	}
	// Before the load session's first statement: through a pool in
	// transaction mode, that statement (prepared, as pgx prepares them)
	// meets the merging session's of the same name on the one server
	// session both were handed, and failed as a system_error naming
	// neither the pooler nor the fix.
	if err := d.ownSessions(ctx); err != nil {
		d.load.Close(context.Background())
		d.conn.Close(context.Background())
		return err
	}
	if doing, err := timeoutsOff(ctx, d.cfg, d.load); err != nil {
		d.load.Close(context.Background())
		d.conn.Close(context.Background())
		return d.sqlError(err, doing)
	}
	return nil
}

// ownSessions refuses a run whose two sessions are not each a server
// session of their own (OwnServerSessions): a connection pooler in front
// of the server (PgBouncer) in transaction or statement mode
// (pool_mode = transaction) hands each transaction, and each statement
// outside one, to whichever server session is free. The schema's advisory
// lock is a server session's, so it stays on the pooled server session
// that took it, and a second run whose statement is handed that same
// server session takes it again (the lock is re-entrant): two runs into
// one schema both went on, where one is to wait (seen through PgBouncer
// 1.18 with default_query_exec_mode=exec in the URL, the usual cure for
// its prepared-statement errors; without it the run failed on one, as a
// system_error naming neither the pooler nor the fix).
func (d *Destination) ownSessions(ctx context.Context) error {
	own, pids, err := OwnServerSessions(ctx, d.conn, d.load)
	switch {
	case err != nil:
		return d.sqlError(err, "reading the sessions' server process ids")
	case own:
		return nil
	}
	return source.ConfigErrorf("PostgreSQL at %s: the run's two sessions ran on one server session, or a session moved between two (server process ids %v and %v), %s, and two runs could write schema %q at once; nothing was written. %s",
		d.shown, pids[0], pids[1], TransactionPooled("the schema's lock"), d.opts.Schema, TransactionPoolFix("--postgres"))
}

// OwnServerSessions reports whether sessions a and b each run on a server
// session of their own, and the server process ids they gave: asked for
// them alternately, three times each, two sessions of a server never
// share one, nor does one change its own, while a pool in transaction
// mode hands the one free server session to each in turn, as it does
// while the pool is otherwise idle. A pool that hands them server sessions
// of their own throughout these six statements goes unnoticed. The
// questions go by the simple protocol, which prepares nothing (a prepared
// statement met on the wrong server session fails: PreparedElsewhere), and
// begin with the comment /*NO LOAD BALANCE*/: a pooler that sends each
// SELECT to a node it picks for it (pgpool-II's
// statement_level_load_balance) answered them from a standby's session
// and the session's own in turn, and a run whose sessions were its own was
// refused as one that moved; pgpool-II sends a query that begins with a
// comment to the session's own node.
func OwnServerSessions(ctx context.Context, a, b *pgx.Conn) (own bool, pids [2][]uint32, err error) {
	for range 3 {
		for i, c := range []*pgx.Conn{a, b} {
			pid, err := serverPID(ctx, c)
			if err != nil {
				return false, pids, err
			}
			pids[i] = append(pids[i], pid)
		}
	}
	shared := slices.ContainsFunc(pids[0], func(p uint32) bool { return slices.Contains(pids[1], p) })
	moved := slices.Min(pids[0]) != slices.Max(pids[0]) || slices.Min(pids[1]) != slices.Max(pids[1])
	return !shared && !moved, pids, nil
}

// serverPID is the server process id of c's server session, asked as
// OwnServerSessions asks it: by the simple protocol, with
// /*NO LOAD BALANCE*/. It goes through pgconn, which sends the query as
// it is: pgx's simple protocol refuses a session whose client_encoding is
// not UTF8, and in a LATIN1 database (the server's default there) the run
// failed on this question, where setup's error names the encoding and the
// fix.
func serverPID(ctx context.Context, c *pgx.Conn) (uint32, error) {
	results, err := c.PgConn().Exec(ctx, "/*NO LOAD BALANCE*/ SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		return 0, err
	}
	if len(results) != 1 || len(results[0].Rows) != 1 || len(results[0].Rows[0]) != 1 {
		return 0, errors.New("pg_backend_pid() returned no single value")
	}
	pid, err := strconv.ParseUint(string(results[0].Rows[0][0]), 10, 32)
	return uint32(pid), err
}

// SecondSessionWait bounds how long a second session of one server waits
// to connect and run its first statement: the run's load session
// (connect), the webhook receiver's for its check of a pool in transaction
// mode. A pool in session mode with one server session for the user
// (PgBouncer's pool_size = 1, or a role's CONNECTION LIMIT 1 behind it)
// logs the second client in and holds its first statement until the
// first session's server session is released, which it is not while the
// first waits for the second: a read hung until the pooler gave up
// (query_wait_timeout, 2 min by default; for ever with 0).
const SecondSessionWait = 5 * time.Second

// secondSessionWait is how long the run's second session may take: at
// least SecondSessionWait, and four times what the first took (connecting,
// turning its timeouts off), so that a server far away or busy, whose
// first session took seconds, is not taken for a pool of one.
func secondSessionWait(firstTook time.Duration) time.Duration {
	return max(SecondSessionWait, 4*firstTook)
}

// CancelGuard keeps a second session of a server, opened within
// SecondSessionWait, from sending a cancel request until the session is
// in: until it has answered its first statement, so that a pooler in
// front of the server has given it a server session. pgx sends one for a
// statement its context cut short, as it closes the connection, and
// PgBouncer 1.18, sent one for a client it held in its queue (pool_size
// = 1, the first session holding the one server session) by a run that
// then exited, crashed (FATAL "bad client state in disconnect_client"),
// dropping every client of it. Such a statement reached no server, and
// the session's Terminate ends it. The guard holds from the moment the
// wait ended, by its bound or by the run's context (the webhook
// receiver's start stopped by SIGTERM), not before: a session dialled
// meanwhile dials as cfg's. It is lifted once the session is in, so that
// a statement a caller's context cuts short later (Table's) is cancelled
// on the server, not left running until the server notices the
// connection gone, though the wait's bound passed after the session got
// in (connect's check of the sessions, OwnServerSessions, is outside it).
type CancelGuard struct {
	bounded context.Context
	in      atomic.Bool
}

// NewCancelGuard is a guard for a second session dialled with bounded,
// the context of its SecondSessionWait (of the run's context).
func NewCancelGuard(bounded context.Context) *CancelGuard {
	return &CancelGuard{bounded: bounded}
}

// Config is a copy of cfg for the guarded session: it dials nothing, a
// cancel request among them, once g's wait has ended and until In.
func (g *CancelGuard) Config(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	cfg = cfg.Copy()
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !g.in.Load() && g.bounded.Err() != nil {
			return nil, errors.New("no cancel request for a second session a pooler may hold in its queue")
		}
		return dial(ctx, network, addr)
	}
	return cfg
}

// In lifts the guard: the session has answered a statement, and is a
// server session's.
func (g *CancelGuard) In() { g.in.Store(true) }

// SecondSessionLate reports whether err, of a second session opened with
// bounded, a context of ctx's with SecondSessionWait, is that wait ended,
// not ctx's end (a run stopped) nor the server's own error.
func SecondSessionLate(ctx, bounded context.Context, err error) bool {
	return err != nil && bounded.Err() != nil && ctx.Err() == nil
}

// NoneFree reports whether err refused a session for want of a free
// connection: the server's max_connections reached or the role's
// CONNECTION LIMIT (SQLSTATE 53300), or a pooler in front of it
// (PgBouncer) holding as many clients as it takes (max_client_conn), which
// it says only in its text, as a protocol violation (08P01).
func NoneFree(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "53300" || poolerFull(pe))
}

// poolerFull reports whether pe is PgBouncer's refusal of a client over
// its max_client_conn.
func poolerFull(pe *pgconn.PgError) bool {
	return pe.Code == "08P01" && strings.HasPrefix(pe.Message, "no more connections allowed")
}

// oneSessionGiven reports whether err refused the run's second session
// because the user may have one: the role's CONNECTION LIMIT ("too many
// connections for role"), or a pooler's client limit. A server with no
// slot left for anyone (its max_connections) is not: connectError's.
func oneSessionGiven(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "53300" && strings.HasPrefix(pe.Message, "too many connections for role") || poolerFull(pe))
}

// oneSessionError is connect's config_error for a second session that
// did not come within SecondSessionWait (late) or was refused as only the
// user's one (oneSessionGiven): it names the cause and the fixes, not the
// password. Without it a read through PgBouncer with pool_size = 1 hung.
func (d *Destination) oneSessionError(err error, late bool, wait time.Duration) error {
	cause := fmt.Sprintf("was refused (%s)", d.mask(err.Error()))
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		cause = fmt.Sprintf("was refused (%s)", d.mask(pe.Message))
	}
	if late {
		cause = fmt.Sprintf("did not come within %s (a connection pooler in session mode, PgBouncer, held it for a server session that never came free; or, less likely, the server was too slow to take a second connection, four times slower than the first)", wait.Round(time.Millisecond))
	}
	return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: the run's second connection %s; the pool or the role gives user %q one session, and a run needs two connections, a merge's transaction and the COPY beside it each a session of its own; nothing was written. "+
			"Fix: a pool_size (or default_pool_size) of at least 2 for this database and user in PgBouncer (and a max_client_conn with room for both), the role's CONNECTION LIMIT of at least 2 (ALTER ROLE %s CONNECTION LIMIT 2), or --postgres pointing at the server directly",
			d.shown, cause, d.cfg.User, ident(d.cfg.User))}
}

// Connect opens a session of cfg as the run opens its own (openSession):
// with the timeouts a DBA may set for a role or a database off
// (statement_timeout, idle_in_transaction_session_timeout,
// idle_session_timeout, transaction_timeout), but for those cfg's URL
// sets: for the webhook receiver's log, whose session waits idle between
// deliveries and whose prunes read long tables (pgConnect there). given
// is where the URL was given (--log, webhook_log), for the error. Its
// error is the connection's, or that of the statement that turns off,
// once connected, those not sent as startup parameters, saying so; one a
// statement_timeout cancelled (a role's of 1ms, through a pooler that
// refused them) names where it is set and the fix there, as --postgres's
// does (TimeoutWhere), where it quoted the server alone.
func Connect(ctx context.Context, cfg *pgx.ConnConfig, given string) (*pgx.Conn, error) {
	conn, _, doing, err := openSession(ctx, cfg)
	if doing == "" {
		return conn, err
	}
	if pg := (*pgconn.PgError)(nil); errors.As(err, &pg) && pg.Code == "57014" && strings.Contains(pg.Message, "statement timeout") {
		app := cfg.RuntimeParams["application_name"] + " (looking for a setting)"
		where, fix := TimeoutWhere(cfg, false, given, app, "statement_timeout")
		if !urlSets(cfg, "statement_timeout") {
			where += pooledTooShort
		}
		return nil, fmt.Errorf("%s once connected: %w, the statement_timeout %s. Fix: %s, or raise it past what that statement takes", doing, err, where, fix)
	}
	if PreparedElsewhere(err) {
		return nil, fmt.Errorf("%s once connected: %w; the session's statements ran on more than one server session, %s. %s", doing, err, TransactionPooled("a session's advisory lock"), TransactionPoolFix(given))
	}
	return nil, fmt.Errorf("%s once connected: %w", doing, err)
}

// openSession opens a session of cfg with the timeouts off (see timeouts)
// and returns it with the timeouts a further session of the same server is
// to be sent as startup parameters: none through a pooler that refused
// them. It is sent those every server has (no settingSince); once it has
// said the server's version it turns them all off by set_config
// (timeoutsOff), or is opened again with the rest as startup parameters
// where its session ended before (a role's idle_session_timeout or
// transaction_timeout shorter than a round trip).
// An error is the connection's, or, with doing saying what it did, that
// of the statement that turns timeouts off, unwrapped.
func openSession(ctx context.Context, cfg *pgx.ConnConfig) (conn *pgx.Conn, startup []string, doing string, err error) {
	for _, p := range timeouts {
		if settingSince[p] == "" && !urlSets(cfg, p) {
			startup = append(startup, p)
		}
	}
	conn, sent, err := dial(ctx, cfg, startup)
	if err != nil {
		return nil, sent, "", err
	}
	refused := len(sent) < len(startup)
	startup = slices.Clone(sent)
	if !refused {
		major := serverMajor(conn)
		for _, p := range timeouts {
			if v := settingSince[p]; v != "" && major >= atoi(v) && !urlSets(cfg, p) {
				startup = append(startup, p)
			}
		}
	}
	doing, err = timeoutsOff(ctx, cfg, conn)
	if err != nil && len(startup) > len(sent) && lostConnection(err) {
		conn.Close(context.Background())
		if conn, startup, err = dial(ctx, cfg, startup); err != nil {
			return nil, startup, "", err
		}
		doing, err = timeoutsOff(ctx, cfg, conn)
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, startup, doing, err
	}
	return conn, startup, "", nil
}

// dial opens a session of cfg with the timeouts of startup off in its
// startup parameters, or without any where a pooler in front of the
// server (PgBouncer) refuses one of them ("unsupported startup
// parameter"): they are then turned off once connected (timeoutsOff). It
// returns the parameters the session was sent. Every session falls back,
// not only the first: a pooler told to ignore some parameters
// (ignore_startup_parameters: statement_timeout, say) takes those and
// refuses the rest, and the later ones (idle_session_timeout), sent only
// once the first session has said the server's version, failed every run
// there with an error telling the user to remove from --postgres a
// parameter it does not hold.
//
// The pooler may still count the client it refused when the one without
// them comes: PgBouncer frees a refused client on a later turn of its
// loop, and with max_client_conn = 1 the run and the webhook receiver
// were now and then refused at the start ("no more connections allowed
// (max_client_conn)"). That refusal, right after the pooler's own, is
// tried again a few times over about a second (freedWait). Where ctx ends
// meanwhile (a second session's SecondSessionWait, a stop), that refusal
// is the error, not ctx's: a pooler genuinely full refuses every try,
// and a try cut short by the wait's bound, far from the server, was
// taken for a session the pooler held (SecondSessionLate).
func dial(ctx context.Context, cfg *pgx.ConnConfig, startup []string) (*pgx.Conn, []string, error) {
	conn, err := pgx.ConnectConfig(ctx, withStartup(cfg, startup))
	if err == nil || !refusedStartup(err, startup) {
		return conn, startup, err
	}
	plain := withStartup(cfg, nil)
	var full error // the last try's refusal as one client too many
	for try := 0; ; try++ {
		conn, err = pgx.ConnectConfig(ctx, plain)
		if err != nil && full != nil && ctx.Err() != nil {
			return nil, nil, full
		}
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || !poolerFull(pe) || try == len(freedWait) {
			break
		}
		full = err
		select {
		case <-ctx.Done():
			return nil, nil, full
		case <-time.After(freedWait[try]):
		}
	}
	return conn, nil, err
}

// freedWait is how long dial waits before each further try of a session
// a pooler refused as one client too many right after refusing the same
// run's client for a startup parameter: 1.5 s in all, the last refusal
// returned as it came.
var freedWait = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 750 * time.Millisecond}

// sessionConfig is the URL's configuration with the run's startup
// parameters: the timeouts of d.startup off.
func (d *Destination) sessionConfig() *pgx.ConnConfig {
	return withStartup(d.cfg, d.startup)
}

// withStartup is a copy of cfg with the timeouts of startup off in its
// startup parameters.
func withStartup(cfg *pgx.ConnConfig, startup []string) *pgx.ConnConfig {
	cfg = cfg.Copy()
	for _, p := range startup {
		cfg.RuntimeParams[p] = "0"
	}
	return cfg
}

// refusedStartup reports whether the server, or a pooler in front of it,
// refused a connection over one of the startup parameters sent, named at
// the end of its message or quoted ("unsupported startup parameter:
// statement_timeout", PgBouncer's; `unrecognized configuration parameter
// "statement_timeout"`, a server's), not one of the URL's.
func refusedStartup(err error, sent []string) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	for _, p := range sent {
		if strings.HasSuffix(pg.Message, " "+p) || strings.Contains(pg.Message, `"`+p+`"`) {
			return true
		}
	}
	return false
}

// serverMajor is the server's major version, from the server_version it
// reports on connecting ("15.8 (Debian 15.8-1)", "17beta1", "9.6.24" is
// 9); 0 if it says none.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	return atoi(v)
}

// atoi is s as a number, 0 for none.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// timeoutsOff turns off, on session c, the timeouts that the server has
// and cfg's URL does not set, those sent as its startup parameters too: a
// pooler may drop them without a word (PgBouncer's
// ignore_startup_parameters, a common cure for its "unsupported startup
// parameter"), and the role's and the database's then stood, where the
// run had skipped the statement for them. Where the server took them, the
// statement runs with them off already (a role's statement_timeout of
// 1ms cannot cancel it). It returns the statement's error unwrapped, with
// what it was doing, for openSession to tell a session ended from the
// rest.
func timeoutsOff(ctx context.Context, cfg *pgx.ConnConfig, c *pgx.Conn) (doing string, err error) {
	var off []string
	for _, p := range timeouts {
		if !urlSets(cfg, p) {
			off = append(off, p)
		}
	}
	if len(off) == 0 {
		return "", nil
	}
	_, err = c.Exec(ctx, "SELECT set_config(name, '0', false) FROM pg_settings WHERE name = ANY($1)", off)
	return "turning off " + strings.Join(off, ", "), err
}

// lockWait is how long a statement of the run waits for a lock another
// session holds, where neither the URL nor the user, the database or the
// server's configuration sets lock_timeout (to any value, 0 among them,
// but for a 0 of the server's configuration files: see lockWaitBounded).
// PostgreSQL's default is to wait for ever: a column added or a
// full-refresh swap's TRUNCATE waited for an analyst's long query, or a
// transaction left open in psql, for as long as it lasted, holding the
// schema's lock, so that every later run failed as if another were
// writing; and every query of the table after it queued behind the lock it
// asked for, the dashboards on that table stuck with it.
const lockWait = 10 * time.Second

// keepalives are the server's TCP keepalive settings for the run's
// sessions, where the URL, the user, the database and the server's
// configuration leave them to the system: a run on a machine that vanished (a Kubernetes node that lost
// contact) sends no FIN, and its session kept the schema's lock until the
// system's keepalive gave up on it, after two hours and more by default,
// every run stopping on that lock meanwhile. With these the server ends
// such a session within about two minutes of its last packet (60 s idle,
// then 6 probes 10 s apart). Over a Unix socket they do nothing.
var keepalives = []struct{ name, value string }{
	{"tcp_keepalives_idle", "60"},
	{"tcp_keepalives_interval", "10"},
	{"tcp_keepalives_count", "6"},
}

// lockWaitBounded sets lock_timeout to lockWait on both sessions unless
// something set it (the URL, the user, the database, postgresql.conf),
// sets keepalives, and has the server check every second that the run is
// still connected while a statement runs (client_connection_check_interval,
// PostgreSQL 14): a run killed while its statement waited for a lock left
// its session waiting, holding the schema's lock and queueing the table's
// readers, until the lock came.
//
// Whether something set lock_timeout is pg_settings' source, not its value:
// a DBA's ALTER ROLE … SET lock_timeout = 0 means to wait for ever (a
// loader that must not give up behind a nightly report), and it was
// overridden with lockWait as though nobody had set it. The one exception
// is a 0 of the server's configuration files (postgresql.conf, ALTER
// SYSTEM): that is PostgreSQL's default written out, as configuration
// generators write every default, and it cannot be told from one; a DBA
// who wants this loader to wait for ever says so for its role, its
// database or in the URL.
func (d *Destination) lockWaitBounded(ctx context.Context, cfg *pgx.ConnConfig) error {
	for _, c := range []*pgx.Conn{d.conn, d.load} {
		if !urlSets(cfg, "lock_timeout") {
			if _, err := c.Exec(ctx, "SELECT set_config(name, $1, false) FROM pg_settings WHERE name = 'lock_timeout' AND (source = 'default' OR source = 'configuration file' AND setting = '0')",
				fmt.Sprintf("%dms", lockWait.Milliseconds())); err != nil {
				return d.sqlError(err, "setting lock_timeout")
			}
		}
		for _, k := range keepalives {
			if urlSets(cfg, k.name) {
				continue
			}
			// Over TCP pg_settings shows the system's value: a
			// default is one nobody set.
			if _, err := c.Exec(ctx, "SELECT set_config(name, $2, false) FROM pg_settings WHERE name = $1 AND source = 'default'", k.name, k.value); err != nil {
				return d.sqlError(err, "setting "+k.name)
			}
		}
		if !urlSets(cfg, "client_connection_check_interval") {
			if _, err := c.Exec(ctx, "SELECT set_config(name, '1s', false) FROM pg_settings WHERE name = 'client_connection_check_interval' AND setting = '0'"); err != nil {
				return d.sqlError(err, "setting client_connection_check_interval")
			}
		}
	}
	return nil
}

// lockGrace is how long Open waits for a schema's lock before failing.
const lockGrace = 3 * time.Second

// lockKey is the advisory lock of a schema: one writer per schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("source-pluggy --postgres " + schema))
	return int64(h.Sum64())
}

// TryAdvisoryLock takes the session advisory lock key on conn, trying
// again for up to grace while another session holds it: a process that
// held it and was stopped or killed a moment ago keeps it until the server
// notices its connection is gone, which takes a while on a loaded server.
// It reports whether the lock is held.
func TryAdvisoryLock(ctx context.Context, conn *pgx.Conn, key int64, grace time.Duration) (bool, error) {
	for deadline := time.Now().Add(grace); ; {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&locked); err != nil {
			return false, err
		}
		if locked || time.Now().After(deadline) {
			return locked, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// holderName labels this run's session in pg_stat_activity, where a second
// run looks for who holds the lock.
func (d *Destination) holderName() string {
	return fmt.Sprintf("%s --postgres, started %s", d.opts.Connector, d.started.Format(time.RFC3339))
}
