package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
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

// TestWebhookPostgresFigureFollowsAPruneDuringAReconnection: the number of
// events a receiver logs (events_in_log) stays the table's when a prune
// step, on a session of its own, deletes rows while the receiver connects
// again. It counted the table again as it connected, and a step whose
// DELETE had committed before that count took its rows off once more
// after it: here the prune's line said 0 events were left where 2 were.
// The prune is held by a lock on the oldest row, the reconnection by the
// receivers' advisory lock, which the test holds until the DELETE is done.
func TestWebhookPostgresFigureFollowsAPruneDuringAReconnection(t *testing.T) {
	const receiversLock = 0x706c7567677977 // webhook's pgLockKey, "pluggyw"
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	for _, id := range []string{"fig-1", "fig-2", "fig-3"} {
		if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != http.StatusOK {
			t.Fatalf("POST %s: %d", id, got)
		}
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, url, "", 40) // a prune deletes fig-1 and fig-2, the rows below the newest old one
	ctx := context.Background()
	tx := lockOldestEvent(t, url)

	r = startReceiver(t, url, "--retain", "30d")
	watch := pgtest.Connect(t, url)
	defer watch.Close(ctx)
	waitFor := func(what, query, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); pgtest.Rows(t, watch, query)[0] != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 30 s\n%s", what, r.log())
			}
		}
	}
	const app = `application_name = 'source-pluggy webhook log'`
	const deleting = `query LIKE 'DELETE FROM pluggy.webhook_events %'`
	waitFor("the prune waits for the locked row", `SELECT count(*) FROM pg_stat_activity WHERE `+app+` AND wait_event_type = 'Lock' AND `+deleting, "1")
	pgtest.Exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE `+app+` AND NOT `+deleting)
	waitFor("the receiver's session ends", `SELECT count(*) FROM pg_stat_activity WHERE `+app, "1")
	advisory := pgtest.Connect(t, url)
	defer advisory.Close(ctx)
	_, err := advisory.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(receiversLock))
	st.Must(t, err, "taking the receivers' lock")
	if got := r.post(t, deletedEvent("fig-4", uuidOf("fig-4")), authHeader); got != http.StatusServiceUnavailable {
		t.Fatalf("the delivery that finds the session gone: %d, want 503\n%s", got, r.log())
	}
	// Delivered again: the receiver connects, and waits for the lock.
	answered := make(chan string, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPost, r.url+"/pluggy", strings.NewReader(deletedEvent("fig-4", uuidOf("fig-4"))))
		if err != nil {
			answered <- err.Error()
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hook-Token", hookSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		resp.Body.Close()
		answered <- resp.Status
	}()
	waitFor("the receiver waits for its lock", `SELECT count(*) FROM pg_stat_activity WHERE `+app+` AND query LIKE 'SELECT pg_try_advisory_lock%'`, "1")
	st.Must(t, tx.Rollback(ctx), "releasing the oldest row")
	waitFor("the prune deletes fig-1 and fig-2", `SELECT count(*) FROM pluggy.webhook_events`, "1")
	_, err = advisory.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(receiversLock))
	st.Must(t, err, "releasing the receivers' lock")
	if got := <-answered; got != "200 OK" {
		t.Fatalf("fig-4 delivered again: %s, want 200 OK\n%s", got, r.log())
	}
	r.waitLogged(t, prunedMsg, 1)
	if got := fmt.Sprint(logIDs(t, url)); got != "[fig-3 fig-4]" {
		t.Fatalf("the table holds %s, want [fig-3 fig-4]", got)
	}
	var pruned struct {
		Events      int64 `json:"events"`
		EventsInLog int   `json:"events_in_log"`
	}
	for _, line := range strings.Split(r.log(), "\n") {
		if strings.Contains(line, `"msg":"`+prunedMsg) {
			st.Must(t, json.Unmarshal([]byte(line), &pruned), "the pruned line")
		}
	}
	if pruned.Events != 2 || pruned.EventsInLog != 2 {
		t.Fatalf("the pruned line says %d events went and %d are left, want 2 and 2 (fig-3, fig-4)\n%s", pruned.Events, pruned.EventsInLog, r.log())
	}
}
