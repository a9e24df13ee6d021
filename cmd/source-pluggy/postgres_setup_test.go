package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresEmptySchemaRefused: --postgres-schema "" (a cron job's
// --postgres-schema "$CUSTOMER" with the variable unset) is a config_error
// naming the flag, not a load into the default schema, where one
// customer's rows would land among another's; nothing is written.
func TestPostgresEmptySchemaRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--postgres", url, "--postgres-schema", "")
	if r.Code != 1 || len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	if tr := r.ErrorTraces()[0]; tr.FailureType != protocol.ConfigError || !strings.Contains(tr.Message, "--postgres-schema is empty") {
		t.Errorf("error %s %q, want a config_error saying --postgres-schema is empty", tr.FailureType, tr.Message)
	}
	if len(r.Records()) != 0 {
		t.Error("the run read records")
	}
	if got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*) FROM pg_namespace WHERE nspname = 'pluggy'`); got[0] != "0" {
		t.Error(`the run made schema "pluggy"`)
	}
}

// TestPostgresForeignKeyToFullRefreshTable: a foreign key of the user's
// that references a full-refresh stream's table (accounts) makes
// PostgreSQL refuse the swap's TRUNCATE at every run: a config_error
// naming the constraint, its table and the fix, with the old rows kept.
func TestPostgresForeignKeyToFullRefreshTable(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	cat := e.catalog(true, "accounts")
	e.read(cat, "--postgres", url)
	conn := pgtest.Connect(t, url)
	pgtest.Exec(t, url, `CREATE TABLE public.notes (account text CONSTRAINT notes_account_fk REFERENCES pluggy.accounts (id), note text)`)
	before := pgRows(t, conn, `SELECT count(*), max(_extracted_at) FROM pluggy.accounts`)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
	st.FailedWith(t, r, protocol.ConfigError, 78, `"pluggy"."accounts"`, `"notes_account_fk"`, `"public"."notes"`, `ALTER TABLE "public"."notes" DROP CONSTRAINT "notes_account_fk"`, "postgres://postgres:xxxxx@")
	if after := pgRows(t, conn, `SELECT count(*), max(_extracted_at) FROM pluggy.accounts`); after[0] != before[0] {
		t.Errorf("the failed swap changed the table: %s -> %s", before[0], after[0])
	}
}

// TestPostgresSessionLostMidRunIsTransient: the server ending the run's
// sessions mid-read (a restart, a failover, a DBA's pg_terminate_backend)
// fails the run with a transient_error (exit 75 with
// --detailed-exit-codes), so a scheduler tries again, and the next run
// resumes from what was committed with no key twice.
func TestPostgresSessionLostMidRunIsTransient(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 4000, PageSize: 50, Latency: 20 * time.Millisecond})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	run := exec.Command(e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--no-records", "--detailed-exit-codes")
	out, err := run.StdoutPipe()
	st.Must(t, err, "pipe")
	st.Must(t, run.Start(), "start")
	t.Cleanup(func() { _ = run.Process.Kill(); _ = run.Wait() })
	var stdout bytes.Buffer
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		stdout.Write(append(sc.Bytes(), '\n'))
		if bytes.Contains(sc.Bytes(), []byte(`"type":"STATE"`)) {
			break // a checkpoint has committed
		}
	}
	pgtest.Exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE 'source-pluggy --postgres%'`)
	for sc.Scan() {
		stdout.Write(append(sc.Bytes(), '\n'))
	}
	err = run.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 75 {
		t.Errorf("the run ended with %v, want exit 75 (transient)", err)
	}
	r := st.Parse(t, stdout.Bytes())
	if len(r.ErrorTraces()) == 0 {
		t.Fatal("no error trace")
	}
	for _, tr := range r.ErrorTraces() {
		if tr.FailureType != protocol.TransientError || !strings.Contains(tr.Message, "lost") {
			t.Errorf("%s %q, want a transient_error saying the connection was lost", tr.FailureType, tr.Message)
		}
	}
	if strings.Contains(stdout.String(), pgtest.Password) {
		t.Error("the output shows the database password")
	}
	e.read(cat, "--postgres", url)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresStoredStateRefusedSaysWhere: a state in the database the
// connector refuses (a newer version's, one edited by hand) is a
// config_error that says where it is and how to delete it, since the run
// was given no state file to fix.
func TestPostgresStoredStateRefusedSaysWhere(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	e.read(cat, "--postgres", url)
	pgtest.Exec(t, url, `UPDATE pluggy._state SET state = '{"version":99}' WHERE stream = 'transactions'`)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url)
	if r.Code != 1 || len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	tr := r.ErrorTraces()[0]
	for _, want := range []string{`"transactions"`, `table "pluggy"._state`, "postgres://postgres:xxxxx@", `DELETE FROM "pluggy"._state WHERE stream = 'transactions'`, "--state"} {
		if !strings.Contains(tr.Message, want) {
			t.Errorf("error %q lacks %q", tr.Message, want)
		}
	}
	if tr.FailureType != protocol.ConfigError {
		t.Errorf("failure type %s", tr.FailureType)
	}
	// The hint is the fix: run it, and the next run reads from start_date.
	pgtest.Exec(t, url, `DELETE FROM "pluggy"._state WHERE stream = 'transactions'`)
	e.read(cat, "--postgres", url)
}

// TestPostgresReadOnlyDatabase: --postgres pointed at a database that
// takes no writes (a hot standby, a replica's endpoint, or
// default_transaction_read_only) is a config_error that says so and how
// to reach the primary, not a system_error quoting the refused CREATE.
func TestPostgresReadOnlyDatabase(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET default_transaction_read_only = on`)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", url, "--detailed-exit-codes")
	if len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	st.FailedWith(t, r, protocol.ConfigError, 78, "read-only", "nothing more was written", "target_session_attrs=read-write", "default_transaction_read_only", "postgres://postgres:xxxxx@")
	if len(r.Records()) != 0 {
		t.Error("the run read records")
	}
}

// TestPostgresStatementTimeoutOfTheRole: a statement_timeout the DBA set
// for the role or the database (a common guard) would cancel the COPY that
// stays open while the API is read, at every run: the sink's sessions turn
// it off, as pg_dump does, and the load completes.
func TestPostgresStatementTimeoutOfTheRole(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 2000, PageSize: 50, Latency: 30 * time.Millisecond})
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET statement_timeout = '300ms'`)
	e.read(e.catalog(true, "transactions"), "--postgres", url)
	compareTruth(t, e, pgtest.Connect(t, url), nil)

	// One the URL sets is kept, and cancels the run's COPY at every run:
	// a config_error naming it and the fix, where it was a system_error
	// (a connector's bug, to a platform) quoting the server alone.
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", url+"&statement_timeout=300",
		"--postgres-schema", "first_sync", "--detailed-exit-codes")
	if len(r.ErrorTraces()) == 0 {
		t.Fatalf("exit %d, no error trace: the URL's statement_timeout cancelled nothing", r.Code)
	}
	for _, tr := range r.ErrorTraces() {
		for _, want := range []string{"canceling statement due to statement timeout", "the statement_timeout that --postgres sets", "rolled back whole", "remove statement_timeout from --postgres", "postgres://postgres:xxxxx@"} {
			if !strings.Contains(tr.Message, want) {
				t.Errorf("error %q lacks %q", tr.Message, want)
			}
		}
		if tr.FailureType != protocol.ConfigError {
			t.Errorf("failure type %s, want config_error", tr.FailureType)
		}
	}
	if r.Code != 78 {
		t.Errorf("exit %d, want 78", r.Code)
	}
}

// TestPostgresCancelledCopyCommitsNoState: the COPY that takes a
// checkpoint's rows into the staging table, cancelled (the URL's
// statement_timeout here; another session's pg_cancel_backend, or its
// session ended while the merging one lives on, alike), takes those rows
// with it: no state may be committed or printed after it, as it would
// cover rows the table never got, and the next run, resuming from it,
// would never load them. The failed stream's held state was committed
// at its end, with no rows; the next run now holds exactly the bank's.
func TestPostgresCancelledCopyCommitsNoState(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 3, TransactionsPerAccount: 1000, PageSize: 500, Latency: 100 * time.Millisecond})
	e.cfg["max_concurrency"] = 1
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url+"&statement_timeout=300", "--detailed-exit-codes")
	if r.Code != 78 {
		t.Fatalf("exit %d, want 78 (the URL's statement_timeout): %v", r.Code, r.ErrorTraces())
	}
	e.read(cat, "--postgres", url)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresIdleSessionTimeoutOfTheRole: an idle_session_timeout the
// DBA set for the role or the database ends a session idle that long; the
// run's session that holds the schema's lock sits idle while the API is
// read between checkpoints, and was ended at every run whose pages took
// longer than that (a transient_error, "run again", each time): the
// sink's sessions turn it off as they do statement_timeout, and the load
// completes.
func TestPostgresIdleSessionTimeoutOfTheRole(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 400, PageSize: 50, Latency: 150 * time.Millisecond})
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET idle_session_timeout = '100ms'`)
	e.read(e.catalog(true, "transactions"), "--postgres", url)
	// The comparison's own session would inherit the timeout, and a
	// loaded machine leaves it idle longer than 100 ms between queries.
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` RESET idle_session_timeout`)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresTimeoutsOfTheRoleTooShortToTurnOff: a timeout the DBA set
// for the role or the database short enough (statement_timeout = 1ms) to
// cancel the statement that turned it off once connected failed most runs,
// with an error that said the --postgres URL set it, which it did not; an
// idle_session_timeout of 1ms ended the first session while the second
// logged in, every run. The run now turns them off in its sessions'
// startup parameters, which the server applies above the role's and the
// database's settings before any statement: each read loads. Through a
// pooler that refuses startup parameters (PgBouncer) they are set once
// connected, and a statement_timeout that cancels that is named as the
// role's, with ALTER ROLE … RESET as the fix, never as the URL's.
func TestPostgresTimeoutsOfTheRoleTooShortToTurnOff(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	cat := e.catalog(true, "transactions")
	role := "short_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN PASSWORD 'shortpw'; GRANT CREATE ON DATABASE `+db+` TO `+role)
	roleURL := strings.Replace(url, "postgres:"+pgtest.Password, role+":shortpw", 1)
	var version int
	st.Must(t, pgtest.Connect(t, url).QueryRow(t.Context(), `SELECT current_setting('server_version_num')::int`).Scan(&version), "server_version_num")

	loads := func(of, u, schema string) {
		t.Helper()
		// A race each time (the statement against 1 ms): three runs.
		for range 3 {
			r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", u, "--postgres-schema", schema, "--detailed-exit-codes")
			for _, tr := range r.ErrorTraces() {
				t.Errorf("with %s: %s", of, tr.Message)
			}
			if r.Code != 0 {
				t.Errorf("with %s, exit %d", of, r.Code)
			}
		}
	}
	pgtest.Exec(t, url, `ALTER ROLE `+role+` SET statement_timeout = '1ms'`)
	loads("the role's statement_timeout of 1ms", roleURL, "role")
	for range 3 {
		r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", pgtest.Pooler(t, roleURL), "--postgres-schema", "pooled", "--detailed-exit-codes")
		if r.Code != 0 {
			st.FailedWith(t, r, protocol.ConfigError, 78, "canceling statement due to statement timeout", `the statement_timeout of 1ms set for the --postgres user "`+role+`"`,
				"not in --postgres", `Fix: ALTER ROLE "`+role+`" RESET statement_timeout`, "pooler")
		}
	}
	pgtest.Exec(t, url, `ALTER ROLE `+role+` RESET statement_timeout`)
	if version >= 140000 {
		pgtest.Exec(t, url, `ALTER ROLE `+role+` SET idle_session_timeout = '1ms'`)
		loads("the role's idle_session_timeout of 1ms", roleURL, "role_idle")
		pgtest.Exec(t, url, `ALTER ROLE `+role+` RESET idle_session_timeout`)
	}
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET statement_timeout = '1ms'`)
	loads("the database's statement_timeout of 1ms", url, "pluggy")
	// The URL's statement_timeout outranks the database's 1 ms.
	pgtest.Exec(t, url+"&statement_timeout=0", `ALTER DATABASE `+db+` RESET statement_timeout`)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresSessionTimeoutsOfTheURL: a timeout the --postgres URL sets
// that ends the session, not only a statement, is kept (the run turns the
// user's and the database's off), and ends the run at every run: a
// config_error naming it and the fix, as statement_timeout's is, where an
// idle_session_timeout read as a lost connection, a transient_error to run
// again. A transaction_timeout (PostgreSQL 17) on an older server refuses
// the connection: a config_error saying the server is older and to remove
// it, where it quoted the server alone; on 17 it ends the run's session.
func TestPostgresSessionTimeoutsOfTheURL(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 400, PageSize: 50, Latency: 150 * time.Millisecond})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	for _, opt := range []string{"&idle_session_timeout=100", "&options=-c%20idle_session_timeout%3D100"} {
		r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url+opt, "--detailed-exit-codes")
		st.FailedWith(t, r, protocol.ConfigError, 78, "terminating connection due to idle-session timeout", "the idle_session_timeout that --postgres sets",
			"the server ended the session", "what was committed before stays", "remove idle_session_timeout from --postgres", "postgres://postgres:xxxxx@")
	}

	var version int
	st.Must(t, pgtest.Connect(t, url).QueryRow(t.Context(), `SELECT current_setting('server_version_num')::int`).Scan(&version), "server_version_num")
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url+"&options=-c%20transaction_timeout%3D300", "--detailed-exit-codes")
	if version < 170000 {
		st.FailedWith(t, r, protocol.ConfigError, 78, `unrecognized configuration parameter "transaction_timeout"`, "PostgreSQL 17 added it", "remove it from --postgres", "postgres://postgres:xxxxx@")
	} else {
		st.FailedWith(t, r, protocol.ConfigError, 78, "the transaction_timeout that --postgres sets", "remove transaction_timeout from --postgres", "postgres://postgres:xxxxx@")
	}
	if strings.Contains(string(r.Stdout)+string(r.Stderr), pgtest.Password) {
		t.Error("the output shows the database password")
	}

	// Without them, the same read loads every row.
	e.read(cat, "--postgres", url)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresTableEmptiedOrDroppedSaysHowToReload: a run resumes from
// the stored state, so a table the user emptied (TRUNCATE) or dropped
// since gets only the rows after it; where that went without a word (and
// the conflict errors said to drop the table "to reload it"), the run now
// says so, a WARN for a dropped table, an INFO for an empty one (a stream
// with no rows yet is empty too), naming the table and the DELETE of its
// state, after which a read loads every row again.
func TestPostgresTableEmptiedOrDroppedSaysHowToReload(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 30})
	url := pgtest.DB(t)
	conn := pgtest.Connect(t, url)
	cat := e.catalog(true, "transactions")
	e.read(cat, "--postgres", url)
	fix := `DELETE FROM "pluggy"._state WHERE stream = 'transactions'`
	for _, c := range []struct {
		sql   string
		level protocol.Level
	}{
		{`TRUNCATE pluggy.transactions`, protocol.LevelInfo},
		{`DROP TABLE pluggy.transactions CASCADE`, protocol.LevelWarn},
	} {
		pgtest.Exec(t, url, c.sql)
		r := e.read(cat, "--postgres", url)
		if !r.Logged(c.level, `"pluggy"."transactions"`, fix, "start_date") {
			t.Errorf("after %s, no %s naming the table and %s", c.sql, c.level, fix)
		}
		pgtest.Exec(t, url, fix)
		r = e.read(cat, "--postgres", url)
		if r.Logged(c.level, fix) {
			t.Errorf("after %s and the state deleted, the run still says %s", c.sql, fix)
		}
		compareTruth(t, e, conn, nil)
	}
	r := e.read(cat, "--postgres", url)
	if r.Logged(protocol.LevelInfo, fix) || r.Logged(protocol.LevelWarn, fix) {
		t.Error("a run into a loaded table says it holds no rows")
	}
}

// TestPostgresThroughPgBouncer: PgBouncer (and poolers like it) refuses
// a startup parameter it does not track, and the run sent its
// statement_timeout and idle_in_transaction_session_timeout as such, so
// every run through a pooler failed with "unsupported startup parameter",
// a transient_error that a scheduler retried for ever; the run turns them
// off once connected, and loads.
func TestPostgresThroughPgBouncer(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	pgtest.Exec(t, url, `ALTER DATABASE `+pgtest.DBName(url)+` SET statement_timeout = '300ms'`)
	e.read(e.catalog(true, "transactions"), "--postgres", pgtest.Pooler(t, url))
	conn := pgtest.Connect(t, url)
	compareTruth(t, e, conn, nil)
	if got := pgRows(t, conn, `SELECT count(*) FROM pluggy._state`); got[0] != "1" {
		t.Errorf("%s states stored, want 1", got[0])
	}

	// A parameter of the URL's own that the pooler refuses is the URL to
	// fix (a config_error naming it), not a server to wait for.
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--postgres", pgtest.Pooler(t, url)+"&search_path=public", "--detailed-exit-codes")
	if len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	st.FailedWith(t, r, protocol.ConfigError, 78, "unsupported startup parameter: search_path", "remove it from --postgres", "ALTER ROLE", "ignore_startup_parameters", "postgres://postgres:xxxxx@")
}

// TestPostgresThroughPoolerSlowToFree: a pooler that still counts the
// client it refused for a startup parameter when the run connects again
// without it (PgBouncer with max_client_conn = 1, now and then) refused
// that session too, "no more connections allowed", and the run failed at
// the start; it tries again within about a second, and loads.
func TestPostgresThroughPoolerSlowToFree(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	e.read(e.catalog(true, "transactions"), "--postgres", pgtest.PoolerSlowToFree(t, url))
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresFailingTriggerIsConfigError: a trigger someone put on a
// table whose function fails (an audit log's, raising) fails every merge
// the same way: a config_error naming the function and the fix, where it
// was a system_error that named neither; nothing is written, and once the
// trigger is gone the next run loads every row once.
func TestPostgresFailingTriggerIsConfigError(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	e.read(cat, "--postgres", url)
	pgtest.Exec(t, url, `CREATE FUNCTION public.audit_tx() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'audit log is full'; END$$;
		CREATE TRIGGER audit AFTER INSERT OR UPDATE ON pluggy.transactions FOR EACH ROW EXECUTE FUNCTION public.audit_tx()`)
	e.fake.AddNew(3)
	e.fake.UpdateInPlace(3)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
	st.FailedWith(t, r, protocol.ConfigError, 78, `"pluggy"."transactions"`, "audit log is full", "audit_tx", "DROP TRIGGER", "postgres://postgres:xxxxx@")
	pgtest.Exec(t, url, `DROP TRIGGER audit ON pluggy.transactions`)
	e.read(cat, "--postgres", url)
	compareTruth(t, e, pgtest.Connect(t, url), nil)
}

// TestPostgresLockTimeoutIsTransient: with a lock_timeout of the DBA's, a
// reader holding a table (a long report) makes the full-refresh swap's
// TRUNCATE give up: a transient_error naming the timeout, to run again
// once the reader is gone, not a system_error; the table keeps its rows.
func TestPostgresLockTimeoutIsTransient(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	cat := e.catalog(true, "accounts")
	e.read(cat, "--postgres", url)
	db := pgtest.DBName(url)
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET lock_timeout = '200ms'`)
	reader := pgtest.Connect(t, url)
	ctx := t.Context()
	tx, err := reader.Begin(ctx)
	st.Must(t, err, "begin")
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT count(*) FROM pluggy.accounts`)
	st.Must(t, err, "reading accounts")
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
	if len(r.ErrorTraces()) == 0 {
		t.Fatalf("exit %d, no error trace", r.Code)
	}
	tr := r.ErrorTraces()[0]
	if tr.FailureType != protocol.TransientError || r.Code != 75 || !strings.Contains(tr.Message, "lock_timeout") {
		t.Errorf("%s %q, exit %d; want a transient_error naming lock_timeout, exit 75", tr.FailureType, tr.Message, r.Code)
	}
	st.Must(t, tx.Rollback(ctx), "rollback")
	e.read(cat, "--postgres", url)
}

// TestPostgresRunBesideAnOpenReader: a session left open in a transaction
// after reading _state and the report (psql's BEGIN, a BI tool) holds
// their locks; a run then merges beside it, where the setup used to alter
// _state and replace the view at every run, waiting for that session for
// ever while holding the schema's lock, so every later run failed too.
func TestPostgresRunBesideAnOpenReader(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	e.read(e.catalog(true, "accounts", "transactions"), "--postgres", url)
	reader := pgtest.Connect(t, url)
	ctx := t.Context()
	tx, err := reader.Begin(ctx)
	st.Must(t, err, "begin")
	defer func() { _ = tx.Rollback(ctx) }()
	for _, q := range []string{`SELECT count(*) FROM pluggy._state`, `SELECT count(*) FROM pluggy.category_spending`} {
		_, err = tx.Exec(ctx, q)
		st.Must(t, err, q)
	}
	run, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(run, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", url, "--no-records")
	out, err := cmd.Output()
	if run.Err() != nil {
		t.Fatalf("the run waited %v for the open reader's locks", 60*time.Second)
	}
	if err != nil {
		t.Fatalf("the run failed: %v\n%s", err, out)
	}
}

// TestPostgresColumnAddedBehindALongQuery: a run whose schema change (a
// column the table lacks) meets an analyst's long query on the table
// waited for ever, since PostgreSQL's lock_timeout is off by default: it
// held the schema's lock all along, so every later run failed as if
// another were writing, and every query of the table queued behind it. A
// run killed while it waited left its session waiting on the server, with
// the lock. Now the run gives up after lock_timeout with a transient_error
// naming the session in the way, a killed run's session goes at once, and
// once the query is done the next run adds the column.
func TestPostgresColumnAddedBehindALongQuery(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	e.read(cat, "--postgres", url)
	pgtest.Exec(t, url, `ALTER TABLE pluggy.transactions DROP COLUMN "operationType"`)

	ctx := t.Context()
	analyst := pgtest.Connect(t, url)
	_, err := analyst.Exec(ctx, `SET application_name = 'analyst-report'`)
	st.Must(t, err, "application_name")
	tx, err := analyst.Begin(ctx)
	st.Must(t, err, "begin")
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT count(*) FROM pluggy.transactions`)
	st.Must(t, err, "the analyst's query")

	watch := pgtest.Connect(t, url)
	runSessions := func(where string) int {
		var n int
		st.Must(t, watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE 'source-pluggy --postgres%' `+where).Scan(&n), "pg_stat_activity")
		return n
	}

	// A run killed while its ALTER TABLE waits: its sessions go.
	killed := exec.Command(e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--no-records")
	st.Must(t, killed.Start(), "start")
	t.Cleanup(func() { _ = killed.Process.Kill(); _ = killed.Wait() })
	for deadline := time.Now().Add(8 * time.Second); runSessions(`AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE%'`) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run's ALTER TABLE never waited for the analyst's lock")
		}
	}
	st.Must(t, killed.Process.Kill(), "kill")
	_ = killed.Wait()
	for deadline := time.Now().Add(4 * time.Second); runSessions("") > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the killed run's sessions stay on the server, waiting for the analyst's lock with the schema's")
		}
	}

	// A run beside the query gives up, naming it.
	run, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(run, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
	out, _ := cmd.Output()
	if run.Err() != nil {
		t.Fatalf("the run waited %v for the analyst's query", 60*time.Second)
	}
	r := st.Parse(t, out)
	if len(r.ErrorTraces()) == 0 {
		t.Fatalf("exit %d, no error trace", cmd.ProcessState.ExitCode())
	}
	tr := r.ErrorTraces()[0]
	for _, want := range []string{"lock_timeout", `adding column operationType to "pluggy"."transactions"`, `application "analyst-report", idle in transaction`, "pluggy.transactions (AccessShareLock)", "pg_terminate_backend", "postgres://postgres:xxxxx@"} {
		if !strings.Contains(tr.Message, want) {
			t.Errorf("error %q lacks %q", tr.Message, want)
		}
	}
	if tr.FailureType != protocol.TransientError || cmd.ProcessState.ExitCode() != 75 {
		t.Errorf("%s, exit %d; want a transient_error, exit 75", tr.FailureType, cmd.ProcessState.ExitCode())
	}

	st.Must(t, tx.Rollback(ctx), "rollback")
	e.read(cat, "--postgres", url)
	if got := pgRows(t, watch, `SELECT count(*) FROM pluggy.transactions WHERE "operationType" IS NOT NULL`); got[0] == "0" {
		t.Error(`column "operationType" was not added back and filled`)
	}
}

// TestPostgresServerRestartedMidRun: the server restarted (pg_ctl restart,
// fast as for maintenance, immediate as after a crash, which empties the
// unlogged staging tables) while a run loads: the run fails with a
// transient_error saying once that the connection was lost, and stops:
// it went on calling the API for every account left, each failing alike
// (a bank's daily calls spent for rows nothing kept). After the bank's
// changes (rows deleted among those loaded, new, updated) the next run
// leaves the live rows exactly the fake's, each once, the deleted rows
// marked and not live.
func TestPostgresServerRestartedMidRun(t *testing.T) {
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) {
			srv := pgtest.Private(t)
			url := srv.DB(t)
			// One account at a time, 40 pages of 20 ms each: the restart
			// comes with accounts still to read. Counted: the pages asked
			// for once the restart is done.
			var restarted atomic.Bool
			var calledAfter atomic.Int64
			e := newWrappedEnv(t, fake.Options{Items: 1, AccountsPerItem: 6, TransactionsPerAccount: 2000, PageSize: 50, Latency: 20 * time.Millisecond}, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/transactions" && restarted.Load() {
						calledAfter.Add(1)
					}
					h.ServeHTTP(w, r)
				})
			})
			e.cfg["max_concurrency"] = 1
			cat := e.catalog(true, "accounts", "transactions")
			run := exec.Command(e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
			out, err := run.StdoutPipe()
			st.Must(t, err, "pipe")
			st.Must(t, run.Start(), "start")
			t.Cleanup(func() { _ = run.Process.Kill(); _ = run.Wait() })
			read := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(out)
				read <- b
			}()
			// Restarted once a checkpoint with rows has committed.
			conn := pgtest.Connect(t, url)
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				var n int
				err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'pluggy' AND tablename = 'transactions'`).Scan(&n)
				st.Must(t, err, "looking for the table")
				if n > 0 {
					st.Must(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM pluggy.transactions`).Scan(&n), "counting rows")
				}
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the run committed no rows in a minute")
				}
			}
			st.Must(t, srv.Restart(mode), "pg_ctl restart")
			restarted.Store(true)
			stdout := bytes.NewBuffer(<-read)
			err = run.Wait()
			restarted.Store(false)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 75 {
				t.Errorf("the run ended with %v, want exit 75 (transient)", err)
			}
			r := st.Parse(t, stdout.Bytes())
			if len(r.ErrorTraces()) == 0 {
				t.Fatal("no error trace")
			}
			for _, tr := range r.ErrorTraces() {
				if tr.FailureType != protocol.TransientError || strings.Count(tr.Message, "lost the connection") != 1 {
					t.Errorf("%s %q, want a transient_error saying once that the connection was lost", tr.FailureType, tr.Message)
				}
			}
			// Nothing could keep their rows: the read stops, rather than
			// spend each account's calls (a bank's daily ones) for nothing.
			// (14 to 35 pages, the other accounts' first among them,
			// before the read stopped at a sink's lost connection; none
			// since in four runs. A few may come before the loss is seen:
			// the rows go to the server 256 KiB at a time, about five of
			// these pages.)
			if n := calledAfter.Load(); n > 6 {
				t.Errorf("the read asked for %d pages of transactions after the restart, when the sink could keep none of their rows", n)
			}

			conn = pgtest.Connect(t, url)
			loaded := pgRows(t, conn, `SELECT id FROM pluggy.transactions`)
			if len(loaded) >= 6*2000 {
				t.Fatal("the run committed every row before the restart: make the fake slower")
			}
			deleted := e.fake.DeleteRecentAmong(loaded, 3, 7*24*time.Hour)
			e.fake.AddNew(5)
			e.fake.UpdateInPlace(3)
			e.read(cat, "--postgres", url)
			compareTruth(t, e, conn, deleted)
		})
	}
}

// TestPostgresDiskFullMidRun: the server's disk fills while a run loads
// (its tables in a tablespace on a small tmpfs): the run fails with a
// transient_error saying the server is out of disk space, what stays and
// what to do, where it was a system_error (a bug of the connector's, to a
// platform) quoting the server's message alone. Each checkpoint's rows and
// state commit together or not at all: once there is room, the next run
// holds exactly the bank's rows, each once. Needs root, to mount the
// tmpfs; skipped otherwise.
func TestPostgresDiskFullMidRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs for the tablespace needs root")
	}
	url := pgtest.DB(t)
	dir, err := os.MkdirTemp("", "pgfull-")
	st.Must(t, err, "tablespace directory")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		_ = os.Remove(dir)
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("umount", dir).Run()
		_ = os.Remove(dir)
	})
	pg, err := user.Lookup("postgres")
	st.Must(t, err, "the server's user")
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	st.Must(t, os.Chown(dir, uid, gid), "chown")
	db := pgtest.DBName(url)
	space := "full_" + db
	pgtest.Exec(t, url, `CREATE TABLESPACE `+space+` LOCATION '`+dir+`'`)
	t.Cleanup(func() {
		// The database first: its tables hold the tablespace.
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, strings.Replace(url, "/"+db+"?", "/postgres?", 1))
		if err != nil {
			t.Errorf("dropping tablespace %s: %v", space, err)
			return
		}
		defer admin.Close(ctx)
		for _, q := range []string{`DROP DATABASE ` + db + ` WITH (FORCE)`, `DROP TABLESPACE ` + space} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	pgtest.Exec(t, url, `ALTER DATABASE `+db+` SET default_tablespace = `+space)

	// About 10 MB of rows, for 8 MB of disk.
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 12, TransactionsPerAccount: 1500, PageSize: 100, Latency: 10 * time.Millisecond})
	e.cfg["max_concurrency"] = 1
	cat := e.catalog(true, "accounts", "transactions")
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", url, "--detailed-exit-codes")
	if len(r.ErrorTraces()) == 0 {
		t.Fatalf("exit %d, no error trace: the load fitted in the tablespace", r.Code)
	}
	for _, tr := range r.ErrorTraces() {
		for _, want := range []string{"the server ran out of disk space", "No space left on device", "rolled back whole", "what was committed before stays", "free space", "postgres://postgres:xxxxx@"} {
			if !strings.Contains(tr.Message, want) {
				t.Errorf("error %q lacks %q", tr.Message, want)
			}
		}
		if tr.FailureType != protocol.TransientError {
			t.Errorf("failure type %s, want transient_error", tr.FailureType)
		}
	}
	if r.Code != 75 {
		t.Errorf("exit %d, want 75", r.Code)
	}
	conn := pgtest.Connect(t, url)

	out, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput()
	st.Must(t, err, "growing the tmpfs: "+string(out))
	e.read(cat, "--postgres", url)
	compareTruth(t, e, conn, nil)
}
