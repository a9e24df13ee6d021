package main

import (
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookHealthzTellsNoStrangerWhy: /healthz answers anyone (a load
// balancer's probe carries no header), so its 503 says only that the log
// is not writable; the reason, which names the database's host, port, user
// and name (or the log directory's path), goes to the receiver's own log.
// The body used to hold it.
func TestWebhookHealthzTellsNoStrangerWhy(t *testing.T) {
	url := pgtest.DB(t)
	u, err := neturl.Parse(url)
	st.Must(t, err, "parse the URL")
	db := strings.TrimPrefix(u.Path, "/")
	r := startReceiver(t, url)
	admin := pgtest.Shared(t).URL("postgres")
	pgtest.Exec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	t.Cleanup(func() { pgtest.Exec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS true`) })
	pgtest.Exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db)

	// The first probe finds the session gone, the next ones fail to
	// reconnect: each says why differently.
	var bodies []string
	for deadline := time.Now().Add(30 * time.Second); len(bodies) < 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(r.url + "/healthz")
		st.Must(t, err, "GET /healthz")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			bodies = append(bodies, string(b))
		}
	}
	if len(bodies) < 3 {
		t.Fatalf("/healthz with the database refusing connections: %d answers 503, want 3", len(bodies))
	}
	for _, body := range bodies {
		for _, s := range []string{db, u.Host, u.User.Username(), "postgres://", "connection", pgtest.Password} {
			if strings.Contains(body, s) {
				t.Errorf("the /healthz body tells an unauthenticated caller %q: %s", s, body)
			}
		}
	}
	if !strings.Contains(r.log(), db) || !strings.Contains(r.log(), "/healthz") {
		t.Errorf("the receiver's log does not say why /healthz failed:\n%s", r.log())
	}
	if strings.Contains(r.log(), pgtest.Password) {
		t.Errorf("the receiver's log holds the password:\n%s", r.log())
	}
}

// TestWebhookHealthzFollowsPostgresAppends: with the log in PostgreSQL,
// /healthz answered 200 whenever the server answered a ping, also while
// every append failed (the receiver's INSERT refused, the table dropped,
// the server's disk full): the readiness and liveness probes kept a
// receiver that answered every event 503, and Pluggy dropped them after
// its retries. As with a directory, after a failed append /healthz answers
// 503 until a probe insert (rolled back) succeeds again, and the next
// event is appended.
func TestWebhookHealthzFollowsPostgresAppends(t *testing.T) {
	admin, role, url := pgTableMadeForReceiver(t)
	r := startReceiver(t, url)
	healthz := func() int {
		t.Helper()
		resp, err := http.Get(r.url + "/healthz")
		st.Must(t, err, "GET /healthz")
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := r.post(t, deletedEvent("pg-health-1", uuidOf("pg-health-1")), authHeader); got != http.StatusOK || healthz() != http.StatusOK {
		t.Fatalf("an append: %d, /healthz %d; want 200 and 200", got, healthz())
	}
	pgtest.Exec(t, admin, `REVOKE INSERT ON pluggy.webhook_events FROM `+role)
	if got := r.post(t, deletedEvent("pg-health-2", uuidOf("pg-health-2")), authHeader); got != http.StatusServiceUnavailable {
		t.Fatalf("an append the database refuses: %d, want 503", got)
	}
	if got := healthz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/healthz after an append the database refused, which it still refuses: %d, want 503", got)
	}
	pgtest.Exec(t, admin, `GRANT INSERT ON pluggy.webhook_events TO `+role)
	if got := healthz(); got != http.StatusOK {
		t.Fatalf("/healthz once the database takes appends again: %d, want 200\n%s", got, r.log())
	}
	if got := r.post(t, deletedEvent("pg-health-2", uuidOf("pg-health-2")), authHeader); got != http.StatusOK {
		t.Fatalf("Pluggy's retry once the database takes appends again: %d, want 200", got)
	}
	rows := pgtest.Rows(t, pgtest.Connect(t, admin), `SELECT event_id FROM pluggy.webhook_events ORDER BY seq`)
	if fmt.Sprint(rows) != "[pg-health-1 pg-health-2]" {
		t.Fatalf("the table holds %v, want [pg-health-1 pg-health-2] (no probe row)", rows)
	}
}

// TestWebhookHealthzProbeTakesNoEventsKey: /healthz's probe, after a
// failed append, inserts a row under an event_id of its own and rolls it
// back. That id was one an event could carry ("healthz probe, rolled
// back"): once an event with it was in the table, every probe hit the
// unique key, and /healthz answered 503 until an event was appended, which
// a readiness probe taking the receiver out of its Service kept from
// coming. The probe's id now holds a control character, which the
// receiver refuses in an eventId.
func TestWebhookHealthzProbeTakesNoEventsKey(t *testing.T) {
	admin, role, url := pgTableMadeForReceiver(t)
	r := startReceiver(t, url)
	item := `"itemId":"a5c763cb-0952-457b-9936-630f79c5b016"`
	if got := r.post(t, `{"event":"item/updated","eventId":"healthz probe, rolled back",`+item+`}`, authHeader); got != http.StatusOK {
		t.Fatalf("an event: %d", got)
	}
	pgtest.Exec(t, admin, `REVOKE INSERT ON pluggy.webhook_events FROM `+role)
	if got := r.post(t, deletedEvent("probe-2", uuidOf("probe-2")), authHeader); got != http.StatusServiceUnavailable {
		t.Fatalf("an append the database refuses: %d, want 503", got)
	}
	pgtest.Exec(t, admin, `GRANT INSERT ON pluggy.webhook_events TO `+role)
	resp, err := http.Get(r.url + "/healthz")
	st.Must(t, err, "GET /healthz")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz once the database takes appends again: %d, want 200\n%s", resp.StatusCode, r.log())
	}
}
