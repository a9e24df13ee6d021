package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

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
			switch {
			case poolerRefusedUser(pg):
				return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s refused user %q (%s); fix the user or password in --postgres, or where a connection pooler in front of the server (PgBouncer) keeps them: it checks them against its auth_file or auth_query, and logs in to the server with them", d.shown, cfg.User, pg.Message)}
			case poolerNoDatabase(pg):
				return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s has no database %q (%s, said through a connection pooler in front of the server, PgBouncer); fix the database in --postgres, add it to the pooler's [databases], or create it on the server (CREATE DATABASE %s)", d.shown, cfg.Database, pg.Message, ident(cfg.Database))}
			case poolerFull(pg):
				// Other clients hold every place: a later run may find
				// one. The message said only the pooler's words, naming
				// neither it nor what to raise.
				return &source.Error{Type: protocol.TransientError, Err: errors.New(d.mask(err.Error())),
					Msg: fmt.Sprintf("PostgreSQL at %s refused the connection: %s; a connection pooler in front of the server (PgBouncer) holds as many clients as its max_client_conn, and a run opens two connections: run again once other clients have left, or raise max_client_conn in the pooler", d.shown, pg.Message)}
			}
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
		case poolerRefusedUser(pg), poolerNoDatabase(pg):
			return false // a pooler's answer to the URL's user, password or database
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

// poolerRefusedUser reports whether pe is a connection pooler's refusal
// of the URL's user or password, its own or the server's passed on.
// PgBouncer (1.18) says either as a protocol violation (08P01, where the
// server says 28P01 or 28000): its own "password authentication failed",
// "SASL authentication failed", "no such user: u", or the server's refusal
// of its login with them (`password authentication failed for user "u"`,
// `role "u" does not exist`). Taken for a server's state, a wrong
// password through it was a transient_error, retried by a scheduler at
// every run, its error naming no fix.
func poolerRefusedUser(pe *pgconn.PgError) bool {
	m := pe.Message
	return pe.Code == "08P01" && (strings.Contains(m, "authentication failed") || strings.HasPrefix(m, "no such user") ||
		strings.HasPrefix(m, `role "`) && strings.HasSuffix(m, `" does not exist`))
}

// poolerNoDatabase reports whether pe is a connection pooler's refusal of
// the URL's database: PgBouncer's own for a database it has no entry for
// ("no such database: bank"), or the server's passed on for one its entry
// names that the server does not have (`database "bank" does not exist`),
// both 08P01; they were a transient_error as poolerRefusedUser's were.
func poolerNoDatabase(pe *pgconn.PgError) bool {
	m := pe.Message
	return pe.Code == "08P01" && (strings.HasPrefix(m, "no such database") ||
		strings.HasPrefix(m, `database "`) && strings.HasSuffix(m, `" does not exist`))
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
	if poolWaitedOut(err) {
		// Not a server's end: PgBouncer gave up on this session's
		// statement after holding it in its queue for a server session,
		// and closed it. Nothing more can be loaded on it.
		return source.EndsRun(&source.Error{Type: protocol.TransientError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: a connection pooler in front of the server (PgBouncer) ended the session (%s): no server session of its pool for this database and user came free within its query_wait_timeout, other clients held every one; what was committed stays, and nothing after it: "+
				"run again once one is free (a run holds two for its whole read), or raise the pool's pool_size (or default_pool_size) in PgBouncer", d.shown, doing, pg.Message)})
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
	if PreparedElsewhere(err) {
		// A statement this session prepared was found on a server
		// session that had not prepared it, or missing from the one
		// that had: a pooler in transaction mode (ownSessions), met
		// before ownSessions could tell (the first statement of a run
		// started beside another through the same pool), or after.
		return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
			Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s: the session's statements ran on more than one server session, %s, and two runs could write schema %q at once; what was committed before stays. %s",
				d.shown, doing, pg.Message, TransactionPooled("the schema's lock"), d.opts.Schema, TransactionPoolFix("--postgres"))}
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

// LostConnection reports whether err is the end of a session rather than
// the statement's fault (lostConnection): for the webhook log's errors.
func LostConnection(err error) bool { return lostConnection(err) }

// poolWaitedOut reports whether err is PgBouncer's end of a session whose
// statement it held in its queue past its query_wait_timeout, no server
// session of the pool coming free (08P01, said only in its text). It read
// as a lost connection, the server said to have restarted, and where the
// URL set the timeouts the run turns off (to 0, off), as one of them.
func poolWaitedOut(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "08P01" && pg.Message == "query_wait_timeout"
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
// It names where the server has it from (TimeoutWhere) and the fix there,
// where it said the URL sets it, which sent the user to a URL that does
// not hold it.
func (d *Destination) timeoutElsewhereError(err error, pg *pgconn.PgError, doing, name string) error {
	// Sent at startup, only a statement's own SET outranks it; but a
	// pooler may have dropped it (ignore_startup_parameters), and then
	// the role's cancels the statement that turns it off once connected.
	sent := slices.Contains(d.startup, name) && !strings.HasPrefix(doing, "turning off ")
	where, fix := TimeoutWhere(d.cfg, sent, "--postgres", d.holderName()+" (looking for a setting)", name)
	if !sent {
		where += pooledTooShort
	}
	return &source.Error{Type: protocol.ConfigError, Err: errors.New(d.mask(err.Error())),
		Msg: fmt.Sprintf("PostgreSQL at %s: %s: %s, the %s %s; the transaction rolled back whole, and what was committed before stays. "+
			"Fix: %s, or raise it well past the longest run (the run needs it off: %s)",
			d.shown, doing, pg.Message, name, where, fix, timeoutNeedsOff[name])}
}

// pooledTooShort follows where a timeout is set (SettingOrigin) in the
// error of the statement that turns it off once connected, cancelled by
// it: why the session's startup parameters did not.
const pooledTooShort = "; it is turned off in the connections' startup parameters, which the server applies above such settings, but a connection pooler in front of the server (PgBouncer) refused them (or dropped them: its ignore_startup_parameters), and this one cancelled the statement that turns it off once connected"

// TimeoutWhere says where timeout name of a session of cfg (one that
// cancelled its statement, or ended it) is set, and the fix there, for an
// error that quotes the server, as "the NAME " + where: in the URL, given
// where it was given (--postgres, --log, webhook_log), or in PGOPTIONS,
// where urlSets finds it; by a statement of the session's own where off
// says the session turned it off as it connected (in its startup
// parameters, or once connected), which nothing else outranks; else where
// pg_settings says (SettingOrigin), looked up on a session of cfg named
// app. cfg is the URL's, without the startup parameters that turn the
// timeouts off. For --postgres's errors and the webhook log's, which
// share it.
func TimeoutWhere(cfg *pgx.ConnConfig, off bool, given, app, name string) (where, fix string) {
	switch {
	case urlSets(cfg, name):
		by := strings.Replace(setBy(cfg, name), "--postgres", given, 1)
		return "that " + by + " sets", fmt.Sprintf("remove %s from %s", name, by)
	case off:
		return fmt.Sprintf("set by a statement of the session's own, not in %s: a function or trigger of the database's that sets it (ALTER FUNCTION … SET, a SET within it, a login event trigger); the user's, the database's and the server's settings it cannot be, as the session turned it off as it connected, which overrides them", given),
			"remove that SET"
	}
	return SettingOrigin(cfg, given, app, name)
}

// SettingOrigin says where the server has setting name from for cfg's
// user and database, by pg_settings' source in a session of its own (of
// cfg, the URL's, named app), and the fix there: ALTER ROLE or ALTER DATABASE …
// RESET, or ALTER SYSTEM RESET (or the file) and a reload; given is where
// the URL was given (--postgres, --log, webhook_log), which the setting is
// not in. A session that cannot tell (a short statement_timeout cancels
// the look itself, five times) gets every place it may be and how to find
// which.
func SettingOrigin(cfg *pgx.ConnConfig, given, app, name string) (where, fix string) {
	user, db := ident(cfg.User), ident(cfg.Database)
	where = fmt.Sprintf("set for the %s user or its database (ALTER ROLE %s SET, ALTER DATABASE %s SET) or in the server's configuration (postgresql.conf, ALTER SYSTEM), not in %s", given, user, db, given)
	fix = fmt.Sprintf("reset it where it is set (connected as %s without the pooler, SELECT source FROM pg_settings WHERE name = '%s' says where): ALTER ROLE %s RESET %s, ALTER DATABASE %s RESET %s, or ALTER SYSTEM RESET %s (or remove it from postgresql.conf) and SELECT pg_reload_conf()",
		user, name, user, name, db, name, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg = cfg.Copy()
	cfg.RuntimeParams["application_name"] = app
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
		return fmt.Sprintf("of %s set for the %s user %s in database %s (ALTER ROLE … IN DATABASE … SET), not in %s", value, given, user, db, given),
			fmt.Sprintf("ALTER ROLE %s IN DATABASE %s RESET %s", user, db, name)
	case "user":
		return fmt.Sprintf("of %s set for the %s user %s (ALTER ROLE … SET), not in %s", value, given, user, given),
			fmt.Sprintf("ALTER ROLE %s RESET %s", user, name)
	case "database":
		return fmt.Sprintf("of %s set for database %s (ALTER DATABASE … SET), not in %s", value, db, given),
			fmt.Sprintf("ALTER DATABASE %s RESET %s", db, name)
	case "global":
		return fmt.Sprintf("of %s set for every user (ALTER ROLE ALL SET), not in %s", value, given),
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
		return fmt.Sprintf("of %s set in the server's configuration (%s), not in %s", value, in, given), fix
	case "command line":
		return fmt.Sprintf("of %s set on the server's command line (postgres -c), not in %s", value, given),
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

// mask removes the URL's secrets from s.
func (d *Destination) mask(s string) string { return Mask(d.opts.URL, s) }

// Mask returns s with the secrets of the connection string raw (its
// password, as written and decoded, and an sslpassword) replaced by xxxxx:
// for the text of an error about connecting with it. A short password
// ("a") is masked only where it stands alone (see secret.MaskText), not in
// every word that holds it.
func Mask(raw, s string) string {
	return secret.MaskText(s, secret.URLSecrets(raw), "xxxxx")
}

// MaskURL returns raw, a URL or key=value string, with its secrets replaced
// by xxxxx, for messages; also when it does not parse, as a message about
// it quotes it.
func MaskURL(raw string) string { return secret.MaskURL(raw, "xxxxx") }

// TransactionPooled says why a pool in transaction mode is refused: lock,
// a server session's lock that keeps one writer at a time, is left on a
// pooled server session and holds nothing.
func TransactionPooled(lock string) string {
	return "as where a connection pooler in front of the server (PgBouncer) pools them in transaction or statement mode (pool_mode = transaction or statement); " +
		"there " + lock + ", a server session's, is left on a pooled server session and holds nothing"
}

// TransactionPoolFix is the fix for a pool in transaction mode, for the
// URL given where given says (--postgres, --log).
func TransactionPoolFix(given string) string {
	return "Fix: point " + given + " at a pool in session mode (pool_mode = session for that database in pgbouncer.ini, or a pooler's session port) or at the server directly"
}

// PreparedElsewhere reports whether err is a server's answer to a
// statement this session prepared, found on a server session that had not
// prepared it or missing from the one that had: a pool in transaction mode
// (OwnServerSessions).
func PreparedElsewhere(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "42P05" || pg.Code == "26000") && strings.Contains(pg.Message, "prepared statement")
}
