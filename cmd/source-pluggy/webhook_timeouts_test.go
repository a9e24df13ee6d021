package main

import (
	"fmt"
	"net/http"
	"strings"
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
