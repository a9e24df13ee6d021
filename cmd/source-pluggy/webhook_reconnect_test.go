package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestWebhookPostgresReconnectsWithoutCountingTheTable: a receiver that
// lost its session (a server restarted, a failover, a DBA's
// pg_terminate_backend) answers the deliveries that connect again in
// time, however long its table. It counted the table's rows as it
// connected again, inside the 4 s that delivery's batch has (Pluggy wants
// its answer within 5 s): counting 5 million rows took 0.3 s to 1.6 s on a 2-core
// machine with the table in memory, and seconds more from disk; once a
// count took longer than 4 s it was cut at every try, and every delivery
// was answered 503. A row-level security policy that sleeps 1 ms a row
// makes this table's 5,000 rows take over 5 s to read, as a table of
// millions does; an INSERT reads only the row it inserts.
func TestWebhookPostgresReconnectsWithoutCountingTheTable(t *testing.T) {
	admin, role, url := pgTableMadeForReceiver(t)
	pgtest.Exec(t, admin, `INSERT INTO pluggy.webhook_events (event_id, received_at, payload)
		SELECT 'old-' || g, now() - interval '1 day', '{}' FROM generate_series(1, 5000) g`)
	pgtest.Exec(t, admin, `CREATE FUNCTION pluggy.read_slowly() RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.001); RETURN true; END $$`)
	pgtest.Exec(t, admin, `ALTER TABLE pluggy.webhook_events ENABLE ROW LEVEL SECURITY`)
	pgtest.Exec(t, admin, `CREATE POLICY read_slowly ON pluggy.webhook_events FOR SELECT USING (pluggy.read_slowly())`)
	pgtest.Exec(t, admin, `CREATE POLICY append ON pluggy.webhook_events FOR INSERT WITH CHECK (true)`)

	r := startReceiver(t, url)
	if !strings.Contains(r.log(), `"events_in_log":5000,`) {
		t.Errorf("the listening line does not count the table's 5000 rows:\n%s", r.log())
	}
	if got := r.post(t, deletedEvent("before-1", uuidOf("before-1")), authHeader); got != http.StatusOK {
		t.Fatalf("POST before the session is lost: %d\n%s", got, r.log())
	}
	conn := pgtest.Connect(t, admin)
	defer conn.Close(context.Background())
	pgtest.Exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	for deadline := time.Now().Add(30 * time.Second); pgtest.Rows(t, conn, `SELECT count(*) FROM pg_stat_activity WHERE usename = '`+role+`'`)[0] != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the receiver's session is still open 30 s after pg_terminate_backend")
		}
	}
	// The first delivery finds the session gone (503, as docs/webhooks.md
	// says: Pluggy delivers it again); the next ones connect again.
	if got := r.post(t, deletedEvent("lost-1", uuidOf("lost-1")), authHeader); got != http.StatusServiceUnavailable {
		t.Fatalf("the delivery that finds the session gone: %d, want 503\n%s", got, r.log())
	}
	for i, id := range []string{"lost-1", "after-1"} {
		start := time.Now()
		got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader)
		if took := time.Since(start); got != http.StatusOK || took > 4*time.Second {
			t.Fatalf("delivery %d after the session was lost: %d in %s, want 200 within the 4 s the receiver gives an append\n%s", i+2, got, took.Round(time.Millisecond), r.log())
		}
	}
	if got := fmt.Sprint(logIDs(t, admin)[5000:]); got != "[before-1 lost-1 after-1]" {
		t.Fatalf("the table holds %s after its 5000 old rows, want [before-1 lost-1 after-1]", got)
	}
}
