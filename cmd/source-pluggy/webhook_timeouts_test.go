package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// pgRoleWithSetting is pgTableMadeForReceiver's role, granted what
// --retain needs too, with ALTER ROLE … SET setting, as a DBA sets a
// guard for every session of a role.
func pgRoleWithSetting(t *testing.T, setting string) (admin, url string) {
	t.Helper()
	admin, role, url := pgTableMadeForReceiver(t)
	pgtest.Exec(t, admin, `GRANT DELETE ON pluggy.webhook_events TO `+role)
	pgtest.Exec(t, admin, `CREATE TABLE pluggy.webhook_events_pruned (through bigint NOT NULL)`)
	pgtest.Exec(t, admin, `GRANT SELECT, INSERT, DELETE ON pluggy.webhook_events_pruned TO `+role)
	pgtest.Exec(t, admin, `ALTER ROLE `+role+` SET `+setting)
	return admin, url
}

// TestWebhookPostgresIdleSessionTimeoutOfTheRole: a role's
// idle_session_timeout (PostgreSQL 14) no longer ends the receiver's
// session while it waits for deliveries. It ended it whenever the receiver
// was idle for longer, and the next /healthz, or the next delivery, found
// it gone and was answered 503: a readiness probe less frequent than the
// timeout found the receiver never ready. The receiver's sessions are
// opened as the PostgreSQL sink's, with the timeouts off in their startup
// parameters, or set once connected through a pooler that refuses those
// (PgBouncer); an idle_session_timeout in the URL is kept, as the sink
// keeps it.
func TestWebhookPostgresIdleSessionTimeoutOfTheRole(t *testing.T) {
	const idle = 1500 * time.Millisecond // past the role's 1 s
	healthz := func(r *receiver) int {
		t.Helper()
		resp, err := http.Get(r.url + "/healthz")
		st.Must(t, err, "GET /healthz")
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, through := range []string{"direct", "pooler"} {
		t.Run(through, func(t *testing.T) {
			admin, url := pgRoleWithSetting(t, `idle_session_timeout = '1s'`)
			if through == "pooler" {
				url = pgtest.Pooler(t, url)
			}
			r := startReceiver(t, url)
			time.Sleep(idle)
			if got := healthz(r); got != http.StatusOK {
				t.Fatalf("/healthz after %s idle: %d, want 200\n%s", idle, got, r.log())
			}
			for _, id := range []string{"idle-1", "idle-2"} {
				time.Sleep(idle)
				if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != http.StatusOK {
					t.Fatalf("the first delivery of %s after %s idle: %d, want 200\n%s", id, idle, got, r.log())
				}
			}
			if got := fmt.Sprint(logIDs(t, admin)); got != "[idle-1 idle-2]" {
				t.Fatalf("the table holds %s, want [idle-1 idle-2]", got)
			}
		})
	}
	t.Run("set in the URL", func(t *testing.T) {
		_, url := pgRoleWithSetting(t, `idle_session_timeout = 0`)
		r := startReceiver(t, url+"&idle_session_timeout=1s")
		time.Sleep(idle)
		if got := healthz(r); got != http.StatusServiceUnavailable {
			t.Fatalf("/healthz after %s idle with ?idle_session_timeout=1s: %d, want 503 (the URL's setting kept)\n%s", idle, got, r.log())
		}
	})
}

// TestWebhookPostgresStatementTimeoutOfTheRole: a role's statement_timeout
// shorter than the statements of a prune of a long table no longer stops
// --retain. The prune's first statement reads past the table's old rows to
// the first new one, and was cancelled at every round, the hourly ERROR
// saying the role might lack DELETE, and the table was never pruned; on a
// table with many dead rows the receiver's first count was cancelled too,
// and it exited. Here 200,000 old rows and 20 ms stand for a log of tens
// of millions and a DBA's 30 s.
func TestWebhookPostgresStatementTimeoutOfTheRole(t *testing.T) {
	admin, url := pgRoleWithSetting(t, `statement_timeout = '20ms'`)
	pgtest.Exec(t, admin, `INSERT INTO pluggy.webhook_events (event_id, received_at, payload)
		SELECT 'old-' || g, now() - interval '40 days', '{}' FROM generate_series(1, 200000) g`)
	pgtest.Exec(t, admin, `VACUUM ANALYZE pluggy.webhook_events`)
	r := startReceiver(t, url, "--retain", "30d")
	for deadline := time.Now().Add(time.Minute); !strings.Contains(r.log(), prunedMsg) && !strings.Contains(r.log(), "could not prune"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no prune ended within a minute:\n%s", r.log())
		}
	}
	if strings.Contains(r.log(), "could not prune") {
		t.Fatalf("the prune failed:\n%s", r.log())
	}
	if got := r.post(t, deletedEvent("new-1", uuidOf("new-1")), authHeader); got != http.StatusOK {
		t.Fatalf("a delivery after the prune: %d\n%s", got, r.log())
	}
	if got := fmt.Sprint(logIDs(t, admin)); got != "[old-200000 new-1]" {
		t.Fatalf("the table holds %.100s once pruned, want the newest old row and the new event", got)
	}
}

// pruneFailure waits for r's first "could not prune" ERROR and returns
// its error.
func pruneFailure(t *testing.T, r *receiver) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if e, ok := loggedError(r.log(), "could not prune"); ok {
			return e
		}
	}
	t.Fatalf("no prune failed within 30 s:\n%s", r.log())
	return ""
}

// loggedError is the error of the first JSON log line of text whose msg
// begins with msg.
func loggedError(text, msg string) (string, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		var l struct{ Msg, Error string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, msg) {
			return l.Error, true
		}
	}
	return "", false
}

// TestWebhookPostgresPruneFailuresSayWhy: a --retain prune that fails
// says why, as far as the error tells, and that the prune tries again at
// its next round: a DELETE that waited for a row another session holds
// past the role's lock_timeout (named where it is set, with the RESET that
// lets it wait), past a statement_timeout the URL sets, or past the
// receiver's own 4 s for a statement; a session the server ended; and,
// only for a privilege the server refused, the GRANT that gives it. Each
// said the role might lack DELETE, whatever the cause, and a DBA granted
// what the role had.
func TestWebhookPostgresPruneFailuresSayWhy(t *testing.T) {
	// oldRows gives the table three rows received 40 days ago, the oldest
	// held FOR UPDATE by another session (rolled back at the end).
	oldRows := func(t *testing.T, admin string) {
		t.Helper()
		pgtest.Exec(t, admin, `INSERT INTO pluggy.webhook_events (event_id, received_at, payload)
			SELECT 'old-' || g, now() - interval '40 days', '{}' FROM generate_series(1, 3) g`)
		tx := lockOldestEvent(t, admin)
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	}
	check := func(t *testing.T, r *receiver, role string, want ...string) {
		t.Helper()
		got := pruneFailure(t, r)
		t.Log(got)
		want = append(want, "pruning pluggy.webhook_events", "the prune tries again at its next round")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("the prune's error lacks %q:\n%s", w, got)
			}
		}
		if strings.Contains(got, "needs DELETE") || strings.Contains(got, "GRANT") && !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(w, "GRANT") }) {
			t.Errorf("the prune's error gives privilege advice for another cause:\n%s", got)
		}
		if strings.Contains(r.log(), "hook-role-pw") {
			t.Errorf("the log shows the role's password:\n%s", r.log())
		}
	}
	t.Run("lock_timeout of the role", func(t *testing.T) {
		admin, url := pgRoleWithSetting(t, `lock_timeout = '200ms'`)
		role := "hook_" + pgtest.DBName(admin)
		oldRows(t, admin)
		r := startReceiver(t, url, "--retain", "30d")
		check(t, r, role, "canceling statement due to lock timeout", `the lock_timeout of 200ms set for the --log user "`+role+`"`,
			"another session", `ALTER ROLE "`+role+`" RESET lock_timeout`)
	})
	t.Run("statement_timeout of the URL", func(t *testing.T) {
		admin, url := pgRoleWithSetting(t, `lock_timeout = 0`)
		oldRows(t, admin)
		r := startReceiver(t, url+"&statement_timeout=1000", "--retain", "30d")
		check(t, r, "", "canceling statement due to statement timeout", "the statement_timeout that --log sets", "remove statement_timeout from --log")
	})
	t.Run("the receiver's limit", func(t *testing.T) {
		admin, url := pgRoleWithSetting(t, `lock_timeout = 0`)
		oldRows(t, admin)
		r := startReceiver(t, url, "--retain", "30d")
		check(t, r, "", "the receiver's 4s", "a lock another session holds")
	})
	t.Run("session ended", func(t *testing.T) {
		admin, url := pgRoleWithSetting(t, `lock_timeout = 0`)
		oldRows(t, admin)
		r := startReceiver(t, url, "--retain", "30d")
		watch := pgtest.Connect(t, admin)
		defer watch.Close(context.Background())
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ended := pgtest.Rows(t, watch, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM pluggy.webhook_events %'`)
			if len(ended) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the receiver's prune never reached the locked row:\n%s", r.log())
			}
		}
		check(t, r, "", "terminating connection due to administrator command", "lost the connection")
	})
	t.Run("DELETE revoked", func(t *testing.T) {
		admin, url := pgRoleWithSetting(t, `lock_timeout = 0`)
		role := "hook_" + pgtest.DBName(admin)
		r := startReceiver(t, url, "--retain", "2s")
		pgtest.Exec(t, admin, `REVOKE DELETE ON pluggy.webhook_events FROM `+role)
		pgtest.Exec(t, admin, `INSERT INTO pluggy.webhook_events (event_id, received_at, payload)
			SELECT 'old-' || g, now() - interval '40 days', '{}' FROM generate_series(1, 3) g`)
		check(t, r, role, "permission denied for table webhook_events", `GRANT DELETE ON pluggy.webhook_events TO "`+role+`"`)
	})
}

// TestWebhookPostgresStatementTimeoutTooShortToTurnOff: through a pooler
// that refuses the startup parameters (PgBouncer), the log's session turns
// its timeouts off once connected, and a role's statement_timeout short
// enough to cancel that statement (1ms: a race, most tries) fails the
// receiver's start with an error that names where it is set and the
// ALTER ROLE … RESET that fixes it, as --postgres's does, where it said
// only "cannot connect … turning off … once connected" and the server's
// words.
func TestWebhookPostgresStatementTimeoutTooShortToTurnOff(t *testing.T) {
	admin, url := pgRoleWithSetting(t, `statement_timeout = '1ms'`)
	role := "hook_" + pgtest.DBName(admin)
	pooled := pgtest.Pooler(t, url)
	bin := st.Build(t, "source-pluggy")
	failed := 0
	for range 5 {
		out := startOrFail(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", pooled, "--header", "X-A=b")
		if strings.Contains(string(out), "hook-role-pw") {
			t.Errorf("the output shows the role's password:\n%s", out)
		}
		got, ok := loggedError(string(out), "cannot open the event log")
		if !ok {
			continue // the statement took less than 1 ms
		}
		failed++
		t.Log(got)
		for _, w := range []string{"turning off statement_timeout", "canceling statement due to statement timeout", `the statement_timeout of 1ms set for the --log user "` + role + `"`,
			"not in --log", `Fix: ALTER ROLE "` + role + `" RESET statement_timeout`, "pooler"} {
			if !strings.Contains(got, w) {
				t.Errorf("the receiver's error lacks %q:\n%s", w, got)
			}
		}
	}
	if failed == 0 {
		t.Skip("the role's 1ms never cancelled the statement in 5 starts")
	}
}

// TestWebhookPostgresThroughPoolerSlowToFree: the receiver's log through
// a pooler that still counts the client it refused for a startup
// parameter when the receiver connects again without it (PgBouncer with
// max_client_conn = 1, now and then): the receiver exited at the start,
// "cannot open the event log … no more connections allowed"; it tries
// again within about a second, and appends.
func TestWebhookPostgresThroughPoolerSlowToFree(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, pgtest.PoolerSlowToFree(t, url))
	if got := r.post(t, deletedEvent("slow-1", uuidOf("slow-1")), authHeader); got != 200 {
		t.Fatalf("a delivery: %d\n%s", got, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	if got := strings.Join(logIDs(t, url), " "); got != "slow-1" {
		t.Fatalf("the table holds %q, want slow-1", got)
	}
}

// startOrFail runs bin until it logs "listening" (then kills it) or
// exits, and returns what it printed.
func startOrFail(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	pipe, err := cmd.StderrPipe()
	st.Must(t, err, "stderr pipe")
	st.Must(t, cmd.Start(), "start "+bin)
	var out bytes.Buffer
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		out.Write(sc.Bytes())
		out.WriteByte('\n')
		if strings.Contains(sc.Text(), `"msg":"listening"`) {
			_ = cmd.Process.Kill()
			break
		}
	}
	_, _ = io.Copy(io.Discard, pipe)
	_ = cmd.Wait()
	return out.Bytes()
}
