package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresThroughRealPgBouncer: through a real PgBouncer (Debian's
// pgbouncer, pgtest.PgBouncer) in session mode, what docs/postgres.md
// says of poolers holds beside the in-repo stand-in's
// (TestPostgresThroughPgBouncer): with the database's statement_timeout
// shorter than the COPY left open while the API is read, a full-refresh
// read, a first incremental read and the incremental read after changes
// load every row once; so they do where PgBouncer is told to ignore the
// timeouts sent as startup parameters (ignore_startup_parameters), the
// first two alone or all four; and a parameter of the URL's own that it
// refuses is a config_error quoting PgBouncer's "unsupported startup
// parameter".
func TestPostgresThroughRealPgBouncer(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 300, PageSize: 50, Latency: 60 * time.Millisecond})
	url := pgtest.DB(t)
	pgtest.Exec(t, url, `ALTER DATABASE `+pgtest.DBName(url)+` SET statement_timeout = '300ms'`)
	conn := pgtest.Connect(t, url)
	for _, ignore := range [][]string{nil, {"statement_timeout", "idle_in_transaction_session_timeout"},
		{"statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout"}} {
		pool := pgtest.PgBouncer(t, url, pgtest.SessionPool, ignore...)
		pgtest.Exec(t, url, `DROP SCHEMA IF EXISTS pluggy CASCADE`)
		e.read(e.catalog(false, "transactions"), "--postgres", pool)
		compareTruth(t, e, conn, nil)
		pgtest.Exec(t, url, `DROP SCHEMA pluggy CASCADE`)
		cat := e.catalog(true, "transactions")
		e.read(cat, "--postgres", pool)
		compareTruth(t, e, conn, nil)
		e.fake.AddNew(5)
		e.fake.UpdateInPlace(5)
		e.read(cat, "--postgres", pool)
		compareTruth(t, e, conn, nil)
		if got := pgRows(t, conn, `SELECT count(*) FROM pluggy._state`); got[0] != "1" {
			t.Errorf("ignoring %v: %s states stored, want 1", ignore, got[0])
		}
		if t.Failed() {
			t.Fatalf("through PgBouncer ignoring %v", ignore)
		}
	}

	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--postgres", pgtest.PgBouncer(t, url, pgtest.SessionPool)+"&search_path=public", "--detailed-exit-codes")
	if len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	st.FailedWith(t, r, protocol.ConfigError, 78, "unsupported startup parameter: search_path", "remove it from --postgres", "ignore_startup_parameters", "postgres://postgres:xxxxx@")
}

// TestPostgresThroughPgBouncerInTransactionModeRefused: through a real
// PgBouncer in transaction mode the schema's advisory lock, a server
// session's, stays on the pooled server session that took it, and a
// second run handed that server session takes it again: two reads into
// one schema at once both went on (with default_query_exec_mode=exec, the
// usual cure for PgBouncer's prepared-statement errors), and without it a
// read failed as a system_error over a prepared statement that "already
// exists", naming neither the pooler nor the fix. Each read is now a
// config_error naming the pool mode and the fix, with nothing written.
func TestPostgresThroughPgBouncerInTransactionModeRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 300, PageSize: 50, Latency: 20 * time.Millisecond})
	url := pgtest.DB(t)
	pool := pgtest.PgBouncer(t, url, pgtest.TransactionPool)
	cat := e.catalog(true, "transactions")
	for _, u := range []string{pool, pool + "&default_query_exec_mode=exec"} {
		var wg sync.WaitGroup
		outs, codes := make([][]byte, 2), make([]int, 2)
		config := e.config(nil)
		for i := range outs {
			wg.Go(func() {
				cmd := exec.Command(e.bin, "read", "--config", config, "--catalog", cat, "--postgres", u, "--no-records", "--detailed-exit-codes")
				outs[i], _ = cmd.Output()
				codes[i] = cmd.ProcessState.ExitCode()
			})
		}
		wg.Wait()
		for i, out := range outs {
			r := st.Parse(t, out)
			r.Code = codes[i]
			st.FailedWith(t, r, protocol.ConfigError, 78, "pool_mode = transaction", "pool_mode = session", "at the server directly", "postgres://postgres:xxxxx@")
		}
		if got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*) FROM pg_namespace WHERE nspname = 'pluggy'`); got[0] != "0" {
			t.Errorf("through %s: the refused runs made the schema", strings.TrimPrefix(u, pool))
		}
	}
}

// TestPostgresThroughPgBouncerInStatementModeRefused: through a real
// PgBouncer in statement mode (pool_mode = statement), which hands each
// statement to whichever server session is free as transaction mode hands
// each transaction, a read and the webhook receiver are refused as in
// transaction mode, with or without default_query_exec_mode=exec in the
// URL: the error names statement mode and the fix (a pool in session mode,
// or the server directly), with the password masked, and the read wrote
// nothing.
func TestPostgresThroughPgBouncerInStatementModeRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20, PageSize: 50})
	url := pgtest.DB(t)
	pool := pgtest.PgBouncer(t, url, pgtest.StatementPool)
	for _, u := range []string{pool, pool + "&default_query_exec_mode=exec"} {
		how := strings.TrimPrefix(u, pool)
		r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", u, "--detailed-exit-codes")
		st.FailedWith(t, r, protocol.ConfigError, 78, "transaction or statement mode", "pool_mode = transaction or statement", "point --postgres at a pool in session mode", "pool_mode = session", "at the server directly", "postgres://postgres:xxxxx@")
		if bytes.Contains(r.Stdout, []byte(pgtest.Password)) || bytes.Contains(r.Stderr, []byte(pgtest.Password)) {
			t.Errorf("a read through PgBouncer in statement mode (%s) printed the password", how)
		}
		if got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*) FROM pg_namespace WHERE nspname = 'pluggy'`); got[0] != "0" {
			t.Errorf("a read through PgBouncer in statement mode (%s) made its schema", how)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, e.bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", u, "--header", "X-A=b")
		out, _ := cmd.CombinedOutput()
		cancel()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("a receiver through PgBouncer in statement mode (%s): exit %d, want 1 at the start\n%s", how, code, out)
		}
		for _, want := range []string{"transaction or statement mode", "pool_mode = transaction or statement", "holds nothing", "point --log at a pool in session mode", "pool_mode = session", "at the server directly", "postgres://postgres:xxxxx@"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("a receiver through PgBouncer in statement mode (%s): the error lacks %q\n%s", how, want, out)
			}
		}
		if bytes.Contains(out, []byte(pgtest.Password)) {
			t.Errorf("a receiver through PgBouncer in statement mode (%s) printed the password", how)
		}
	}
}

// TestWebhookPostgresThroughPgBouncer: the webhook receiver's PostgreSQL
// log through a real PgBouncer. In session mode it appends, and a second
// receiver on the database is refused as direct. In transaction mode the
// receiver's lock, a server session's, held nothing: a second receiver
// went on beside the first (with default_query_exec_mode=exec in the URL),
// both appending to one table, or failed over a prepared statement that
// "already exists", naming neither the pooler nor the fix. The receiver
// now exits at the start naming the pool mode and the fix.
func TestWebhookPostgresThroughPgBouncer(t *testing.T) {
	url := pgtest.DB(t)
	bin := st.Build(t, "source-pluggy")
	pool := pgtest.PgBouncer(t, url, pgtest.SessionPool)
	r := startReceiver(t, pool)
	if got := r.post(t, deletedEvent("pool-1", uuidOf("pool-1")), authHeader); got != 200 {
		t.Fatalf("a delivery through PgBouncer in session mode: %d\n%s", got, r.log())
	}
	_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", pool, "--header", "X-A=b")
	if code != 1 || !strings.Contains(string(stderr), "in use by another receiver") {
		t.Fatalf("a second receiver through PgBouncer in session mode: exit %d, %s", code, stderr)
	}
	if got := strings.Join(logIDs(t, url), " "); got != "pool-1" {
		t.Fatalf("the table holds %s, want pool-1", got)
	}

	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}

	pool = pgtest.PgBouncer(t, url, pgtest.TransactionPool)
	for _, u := range []string{pool, pool + "&default_query_exec_mode=exec"} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", u, "--header", "X-A=b")
		out, _ := cmd.CombinedOutput()
		cancel()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("a receiver through PgBouncer in transaction mode (%s): exit %d, want 1 at the start\n%s", strings.TrimPrefix(u, pool), code, out)
		}
		for _, want := range []string{"pool_mode = transaction", "holds nothing", "point --log at a pool in session mode", "at the server directly", "postgres://postgres:xxxxx@"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("through PgBouncer in transaction mode (%s): the error lacks %q\n%s", strings.TrimPrefix(u, pool), want, out)
			}
		}
		if strings.Contains(string(out), pgtest.Password) {
			t.Error("the receiver printed the password")
		}
	}
}

// TestWebhookPostgresThroughPgBouncerPoolOfOne: through PgBouncer in
// session mode with room for the receiver's session alone, one server
// session per pool (default_pool_size = 1) or one client
// (max_client_conn = 1), the receiver starts within seconds and appends.
// The second session its check for a pool in transaction mode opens was,
// with a pool of one, logged in by PgBouncer and its first statement held
// for a server session that never came free: the start hung past a
// minute, until PgBouncer's query_wait_timeout; with one client, refused
// ("no more connections allowed"), it failed the start. The receiver ran
// before the check. The check's statement PgBouncer held, cut short after
// 5 s, is sent no cancel request, as the read's second session's is not:
// pgx sent one, the request PgBouncer 1.18 crashed on as the read that
// sent it exited.
func TestWebhookPostgresThroughPgBouncerPoolOfOne(t *testing.T) {
	url := pgtest.DB(t)
	var want []string
	for _, setting := range []string{"default_pool_size", "max_client_conn"} {
		pool := pgtest.PgBouncer(t, url, pgtest.SessionPool)
		pgtest.PgBouncerSet(t, pool, setting, "1")
		link := pgtest.Counting(t, pool)
		start := time.Now()
		r := startReceiver(t, link.URL)
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s = 1: the receiver took %v to start", setting, took)
		}
		want = append(want, setting)
		if got := r.post(t, deletedEvent(setting, uuidOf(setting)), authHeader); got != 200 {
			t.Fatalf("%s = 1: a delivery: %d\n%s", setting, got, r.log())
		}
		if code := r.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("%s = 1: SIGTERM: exit %d\n%s", setting, code, r.log())
		}
		if n := link.CancelRequests(); n != 0 {
			t.Errorf("%s = 1: the receiver sent %d cancel requests", setting, n)
		}
	}
	if got := strings.Join(logIDs(t, url), " "); got != strings.Join(want, " ") {
		t.Fatalf("the table holds %s, want %s", got, strings.Join(want, " "))
	}
}

// TestWebhookPostgresThroughPgBouncerPoolOfOneURLSetsTimeouts: the same
// pool of one server session, with --log setting every timeout the
// receiver turns off (PgBouncer told to ignore them), starts within
// seconds and sends no cancel request. Its check's second session then
// ran no statement while it connected, and the check's first, with no
// bound, waited in PgBouncer's queue until query_wait_timeout (30 s here,
// 2 min by default), and the start failed on it.
func TestWebhookPostgresThroughPgBouncerPoolOfOneURLSetsTimeouts(t *testing.T) {
	url := pgtest.DB(t)
	pool := pgtest.PgBouncer(t, url, pgtest.SessionPool, "statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout")
	pgtest.PgBouncerSet(t, pool, "default_pool_size", "1")
	pgtest.PgBouncerSet(t, pool, "query_wait_timeout", "30")
	link := pgtest.Counting(t, pool)
	u := link.URL + "&statement_timeout=0&idle_in_transaction_session_timeout=0&idle_session_timeout=0&transaction_timeout=0"
	if !strings.Contains(link.URL, "?") {
		t.Fatalf("the link's URL %s has no query to add to", link.URL)
	}
	start := time.Now()
	r := startReceiver(t, u)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the receiver took %v to start", took)
	}
	if got := r.post(t, deletedEvent("timeouts", uuidOf("timeouts")), authHeader); got != 200 {
		t.Fatalf("a delivery: %d\n%s", got, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	if n := link.CancelRequests(); n != 0 {
		t.Errorf("the receiver sent %d cancel requests", n)
	}
	if got := strings.Join(logIDs(t, url), " "); got != "timeouts" {
		t.Fatalf("the table holds %s, want timeouts", got)
	}
}

// TestWebhookPostgresReconnectsThroughPgBouncerPoolOfOne: a receiver
// through PgBouncer in session mode with one server session per pool
// (default_pool_size = 1) that lost its session (a DBA's
// pg_terminate_backend, a server restarted) connects again and appends,
// its --log setting the timeouts or not, sending no cancel request. The
// reconnection's check for a pool in transaction mode waited the 5 s its
// second session has at the start, within the 4 s of the delivery's
// append: that ran out first, as if the receiver were stopped, and every
// delivery from then on was answered 503.
func TestWebhookPostgresReconnectsThroughPgBouncerPoolOfOne(t *testing.T) {
	url := pgtest.DB(t)
	ignore := []string{"statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout"}
	for _, every := range []bool{false, true} {
		pool := pgtest.PgBouncer(t, url, pgtest.SessionPool, ignore...)
		pgtest.PgBouncerSet(t, pool, "default_pool_size", "1")
		link := pgtest.Counting(t, pool)
		u := link.URL
		if every {
			u += "&statement_timeout=0&idle_in_transaction_session_timeout=0&idle_session_timeout=0&transaction_timeout=0"
		}
		r := startReceiver(t, u)
		before := fmt.Sprintf("before-%t", every)
		if got := r.post(t, deletedEvent(before, uuidOf(before)), authHeader); got != http.StatusOK {
			t.Fatalf("URL setting the timeouts %t: a delivery: %d\n%s", every, got, r.log())
		}
		pgtest.Exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'source-pluggy webhook log'`)
		// The first delivery finds the session gone (503: Pluggy
		// delivers it again); the next connects again.
		lost := fmt.Sprintf("lost-%t", every)
		var got int
		for range 2 {
			start := time.Now()
			got = r.post(t, deletedEvent(lost, uuidOf(lost)), authHeader)
			if took := time.Since(start); took > 4500*time.Millisecond {
				t.Errorf("URL setting the timeouts %t: a delivery answered %d in %v, past the receiver's 4 s", every, got, took.Round(time.Millisecond))
			}
		}
		if got != http.StatusOK {
			t.Fatalf("URL setting the timeouts %t: the delivery after the session was lost: %d, want 200\n%s", every, got, r.log())
		}
		if code := r.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("URL setting the timeouts %t: SIGTERM: exit %d\n%s", every, code, r.log())
		}
		if n := link.CancelRequests(); n != 0 {
			t.Errorf("URL setting the timeouts %t: the receiver sent %d cancel requests", every, n)
		}
	}
	if got := strings.Join(logIDs(t, url), " "); got != "before-false lost-false before-true lost-true" {
		t.Fatalf("the table holds %s", got)
	}
}

// TestPostgresThroughStatementLoadBalancer: through a pooler that sends
// each SELECT to a node it picks for that statement (pgpool-II's
// statement_level_load_balance, pgtest.StatementBalancer), whose sessions
// are the server's own, a read loads every row and the webhook receiver
// appends. The check for a pool in transaction mode asked for the server
// process ids with a plain SELECT, which such a pooler answered from one
// node and then another: a session that "moved", and the run and the
// receiver were refused as through a pool in transaction mode. It asks
// with /*NO LOAD BALANCE*/ before the SELECT, which pgpool-II sends to
// the session's own node.
func TestPostgresThroughStatementLoadBalancer(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 30, PageSize: 50})
	url := pgtest.DB(t)
	balancer := pgtest.StatementBalancer(t, url)
	e.read(e.catalog(false, "transactions"), "--postgres", balancer)
	compareTruth(t, e, pgtest.Connect(t, url), nil)

	r := startReceiver(t, balancer)
	if got := r.post(t, deletedEvent("lb-1", uuidOf("lb-1")), authHeader); got != 200 {
		t.Fatalf("a delivery through the balancer: %d\n%s", got, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}

// TestWebhookPostgresPrunesThroughPgBouncerPoolOfOne: a receiver with
// --retain through PgBouncer in session mode with one server session per
// pool (default_pool_size = 1) prunes within seconds, on its own session.
// The prune's session of its own was logged in and its first statement
// held in PgBouncer's queue for the server session the receiver holds:
// every prune waited until query_wait_timeout (2 min) and failed.
func TestWebhookPostgresPrunesThroughPgBouncerPoolOfOne(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	for _, id := range []string{"old-1", "old-2"} {
		if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != 200 {
			t.Fatalf("POST %s: %d", id, got)
		}
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, url, "", 3)
	pool := pgtest.PgBouncer(t, url, pgtest.SessionPool)
	pgtest.PgBouncerSet(t, pool, "default_pool_size", "1")
	r = startReceiver(t, pool, "--retain", "2s")
	r.waitLogged(t, prunedMsg, 1)
	if strings.Contains(r.log(), "could not prune") {
		t.Errorf("the prune failed:\n%s", r.log())
	}
	if got := r.post(t, deletedEvent("new-1", uuidOf("new-1")), authHeader); got != 200 {
		t.Fatalf("POST new-1: %d\n%s", got, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	if got := strings.Join(logIDs(t, url), " "); got != "old-2 new-1" {
		t.Fatalf("the table holds %s, want old-2 (the newest old row stays) and new-1", got)
	}
}

// TestPostgresReadGivenOneSessionFailsPromptly: a read needs two server
// sessions (a merge's transaction and the COPY beside it), and where the
// user is given one it is a config_error within seconds naming the cause
// and the fix, with nothing written and no password shown: through a
// real PgBouncer in session mode with one server session per pool
// (default_pool_size = 1) or one client (max_client_conn = 1), through it
// to a role of CONNECTION LIMIT 1, and to that role directly. Through
// PgBouncer with a pool of one the second session was logged in and its
// first statement held for a server session that never came free: the
// read hung until PgBouncer's query_wait_timeout (2 min). Each read here
// is killed after 45 s. A pool of the postgres user still serves after
// it. The role's password holds a ", which pgtest.PgBouncer's auth_file
// doubles, as PgBouncer reads it.
func TestPostgresReadGivenOneSessionFailsPromptly(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20, PageSize: 50})
	url := pgtest.DB(t)
	db := pgtest.DBName(url)
	role := "one_" + db
	pgtest.Exec(t, url, `CREATE ROLE `+role+` LOGIN PASSWORD 'one"pw' CONNECTION LIMIT 1; GRANT CREATE ON DATABASE `+db+` TO `+role)
	limited := strings.Replace(url, "postgres:"+pgtest.Password, role+":one%22pw", 1)
	// With max_client_conn = 1 the client refused for a startup parameter
	// is still counted, now and then, when the read connects again
	// without it: the read tries again (TestPostgresThroughPoolerSlowToFree).
	poolOf := func(setting string) string {
		pool := pgtest.PgBouncer(t, url, pgtest.SessionPool)
		pgtest.PgBouncerSet(t, pool, setting, "1")
		return pool
	}
	cat := e.catalog(true, "transactions")
	// The role directly first: PgBouncer keeps the server session it
	// opens for the role after the read.
	for _, c := range []struct {
		name, url, cause string
		pool             bool
	}{
		{"CONNECTION LIMIT 1", limited, `was refused (too many connections for role "` + role + `")`, false},
		{"default_pool_size = 1", poolOf("default_pool_size"), "did not come within 5s", true},
		// The URL sets every timeout the run turns off (PgBouncer told to
		// ignore them): the first session ran no statement as it
		// connected, and the second's took the one server session.
		{"default_pool_size = 1, the URL setting every timeout", everyTimeout(t, url), "did not come within 5s", true},
		{"max_client_conn = 1", poolOf("max_client_conn"), "was refused (no more connections allowed", true},
		{"CONNECTION LIMIT 1 behind PgBouncer", pgtest.PgBouncer(t, limited, pgtest.SessionPool), "the run's second connection", false},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		cmd := exec.CommandContext(ctx, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", c.url, "--detailed-exit-codes")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		_ = cmd.Run()
		took, hung := time.Since(start), ctx.Err() != nil
		cancel()
		if hung {
			t.Fatalf("%s: the read hung, killed after %v\n%s", c.name, took, stderr.Bytes())
		}
		if took > 30*time.Second {
			t.Errorf("%s: the read took %v to fail", c.name, took)
		}
		r := st.Parse(t, stdout.Bytes())
		r.Code, r.Stderr = cmd.ProcessState.ExitCode(), stderr.Bytes()
		st.FailedWith(t, r, protocol.ConfigError, 78, c.cause, "one session", "a run needs two connections", "nothing was written",
			"pool_size", "CONNECTION LIMIT", `ALTER ROLE "`, "at the server directly", ":xxxxx@")
		for _, secret := range []string{pgtest.Password, `one"pw`, "one%22pw"} {
			if bytes.Contains(stdout.Bytes(), []byte(secret)) || bytes.Contains(stderr.Bytes(), []byte(secret)) {
				t.Errorf("%s: the password %q is shown", c.name, secret)
			}
		}
		if got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*) FROM pg_namespace WHERE nspname = 'pluggy'`); got[0] != "0" {
			t.Fatalf("%s: the read made its schema", c.name)
		}
		// PgBouncer 1.18 crashed on the cancel request pgx sends for a
		// statement cut short, itself cut short as the read exited.
		if !c.pool {
			continue // the role's server logins fail for a while (server_login_retry)
		}
		if got := pgRows(t, pgtest.Connect(t, c.url), `SELECT 1`); got[0] != "1" {
			t.Fatalf("%s: after the read: %v", c.name, got)
		}
	}
}

// TestPostgresReadThroughABusyPgBouncerPool: a read through PgBouncer in
// session mode whose pool's server sessions other clients hold waits for
// one, its first session's statement in PgBouncer's queue, and where none
// comes free within PgBouncer's query_wait_timeout (3 s here, 2 min by
// default) it is a transient_error naming the pooler's wait and the fix,
// its URL setting the timeouts the run turns off or not. It said the
// connection was lost as if the server had restarted, and with the URL
// setting the timeouts (to 0, off) suggested removing them from
// --postgres.
func TestPostgresReadThroughABusyPgBouncerPool(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20, PageSize: 50})
	url := pgtest.DB(t)
	cat := e.catalog(true, "transactions")
	busy := pgtest.PgBouncer(t, url, pgtest.SessionPool)
	pgtest.PgBouncerSet(t, busy, "default_pool_size", "1")
	for _, c := range []struct{ name, url string }{
		{"a pool of one", busy},
		{"a pool of one, the URL setting every timeout", everyTimeout(t, url)},
	} {
		pgtest.PgBouncerSet(t, c.url, "query_wait_timeout", "3")
		other := pgtest.Connect(t, c.url)
		pgRows(t, other, `SELECT 1`) // holds the pool's one server session
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		cmd := exec.CommandContext(ctx, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--postgres", c.url, "--detailed-exit-codes")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		cancel()
		other.Close(context.Background())
		r := st.Parse(t, stdout.Bytes())
		r.Code, r.Stderr = cmd.ProcessState.ExitCode(), stderr.Bytes()
		st.FailedWith(t, r, protocol.TransientError, 75, "query_wait_timeout", "other clients held", "pool_size", "run again", ":xxxxx@")
		for _, wrong := range []string{"server restarted", "remove it from --postgres", pgtest.Password} {
			if bytes.Contains(stdout.Bytes(), []byte(wrong)) {
				t.Errorf("%s: the error says %q\n%s", c.name, wrong, stdout.Bytes())
			}
		}
	}
}

// TestWebhookPostgresStoppedDuringItsCheck: a receiver stopped (SIGTERM)
// while PgBouncer in session mode with one server session per pool
// (default_pool_size = 1) holds in its queue the first statement of the
// session its start's check opened exits without sending a cancel request
// for that statement: pgx sent one as the stop cut it short, for a client
// PgBouncer 1.18 held in its queue, by a process that then exited, the
// case PgBouncer crashed on. PgBouncer still serves after it.
func TestWebhookPostgresStoppedDuringItsCheck(t *testing.T) {
	url := pgtest.DB(t)
	bin := st.Build(t, "source-pluggy")
	// Told to ignore the timeouts sent as startup parameters, PgBouncer
	// takes the receiver's first session as it comes: the check's is the
	// second to come through the link.
	pool := pgtest.PgBouncer(t, url, pgtest.SessionPool, "statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout")
	pgtest.PgBouncerSet(t, pool, "default_pool_size", "1")
	link := pgtest.Counting(t, pool)
	cmd := exec.Command(bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", link.URL, "--header", "X-A=b")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(20 * time.Second); link.Sessions() < 2; time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("the receiver exited %d having opened %d sessions\n%s", cmd.ProcessState.ExitCode(), link.Sessions(), out.Bytes())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver opened %d sessions in 20 s", link.Sessions())
		}
	}
	time.Sleep(time.Second) // the check's statement in PgBouncer's queue, within its 5 s
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the receiver did not exit within 20 s of SIGTERM")
	}
	time.Sleep(500 * time.Millisecond) // a cancel request sent as it exited reaches the link
	if n := link.CancelRequests(); n != 0 {
		t.Errorf("the receiver sent %d cancel requests for its check's statement PgBouncer held\n%s", n, out.Bytes())
	}
	if got := pgRows(t, pgtest.Connect(t, pool), `SELECT 1`); got[0] != "1" {
		t.Fatalf("PgBouncer after the receiver: %v", got)
	}
	// A stop is no failure: it exited 1 with an ERROR "cannot open the
	// event log … context canceled".
	if code := cmd.ProcessState.ExitCode(); code != 0 || bytes.Contains(out.Bytes(), []byte(`"level":"ERROR"`)) || !bytes.Contains(out.Bytes(), []byte("stopped before listening")) {
		t.Errorf("SIGTERM during the start: exit %d, want 0 and an INFO saying it stopped\n%s", code, out.Bytes())
	}
}

// everyTimeout is a PgBouncer in session mode in front of u with one
// server session a pool (default_pool_size = 1), told to ignore the
// timeouts a run turns off, and its URL setting each of them: a run's
// sessions then turn off none, running no statement as they connect.
func everyTimeout(t *testing.T, u string) string {
	t.Helper()
	pool := pgtest.PgBouncer(t, u, pgtest.SessionPool, "statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout")
	pgtest.PgBouncerSet(t, pool, "default_pool_size", "1")
	if !strings.Contains(pool, "?") {
		t.Fatalf("PgBouncer's URL %s has no query to add to", pool)
	}
	return pool + "&statement_timeout=0&idle_in_transaction_session_timeout=0&idle_session_timeout=0&transaction_timeout=0"
}
