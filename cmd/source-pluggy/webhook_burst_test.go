package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// burst posts the events ids to r all at once, each from its own
// connection, as Pluggy delivers a daily sync's events, and returns the
// ids answered 200 (appended or duplicate); the others, refused or cut by
// a kill, are not acknowledged.
func (r *receiver) burst(ids []string) map[string]bool {
	acked, _ := r.burstTimed(ids)
	return acked
}

// burstTimed is burst, with the time each delivery took to be answered
// (those answered 200).
func (r *receiver) burstTimed(ids []string) (map[string]bool, []time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(ids)}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	acked := map[string]bool{}
	var took []time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, r.url+"/pluggy", strings.NewReader(deletedEvent(id, uuidOf("t-"+id))))
			req.Header.Set("X-Hook-Token", hookSecret)
			<-start
			sent := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				acked[id] = true
				took = append(took, time.Since(sent))
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return acked, took
}

// stoppedStats reads what the receiver's last line says it appended, and
// in how many commits.
func (r *receiver) stoppedStats(t *testing.T) (appended, commits int) {
	t.Helper()
	for _, l := range strings.Split(r.log(), "\n") {
		var v struct {
			Msg               string
			Appended, Commits int
		}
		if json.Unmarshal([]byte(l), &v) == nil && strings.HasPrefix(v.Msg, "stopped;") {
			return v.Appended, v.Commits
		}
	}
	t.Fatalf("the receiver logged no stopped line:\n%s", r.log())
	return 0, 0
}

// TestWebhookBurstIsGroupCommitted: a burst of concurrent deliveries (an
// app's daily sync: thousands of transactions/created and item/updated
// events, many delivered at once) is answered 200, every event appended
// once, in fewer fsyncs (a directory) or commits (a table) than events.
// Each append used to be fsynced, or committed, alone, one after the
// other, so the last of a few hundred deliveries waited for every fsync
// before it: on a disk whose fsync takes 10 ms, past the 5 s in which
// Pluggy wants its answer, and Pluggy delivered it again. Every event is
// also delivered a second time within the burst: answered 200, not
// appended twice.
func TestWebhookBurstIsGroupCommitted(t *testing.T) {
	t.Run("directory", func(t *testing.T) { testWebhookBurst(t, filepath.Join(t.TempDir(), "log")) })
	t.Run("postgres", func(t *testing.T) { testWebhookBurst(t, pgtest.DB(t)) })
}

func testWebhookBurst(t *testing.T, location string) {
	const n = 200
	r := startReceiver(t, location)
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("burst-%03d", i))
	}
	acked := r.burst(append(ids, ids[:n/4]...))
	if len(acked) != n {
		t.Fatalf("%d of %d events answered 200\n%s", len(acked), n, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	seen := map[string]bool{}
	for _, id := range logIDs(t, location) {
		if seen[id] {
			t.Errorf("%s is in the log twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("the log holds %d events, want %d", len(seen), n)
	}
	appended, commits := r.stoppedStats(t)
	if appended != n || commits >= n {
		t.Fatalf("the receiver appended %d events in %d commits; want %d in fewer commits than events", appended, commits, n)
	}
	t.Logf("%d concurrent deliveries: %d commits", n, commits)
}

// TestWebhookSIGKILLDuringABurstLosesNoAcknowledgedEvent kills the receiver
// with SIGKILL in the middle of bursts of concurrent deliveries, appended
// in batches: every event answered 200 is in the log, once, and the
// log reads cleanly (a torn batch is never acknowledged) and takes events
// after a restart.
func TestWebhookSIGKILLDuringABurstLosesNoAcknowledgedEvent(t *testing.T) {
	t.Run("directory", func(t *testing.T) { testWebhookSIGKILLDuringABurst(t, filepath.Join(t.TempDir(), "log")) })
	t.Run("postgres", func(t *testing.T) { testWebhookSIGKILLDuringABurst(t, pgtest.DB(t)) })
}

func testWebhookSIGKILLDuringABurst(t *testing.T, location string) {
	acked := map[string]bool{}
	for round := range 3 {
		r := startReceiver(t, location)
		var ids []string
		for i := range 300 {
			ids = append(ids, fmt.Sprintf("kill-r%d-%03d", round, i))
		}
		// Kill once the first answers are in, a little later each round.
		go func() {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				if strings.Count(r.log(), "appended a webhook event") > 10*round {
					break
				}
			}
			_ = r.cmd.Process.Signal(syscall.SIGKILL)
		}()
		for id := range r.burst(ids) {
			acked[id] = true
		}
		<-r.done
	}
	inLog := map[string]bool{}
	for _, id := range logIDs(t, location) {
		if inLog[id] {
			t.Errorf("event %s is in the log twice", id)
		}
		inLog[id] = true
	}
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged before the kills")
	}
	for id := range acked {
		if !inLog[id] {
			t.Errorf("acknowledged event %s is not in the log", id)
		}
	}
	t.Logf("%d events acknowledged before the kills, %d in the log", len(acked), len(inLog))
	r := startReceiver(t, location)
	if got := r.post(t, deletedEvent("after", uuidOf("t")), authHeader); got != 200 {
		t.Fatalf("after the kills: %d", got)
	}
	if ids := logIDs(t, location); ids[len(ids)-1] != "after" {
		t.Fatalf("last event %s, want after", ids[len(ids)-1])
	}
}

// TestWebhookPostgresRefusalFailsNoOtherEventOfItsBurst: the events of
// concurrent deliveries share a transaction, and an event the server
// refuses (here by a CHECK constraint an administrator added; a byte that
// is not UTF-8 was one, before pgText replaced it) would take every other
// event of its transaction down with it, answered 503 at every retry of
// the burst.
// Such a transaction is tried again event by event: only the refused
// event is answered 503.
func TestWebhookPostgresRefusalFailsNoOtherEventOfItsBurst(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	pgtest.Exec(t, url, `ALTER TABLE pluggy.webhook_events ADD CONSTRAINT refused CHECK (event_id <> 'refused-event')`)
	bad := deletedEvent("refused-event", uuidOf("b"))
	for round := range 3 {
		var ids []string
		for i := range 100 {
			ids = append(ids, fmt.Sprintf("good-r%d-%03d", round, i))
		}
		var badCode int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			badCode = r.post(t, bad, authHeader)
		}()
		acked := r.burst(ids)
		wg.Wait()
		if len(acked) != len(ids) || badCode != http.StatusServiceUnavailable {
			t.Fatalf("round %d: %d of %d good events answered 200, the bad one %d (want 503)\n%s", round, len(acked), len(ids), badCode, r.log())
		}
	}
	if ids := logIDs(t, url); len(ids) != 300 {
		t.Fatalf("the table holds %d events, want 300", len(ids))
	}
}

// TestWebhookPostgresRetryOfARefusedBurstHasItsOwnTime: a transaction the
// server refuses late (here at its commit, by a deferred check an
// administrator added, after an insert that took 2.5 s: a slow trigger, a
// loaded server) is tried again event by event, and that retry had only
// what the transaction left of their 4 s: the slow event's insert was cut
// (the session with it) and it, and the events after it, answered 503,
// though the server refused none of them. The retry has 4 s of its own:
// only the refused event is answered 503.
func TestWebhookPostgresRetryOfARefusedBurstHasItsOwnTime(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	pgtest.Exec(t, url, `CREATE FUNCTION pluggy.slow() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.event_id = 'hold-event' THEN PERFORM pg_sleep(3); END IF;
			IF NEW.event_id = 'slow-event' THEN PERFORM pg_sleep(2.5); END IF;
			RETURN NEW;
		END $$`)
	pgtest.Exec(t, url, `CREATE TRIGGER slow BEFORE INSERT ON pluggy.webhook_events FOR EACH ROW EXECUTE FUNCTION pluggy.slow()`)
	pgtest.Exec(t, url, `CREATE FUNCTION pluggy.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.event_id = 'refused-event' THEN RAISE EXCEPTION 'refused at commit'; END IF;
			RETURN NULL;
		END $$`)
	pgtest.Exec(t, url, `CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON pluggy.webhook_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pluggy.refuse()`)

	// A first delivery whose insert takes 3 s, so that the burst comes
	// while it commits and is committed in one transaction after it.
	held := make(chan int, 1)
	go func() { held <- r.post(t, deletedEvent("hold-event", uuidOf("h")), authHeader) }()
	conn := pgtest.Connect(t, url)
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n := pgtest.Rows(t, conn, `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`); n[0] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first delivery's insert never began:\n%s", r.log())
		}
	}
	ids := []string{"slow-event", "refused-event"}
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("good-%02d", i))
	}
	acked := r.burst(ids)
	if code := <-held; code != http.StatusOK {
		t.Fatalf("the first delivery: %d\n%s", code, r.log())
	}
	var refused []string
	for _, id := range ids {
		if !acked[id] {
			refused = append(refused, id)
		}
	}
	if fmt.Sprint(refused) != "[refused-event]" {
		t.Fatalf("not answered 200: %v, want only refused-event\n%s", refused, r.log())
	}
	if got := len(logIDs(t, url)); got != 12 {
		t.Fatalf("the table holds %d events, want 12 (all but the refused one)", got)
	}
}
