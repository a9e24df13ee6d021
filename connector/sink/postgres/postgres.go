package postgres

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
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

// connect opens the run's two sessions, the merging one (d.conn) first,
// with timeouts off. The first is sent those every server has (no
// settingSince); once it has said the server's version, the second is sent
// all the server has, and the first gets the rest by set_config, or is
// opened again with them where its session ended before (a role's
// idle_session_timeout or transaction_timeout shorter than a round trip).
// Both are opened before anything is made: a second connection the server
// refuses (a connection limit) fails the run before setup has made
// anything.
func (d *Destination) connect(ctx context.Context) error {
	for _, p := range timeouts {
		if settingSince[p] == "" && !urlSets(d.cfg, p) {
			d.startup = append(d.startup, p)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, d.sessionConfig())
	refused := err != nil && refusedStartup(err, d.startup)
	if refused {
		// A pooler in front of the server (PgBouncer) refuses the
		// parameters it does not track: they are set once connected.
		d.startup = nil
		conn, err = pgx.ConnectConfig(ctx, d.sessionConfig())
	}
	if err != nil {
		return d.connectError(err, d.cfg)
	}
	d.conn = conn
	sent := slices.Clone(d.startup)
	if !refused {
		major := serverMajor(conn)
		for _, p := range timeouts {
			if v := settingSince[p]; v != "" && major >= atoi(v) && !urlSets(d.cfg, p) {
				d.startup = append(d.startup, p)
			}
		}
	}
	doing, err := d.timeoutsOff(ctx, d.conn, sent)
	if err != nil && len(d.startup) > len(sent) && lostConnection(err) {
		d.conn.Close(context.Background())
		if d.conn, err = pgx.ConnectConfig(ctx, d.sessionConfig()); err != nil {
			return d.connectError(err, d.cfg)
		}
	}
	if err != nil {
		d.conn.Close(context.Background())
		return d.sqlError(err, doing)
	}
	if d.load, err = pgx.ConnectConfig(ctx, d.sessionConfig()); err != nil {
		d.conn.Close(context.Background())
		return d.connectError(err, d.cfg)
	}
	if doing, err := d.timeoutsOff(ctx, d.load, d.startup); err != nil {
		d.load.Close(context.Background())
		d.conn.Close(context.Background())
		return d.sqlError(err, doing)
	}
	return nil
}

// sessionConfig is the URL's configuration with the run's startup
// parameters: the timeouts of d.startup off.
func (d *Destination) sessionConfig() *pgx.ConnConfig {
	cfg := d.cfg.Copy()
	for _, p := range d.startup {
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
// and the URL does not set, but for those sent as its startup parameters.
// It returns the statement's error unwrapped, with what it was doing, for
// connect to tell a session ended from the rest.
func (d *Destination) timeoutsOff(ctx context.Context, c *pgx.Conn, sent []string) (doing string, err error) {
	var off []string
	for _, p := range timeouts {
		if !urlSets(d.cfg, p) && !slices.Contains(sent, p) {
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

// lockHolders names the other sessions that hold a lock on a table or
// view of the schema (an analyst's query, a transaction left open), for an
// error saying what a statement waited for: once lock_timeout has ended
// the wait, pg_blocking_pids no longer says. It looks from a connection of
// its own, as the run's may be in a failed transaction or gone; "" if it
// cannot tell.
func (d *Destination) lockHolders() string {
	if d.cfg == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := d.sessionConfig()
	cfg.RuntimeParams["application_name"] = d.holderName() + " (looking for lock holders)"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return ""
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), coalesce(a.state, ''), a.xact_start,
			string_agg(DISTINCT format('%I.%I (%s)', n.nspname, c.relname, l.mode), ', ')
		FROM pg_locks l
		JOIN pg_class c ON c.oid = l.relation
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.granted AND n.nspname = $1 AND c.relkind <> 'i' AND l.pid <> pg_backend_pid()
		  AND coalesce(a.application_name, '') NOT LIKE $2
		GROUP BY 1, 2, 3, 4, 5
		ORDER BY a.xact_start NULLS LAST
		LIMIT 5`, d.opts.Schema, d.holderName()+"%")
	if err != nil {
		return ""
	}
	var held []string
	for rows.Next() {
		var pid int32
		var user, app, state, locks string
		var since *time.Time
		if rows.Scan(&pid, &user, &app, &state, &since, &locks) != nil {
			return ""
		}
		h := fmt.Sprintf("server pid %d (user %q", pid, user)
		if app != "" {
			h += fmt.Sprintf(", application %q", app)
		}
		if state != "" {
			h += ", " + state
		}
		if since != nil {
			h += ", in a transaction since " + since.UTC().Format(time.RFC3339)
		}
		held = append(held, h+") holding "+locks)
	}
	if rows.Err() != nil || len(held) == 0 {
		return ""
	}
	return "; now " + strings.Join(held, "; ")
}

// holderName labels this run's session in pg_stat_activity, where a second
// run looks for who holds the lock.
func (d *Destination) holderName() string {
	return fmt.Sprintf("%s --postgres, started %s", d.opts.Connector, d.started.Format(time.RFC3339))
}

// mask removes the URL's secrets from s.
func (d *Destination) mask(s string) string { return Mask(d.opts.URL, s) }

// Mask returns s with the secrets of the connection string raw (its
// password, as written and decoded, and an sslpassword) replaced by xxxxx:
// for the text of an error about connecting with it.
func Mask(raw, s string) string {
	secrets := secret.URLSecrets(raw)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) }) // a secret inside another is masked whole
	for _, pw := range secrets {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return s
}

// MaskURL returns raw, a URL or key=value string, with its secrets replaced
// by xxxxx, for messages; also when it does not parse, as a message about
// it quotes it.
func MaskURL(raw string) string { return secret.MaskURL(raw, "xxxxx") }

// connectError explains a failed connection: unreachable, refused
// credentials, or a database that does not exist.
func (d *Destination) connectError(err error, cfg *pgx.ConnConfig) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "28P01", "28000":
			return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
				Msg: fmt.Sprintf("PostgreSQL at %s refused user %q (%s); fix the user or password in --postgres", d.shown, cfg.User, pg.Message)}
		case "42501":
			return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
				Msg: fmt.Sprintf("PostgreSQL at %s refused user %q (%s); as the database's owner, GRANT CONNECT ON DATABASE %s TO %s, or fix the user or database in --postgres", d.shown, cfg.User, pg.Message, ident(cfg.Database), ident(cfg.User))}
		case "3D000":
			return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
				Msg: fmt.Sprintf("PostgreSQL at %s has no database %q; create it (CREATE DATABASE %s) or fix the database in --postgres", d.shown, cfg.Database, ident(cfg.Database))}
		case "08P01":
			if name, ok := strings.CutPrefix(pg.Message, "unsupported startup parameter: "); ok {
				return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s refused the connection: %s; a connection pooler (PgBouncer) in front of the server takes no parameter %s from a client: remove it from --postgres and set it for the user instead (ALTER ROLE %s SET %s = …), or add it to the pooler's ignore_startup_parameters",
						d.shown, pg.Message, name, ident(cfg.User), name)}
			}
		case "42704":
			// A setting the URL sets that the server does not have: one
			// of a later version (transaction_timeout, 17), or misspelt.
			// It refuses every connection so: the URL to fix.
			if name, ok := strings.CutPrefix(pg.Message, "unrecognized configuration parameter "); ok {
				name = strings.Trim(name, `"`)
				since := ""
				if v := settingSince[name]; v != "" {
					since = fmt.Sprintf(" (PostgreSQL %s added it, and this server is older)", v)
				}
				by := setBy(cfg, name)
				return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s refused the connection: %s; the server has no setting %s%s, which %s sets (a parameter of its own, in options=-c …, or in PGOPTIONS): remove it from %s, or fix its name",
						d.shown, pg.Message, name, since, by, by)}
			}
		case "53300":
			return &source.Error{Type: connectFailureType(err), Err: errors.New(d.mask(err.Error())),
				Msg: fmt.Sprintf("PostgreSQL at %s refused the connection: %s; a run opens two connections: raise the connection limit of the --postgres user (ALTER ROLE %s CONNECTION LIMIT …) or of the server (max_connections), or end idle sessions", d.shown, pg.Message, ident(cfg.User))}
		}
		return &source.Error{Type: connectFailureType(err), Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s refused the connection: %s", d.shown, pg.Message)}
	}
	var cert *tls.CertificateVerificationError
	if last := lastAttempt(err); strings.Contains(last.Error(), ": tls error: ") || errors.As(last, &cert) {
		// The server answered, so the host and port are right: what failed
		// is the TLS that sslmode asks for (a server without TLS, or a
		// certificate the client does not trust).
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: the TLS connection that sslmode asks for failed (%s); fix sslmode in --postgres (or PGSSLMODE): "+
				"sslmode=disable for a server without TLS, require to encrypt without checking the certificate, verify-full with sslrootcert=FILE (the CA that signed the server's certificate) to check it",
				d.shown, d.mask(last.Error()))}
	}
	return &source.Error{Type: connectFailureType(err), Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("cannot reach PostgreSQL at %s; check the host and port in --postgres and that the server is running and accepts TCP connections from here", d.shown)}
}

// settingSince is the PostgreSQL version that added a setting a URL may
// set for the run (see timeouts), for the error of a server older than it.
var settingSince = map[string]string{
	"transaction_timeout":              "17",
	"idle_session_timeout":             "14",
	"client_connection_check_interval": "14",
}

// connectFailureType classifies a failed connection for a scheduler: a
// transient_error (exit 75 with --detailed-exit-codes, retried) where the
// server may be restarting or failing over, a config_error (78, not
// retried) where the URL or the database is what to fix.
func connectFailureType(err error) protocol.FailureType {
	if Unreachable(err) {
		return protocol.TransientError
	}
	return protocol.ConfigError
}

// Unreachable reports whether a failed connection is the server's state
// rather than the URL's: it refused the connection or did not answer, is
// starting up, shutting down or in recovery (57P03), or has no connection
// slot left (53300 "too many clients already"). A host name that does not
// resolve is a typo, and a role's own connection limit (53300 "too many
// connections for role") refuses every run: neither is.
func Unreachable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "08P01" && strings.HasPrefix(pg.Message, "unsupported startup parameter"):
			return false // a pooler's answer to a parameter of the URL: the URL to fix
		case pg.Code == "57P03", strings.HasPrefix(pg.Code, "08"):
			return true
		case pg.Code == "53300":
			return !strings.Contains(pg.Message, "for role")
		}
		return false
	}
	if dns := (*net.DNSError)(nil); errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	var cert *tls.CertificateVerificationError
	if last := lastAttempt(err); strings.Contains(last.Error(), ": tls error: ") || errors.As(last, &cert) {
		return false
	}
	return true
}

// lastAttempt is the failure of the last connection attempt of err: pgx
// tries each address, and with sslmode=prefer (the default) each with TLS
// and then without, joining their errors, and only the last one says why
// the connection failed in the end.
func lastAttempt(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if j, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
			if errs := j.Unwrap(); len(errs) > 0 {
				return errs[len(errs)-1]
			}
		}
		return ce.Unwrap()
	}
	return err
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

// lockedError names the run that holds the schema's lock, what its
// session is doing, and how to end it: a run killed on a node that lost
// contact keeps its session, and the lock, until the server sees the
// connection end (TCP keepalive: hours by default), and every run until
// then stops here.
func (d *Destination) lockedError(ctx context.Context, key int64) error {
	var holder, state string
	var pid int32
	var since, stateSince *time.Time
	err := d.conn.QueryRow(ctx, `
		SELECT l.pid, coalesce(a.application_name, ''), a.backend_start, coalesce(a.state, ''), a.state_change
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.classid::bigint = $1 AND l.objid::bigint = $2
		LIMIT 1`, int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&pid, &holder, &since, &state, &stateSince)
	who, end := "another run", ""
	if err == nil {
		doing := ""
		if state != "" && stateSince != nil {
			doing = fmt.Sprintf(", %s since %s", state, stateSince.UTC().Format(time.RFC3339))
		}
		switch {
		case holder != "":
			who = fmt.Sprintf("another run (%s; server pid %d%s)", holder, pid, doing)
		case since != nil:
			who = fmt.Sprintf("another session (connected since %s; server pid %d%s)", since.UTC().Format(time.RFC3339), pid, doing)
		default:
			who = fmt.Sprintf("another session (server pid %d%s)", pid, doing)
		}
		end = fmt.Sprintf("; if it is gone (killed on a machine that lost contact, whose connection the server has not seen end), end its session: SELECT pg_terminate_backend(%d)", pid)
	}
	return source.TransientErrorf("PostgreSQL at %s: %s is writing to schema %q and holds its lock; this run stopped before writing anything. "+
		"Run again once it has finished (only one run may write a schema at a time), or stop it%s", d.shown, who, d.opts.Schema, end)
}

// sqlError wraps a failed statement with what was being done and the URL.
func (d *Destination) sqlError(err error, doing string) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if name := sessionTimeouts[pg.Code]; name != "" && d.cfg != nil && urlSets(d.cfg, name) {
			// The server ended the session on a timeout the URL sets
			// (the run turns the user's and the database's off), and
			// will at every run: the URL to fix, not a server to wait
			// for. Nothing more can be loaded on it: the read stops.
			return source.EndsRun(d.urlTimeoutError(err, pg, doing, name, true))
		}
	}
	if lostConnection(err) {
		// The server restarted, failed over or ended the session: what
		// was committed stays, with its state, and a run started again
		// resumes from it, as after a kill. Nothing more can be loaded:
		// the read stops, rather than call the API for every account
		// left and fail each alike.
		return source.EndsRun(&source.Error{Type: protocol.TransientError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: lost the connection (the server restarted, failed over or ended the session%s); what was committed stays, and nothing after it: run again, and it resumes from the last commit",
				d.shown, doing, d.endingTimeoutsSet())})
	}
	if errors.As(err, &pg) && (pg.Code == "55P03" || pg.Code == "40P01") {
		// Another session held what the statement needed (a long report
		// on the table, a transaction left open, the DBA's maintenance)
		// past lock_timeout, or a deadlock with it: it rolled back, and a
		// later run gets through.
		return &source.Error{Type: protocol.TransientError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s (another session held a lock it needed past lock_timeout, the --postgres URL's, user's, database's or server's, else the run's own %s, or in a deadlock%s); what was committed stays, and nothing after it: "+
				"run again once that session is done (end it with SELECT pg_terminate_backend(<pid>) if it was left open), or raise lock_timeout in --postgres (?lock_timeout=1min)",
				d.shown, doing, pg.Message, lockWait, d.lockHolders())}
	}
	if errors.As(err, &pg) && pg.Code == "57014" {
		// Cancelled: by the statement_timeout the URL sets (the run turns
		// the user's and the database's off, see timeouts), which cancels
		// the COPY that stays open while the API is read, or a large
		// merge, at every run; or by another session (pg_cancel_backend).
		if strings.Contains(pg.Message, "statement timeout") {
			if d.cfg != nil && !urlSets(d.cfg, "statement_timeout") {
				return d.timeoutElsewhereError(err, pg, doing, "statement_timeout")
			}
			return d.urlTimeoutError(err, pg, doing, "statement_timeout", false)
		}
		return &source.Error{Type: protocol.TransientError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s (another session cancelled it, with pg_cancel_backend, say); the transaction rolled back whole, and what was committed before stays: run again, and it resumes from the last commit",
				d.shown, doing, pg.Message)}
	}
	if errors.As(err, &pg) && strings.HasPrefix(pg.Code, "53") {
		// The server ran out of something: the statement's transaction
		// rolled back whole, a checkpoint's rows with its state.
		what, fix, ty := "a resource", "free it", protocol.TransientError
		switch pg.Code {
		case "53100":
			what, fix = "disk space", "free space on its disk, or grow the disk"
		case "53200":
			what, fix = "memory", "free memory on the server"
		case "53400":
			// temp_file_limit and its kind: every run meets it again.
			what, fix, ty = "a limit of its configuration", "raise that limit for the --postgres user or database (ALTER ROLE … SET …)", protocol.ConfigError
		}
		return &source.Error{Type: ty, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: the server ran out of %s (%s); the transaction rolled back whole, and what was committed before stays (each checkpoint's rows with its state). Fix: %s, then run again: it resumes from the last commit",
				d.shown, doing, what, pg.Message, fix)}
	}
	if errors.As(err, &pg) && pg.Code == "25006" {
		// A server or session that takes no writes: no run will write
		// there until the URL or the setting changes.
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: the database is read-only (%s), a hot standby (a replica's endpoint) or default_transaction_read_only on; nothing more was written. "+
				"Fix: point --postgres at the primary (with several hosts in it, add target_session_attrs=read-write), or turn default_transaction_read_only off for the --postgres user or database",
				d.shown, doing, pg.Message)}
	}
	if errors.As(err, &pg) && pg.Code == "42501" && strings.HasPrefix(pg.Message, "must be owner of ") {
		// Ownership is no privilege a GRANT gives: the tables were made
		// by another role (a first run as another user, or by hand), and
		// the run alters them (a default, a column a newer schema adds).
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: permission denied (%s): another role made the tables of schema %s, and the run alters them, which only their owner may. "+
				"Fix: make the --postgres user %s their owner (as their owner or a superuser: REASSIGN OWNED BY <that role> TO %s if it owns nothing else, or ALTER TABLE … OWNER TO %s for each table and view of the schema), or use another --postgres-schema",
				d.shown, doing, pg.Message, ident(d.opts.Schema), ident(d.user), ident(d.user), ident(d.user))}
	}
	if errors.As(err, &pg) && pg.Code == "42501" {
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: permission denied (%s); grant the --postgres user the privilege, or use another --postgres-schema", d.shown, doing, pg.Message)}
	}
	// The sink's tables have no constraint but their primary key, which
	// every row meets: one the table was given since (NOT NULL on a column
	// the stream may leave null, a CHECK, a foreign key) fails every run
	// the same way until it is changed.
	// (A unique violation of a primary key is not one: that would be the
	// sink's own bug, a system error.)
	if errors.As(err, &pg) && strings.HasPrefix(pg.Code, "23") && pg.TableName != "" && !(pg.Code == "23505" && strings.HasSuffix(pg.ConstraintName, "_pkey")) {
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: the rows break a constraint the sink did not make (%s); nothing of this checkpoint was written. Fix: drop that constraint (ALTER TABLE %s …), or use another --postgres-schema",
				d.shown, doing, pg.Message, pgx.Identifier{pg.SchemaName, pg.TableName}.Sanitize())}
	}
	if errors.As(err, &pg) && userFunction(pg) {
		// The sink calls no function of its own: one that failed is the
		// database's (a trigger someone put on the table, an audit
		// log's), and fails every run the same way until it is fixed.
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: a function the sink did not make failed (%s; %s), a trigger on the table, say; nothing of this checkpoint was written. "+
				"Fix: fix that function or drop its trigger (DROP TRIGGER … ON …), or use another --postgres-schema",
				d.shown, doing, pg.Message, strings.ReplaceAll(pg.Where, "\n", "; "))}
	}
	return &source.Error{Type: protocol.SystemError, Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: %s", d.shown, doing)}
}

// userFunction reports whether pg was raised inside a function (PL/pgSQL
// or SQL, as its context says) and is no state of the server's that a
// later run would not meet: out of resources (53), an operator's or the
// server's intervention (57, 58, XX), a connection (08) or a transaction
// rolled back for a conflict (40).
func userFunction(pg *pgconn.PgError) bool {
	if !strings.Contains(pg.Where, "PL/pgSQL function") && !strings.Contains(pg.Where, "SQL function") {
		return false
	}
	for _, class := range []string{"53", "57", "58", "XX", "08", "40"} {
		if strings.HasPrefix(pg.Code, class) {
			return false
		}
	}
	return true
}

// lostConnection reports whether err is the end of a session rather than
// the statement's fault: the server ended it (shutting down 57P01,
// crashed 57P02, starting up 57P03, idle too long 57P05, idle in a
// transaction too long 25P03, in a transaction too long 25P04, a
// connection error 08…), or the connection broke or was already closed by
// such an end (EOF, a reset, "conn closed").
func lostConnection(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "57P01", "57P02", "57P03", "57P05", "25P03", "25P04":
			return true
		}
		return strings.HasPrefix(pg.Code, "08")
	}
	var op *net.OpError
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &op)
}

// sessionTimeouts names the timeout that made the server end a session,
// by the SQLSTATE of its FATAL error: each ends the session, not only the
// statement, as statement_timeout does.
var sessionTimeouts = map[string]string{
	"57P05": "idle_session_timeout",                // PostgreSQL 14
	"25P03": "idle_in_transaction_session_timeout", // 9.6
	"25P04": "transaction_timeout",                 // 17
}

// timeoutNeedsOff says, for each of timeouts, why a run meets it at every
// run, for the error that names it.
var timeoutNeedsOff = map[string]string{
	"statement_timeout":                   "a COPY stays open while the API is read, and a merge takes as long as its rows",
	"transaction_timeout":                 "a COPY stays open while the API is read, and a merge takes as long as its rows",
	"idle_in_transaction_session_timeout": "a merge's transaction waits between its statements, the longer on a loaded machine",
	"idle_session_timeout":                "each session waits, idle, while the API's pages are read between checkpoints",
}

// urlTimeoutError is the config_error of a statement cancelled, or a
// session ended (ended), by timeout name, one the --postgres URL sets: it
// names the setting and the fix, where a statement_timeout's was a
// system_error quoting the server alone and the others read as a lost
// connection, to run again, failing alike at every run.
func (d *Destination) urlTimeoutError(err error, pg *pgconn.PgError, doing, name string, ended bool) error {
	what := "the transaction rolled back whole"
	if ended {
		what = "the server ended the session, rolling back what it had not committed"
	}
	by := setBy(d.cfg, name)
	return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s, the %s that %s sets; %s, and what was committed before stays. "+
			"Fix: remove %s from %s (the run turns the user's and the database's off: %s), or raise it well past the longest run",
			d.shown, doing, pg.Message, name, by, what, name, by, timeoutNeedsOff[name])}
}

// timeoutElsewhereError is the config_error of a statement cancelled by
// timeout name where the URL does not set it: the run turns it off, in
// its sessions' startup parameters, which the server applies above the
// user's, the database's and its configuration's settings, but a pooler
// in front of the server may refuse them, and then a short one (1ms) of
// the role's cancels the very statement that turns it off once connected.
// It names where the server has it from (timeoutOrigin) and the fix there,
// where it said the URL sets it, which sent the user to a URL that does
// not hold it.
func (d *Destination) timeoutElsewhereError(err error, pg *pgconn.PgError, doing, name string) error {
	var where, fix string
	if slices.Contains(d.startup, name) {
		// Sent at startup: no setting of the role's, the database's or
		// the server's files outranks it, only a statement's own SET.
		where = "set by a statement of the session's own, not in --postgres: a function or trigger of the database's that sets it (ALTER FUNCTION … SET, a SET within it, a login event trigger); the user's, the database's and the server's settings it cannot be, as the run's startup parameters override them"
		fix = "remove that SET"
	} else {
		where, fix = d.timeoutOrigin(name)
		where += "; the run turns it off in its connections' startup parameters, which the server applies above such settings, but a connection pooler in front of the server (PgBouncer) refused them, and this one cancelled the statement that turns it off once connected"
	}
	return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s, the %s %s; the transaction rolled back whole, and what was committed before stays. "+
			"Fix: %s, or raise it well past the longest run (the run needs it off: %s)",
			d.shown, doing, pg.Message, name, where, fix, timeoutNeedsOff[name])}
}

// timeoutOrigin says where the server has setting name from for the run's
// user and database, by pg_settings' source in a session of its own, and
// the fix there: ALTER ROLE or ALTER DATABASE … RESET, or ALTER SYSTEM
// RESET (or the file) and a reload. A session that cannot tell (a short
// statement_timeout cancels the look itself, five times) gets every place
// it may be and how to find which.
func (d *Destination) timeoutOrigin(name string) (where, fix string) {
	user, db := ident(d.user), ident(d.cfg.Database)
	where = fmt.Sprintf("set for the --postgres user or its database (ALTER ROLE %s SET, ALTER DATABASE %s SET) or in the server's configuration (postgresql.conf, ALTER SYSTEM), not in --postgres", user, db)
	fix = fmt.Sprintf("reset it where it is set (connected as %s without the pooler, SELECT source FROM pg_settings WHERE name = '%s' says where): ALTER ROLE %s RESET %s, ALTER DATABASE %s RESET %s, or ALTER SYSTEM RESET %s (or remove it from postgresql.conf) and SELECT pg_reload_conf()",
		user, name, user, name, db, name, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := d.sessionConfig()
	cfg.RuntimeParams["application_name"] = d.holderName() + " (looking for a setting)"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return where, fix
	}
	defer conn.Close(context.Background())
	var src, file, value, u, dbName string
	for range 5 {
		err = conn.QueryRow(ctx, "SELECT source, coalesce(sourcefile, ''), current_setting(name), session_user::text, current_database()::text FROM pg_settings WHERE name = $1", name).
			Scan(&src, &file, &value, &u, &dbName)
		if err == nil {
			break
		}
	}
	if err != nil {
		return where, fix
	}
	user, db = ident(u), ident(dbName)
	switch src {
	case "database user":
		return fmt.Sprintf("of %s set for the --postgres user %s in database %s (ALTER ROLE … IN DATABASE … SET), not in --postgres", value, user, db),
			fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET %s", user, db, name)
	case "user":
		return fmt.Sprintf("of %s set for the --postgres user %s (ALTER ROLE … SET), not in --postgres", value, user),
			fmt.Sprintf("ALTER ROLE %s RESET %s", user, name)
	case "database":
		return fmt.Sprintf("of %s set for database %s (ALTER DATABASE … SET), not in --postgres", value, db),
			fmt.Sprintf("ALTER DATABASE %s RESET %s", db, name)
	case "global":
		return fmt.Sprintf("of %s set for every user (ALTER ROLE ALL SET), not in --postgres", value),
			"ALTER ROLE ALL RESET " + name
	case "configuration file":
		// sourcefile is shown to superusers and pg_read_all_settings only.
		in, fix := "postgresql.conf or ALTER SYSTEM's postgresql.auto.conf", fmt.Sprintf("ALTER SYSTEM RESET %s if ALTER SYSTEM set it, else remove it from postgresql.conf, then SELECT pg_reload_conf()", name)
		switch {
		case strings.HasSuffix(file, "postgresql.auto.conf"):
			in, fix = file+", ALTER SYSTEM's", fmt.Sprintf("ALTER SYSTEM RESET %s, then SELECT pg_reload_conf()", name)
		case file != "":
			in, fix = file, fmt.Sprintf("remove it from %s, then SELECT pg_reload_conf()", file)
		}
		return fmt.Sprintf("of %s set in the server's configuration (%s), not in --postgres", value, in), fix
	case "command line":
		return fmt.Sprintf("of %s set on the server's command line (postgres -c), not in --postgres", value),
			"remove it from the server's command line and restart it"
	}
	return where, fix
}

// setBy names where a server setting that urlSets finds in cfg came
// from, for an error telling the user to remove it: "PGOPTIONS" where it
// is in the options that libpq's environment variable gave the
// connection (pgx reads it as libpq does, where the URL sets no options
// of its own), else "--postgres". An error that said --postgres for one
// PGOPTIONS set (-c statement_timeout=5min, exported for psql) sent the
// user looking in a URL that does not hold it.
func setBy(cfg *pgx.ConnConfig, name string) string {
	if cfg == nil {
		return "--postgres"
	}
	env := os.Getenv("PGOPTIONS")
	if _, own := cfg.RuntimeParams[name]; !own && env != "" && cfg.RuntimeParams["options"] == env {
		return "PGOPTIONS"
	}
	return "--postgres"
}

// endingTimeoutsSet names, for a lost connection's error, the timeouts
// the URL sets that end a session: over a Unix socket the server's
// FATAL saying it ended the session on one is not read (the write fails
// first), and the run cannot tell it from a restart. "" if none.
func (d *Destination) endingTimeoutsSet() string {
	if d.cfg == nil {
		return ""
	}
	set := map[string][]string{} // by setBy
	var origins []string
	for _, name := range timeouts {
		if name != "statement_timeout" && urlSets(d.cfg, name) {
			by := setBy(d.cfg, name)
			if set[by] == nil {
				origins = append(origins, by)
			}
			set[by] = append(set[by], name)
		}
	}
	if len(origins) == 0 {
		return ""
	}
	var sets []string
	for _, by := range origins {
		sets = append(sets, by+" sets "+strings.Join(set[by], " and "))
	}
	return fmt.Sprintf("; %s, which ends a session: if the server's log says it did (terminating connection due to … timeout), remove it from %s", strings.Join(sets, ", "), strings.Join(origins, " or "))
}

// wrapSQL passes classified errors through and wraps the others.
func (d *Destination) wrapSQL(err error) error {
	var se *source.Error
	if errors.As(err, &se) {
		return err
	}
	return d.sqlError(err, "preparing the tables")
}

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
	stmts := append(w.t.replaceSQL(w.stage), "TRUNCATE "+w.t.stageName(w.stage))
	for i, q := range stmts {
		var args []any
		if i == 1 {
			args = append(args, w.enc.seq)
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

// referencedError explains a full-refresh swap's TRUNCATE that PostgreSQL
// refused because foreign keys reference the table: a config_error naming
// each and how to drop it, or nil if none is found.
func (w *Table) referencedError(err error) error {
	rows, qerr := w.d.conn.Query(w.ctx, `
		SELECT c.conname, n.nspname, r.relname
		FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) AND c.conrelid <> c.confrelid
		ORDER BY 2, 3, 1`, w.t.qname())
	if qerr != nil {
		return nil
	}
	var fks, fixes []string
	for rows.Next() {
		var name, schema, table string
		if rows.Scan(&name, &schema, &table) != nil {
			rows.Close()
			return nil
		}
		q := pgx.Identifier{schema, table}.Sanitize()
		fks = append(fks, fmt.Sprintf("foreign key %s of table %s", ident(name), q))
		fixes = append(fixes, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", q, ident(name)))
	}
	if rows.Err() != nil || len(fks) == 0 {
		return nil
	}
	return &source.Error{Type: protocol.ConfigError, Err: errors.New(w.d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: replacing the rows of %s: %s references it, and PostgreSQL refuses to TRUNCATE a referenced table, which the full-refresh stream %s does to swap in its new rows; nothing of this stream was written (the table keeps its rows). "+
			"Fix: drop the constraint (%s), or use another --postgres-schema",
			w.d.shown, w.t.qname(), strings.Join(fks, ", "), w.t.name, strings.Join(fixes, "; "))}
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
