package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// receivedDate is the date of a directory log line's receivedAt.
var receivedDate = regexp.MustCompile(`"receivedAt":"(\d{4}-\d{2}-\d{2})T`)

// ageLog makes the events of the log at location look received days
// earlier: a directory's every line (the date of its receivedAt moved back,
// its length, and so every position, kept) and segment file; a table's
// rows up to seq upTo ("" for all).
func ageLog(t *testing.T, location, upTo string, days int) {
	t.Helper()
	if webhook.IsURL(location) {
		if upTo == "" {
			upTo = "9223372036854775807"
		}
		pgtest.Exec(t, location, `UPDATE pluggy.webhook_events SET received_at = received_at - make_interval(days => $1) WHERE seq <= $2::bigint`, days, upTo)
		return
	}
	segs, err := eventlog.Segments(location)
	st.Must(t, err, "listing the log")
	for _, name := range segs {
		path := filepath.Join(location, name)
		b, err := os.ReadFile(path)
		st.Must(t, err, "reading a segment")
		b = receivedDate.ReplaceAllFunc(b, func(m []byte) []byte {
			d, err := time.Parse("2006-01-02", string(receivedDate.FindSubmatch(m)[1]))
			st.Must(t, err, "a receivedAt")
			return []byte(`"receivedAt":"` + d.AddDate(0, 0, -days).Format("2006-01-02") + "T")
		})
		st.Must(t, os.WriteFile(path, b, 0o600), "writing a segment")
		fi, err := os.Stat(path)
		st.Must(t, err, "a segment")
		old := fi.ModTime().AddDate(0, 0, -days)
		st.Must(t, os.Chtimes(path, old, old), "dating a segment")
	}
}

// logIDs is the eventIds the log at location holds, in order.
func logIDs(t *testing.T, location string) []string {
	t.Helper()
	if webhook.IsURL(location) {
		// A connection of its own, closed at once: tests poll this.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, location)
		st.Must(t, err, "connecting to the log's database")
		defer conn.Close(ctx)
		return pgtest.Rows(t, conn, `SELECT event_id FROM pluggy.webhook_events ORDER BY seq`)
	}
	return logEventIDs(t, location)
}

// waitLogged waits until the receiver has logged msg n times.
func (r *receiver) waitLogged(t *testing.T, msg string, n int) {
	t.Helper()
	count := func() int { return strings.Count(r.log(), `"msg":"`+msg) }
	for deadline := time.Now().Add(30 * time.Second); count() < n && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if count() < n {
		t.Fatalf("the receiver logged %q %d times, want %d:\n%s", msg, count(), n, r.log())
	}
}

const prunedMsg = "pruned the event log"

// TestWebhookRetainPrunesWhileRunning: a receiver with --retain removes
// the events received longer ago than it while it runs, not only as it
// starts, and forgets their eventIds with them (its memory is what is
// retained): one redelivered before the prune is a duplicate, after it an
// event appended again. A retention under a day is warned of. A directory
// keeps a segment until the one after it is as old (a reader that read
// since holds a place at its end); a table keeps its newest old row, and
// deletes the rows before it.
func TestWebhookRetainPrunesWhileRunning(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		testWebhookRetainWhileRunning(t, filepath.Join(t.TempDir(), "log"), "[ret-1 ret-2]")
	})
	t.Run("postgres", func(t *testing.T) { testWebhookRetainWhileRunning(t, pgtest.DB(t), "[ret-2]") })
}

func testWebhookRetainWhileRunning(t *testing.T, location, atStart string) {
	r := startReceiver(t, location)
	for _, id := range []string{"ret-1", "ret-2"} {
		if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != 200 {
			t.Fatalf("POST %s: %d", id, got)
		}
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, location, "", 3)

	r = startReceiver(t, location, "--retain", "2s")
	if !strings.Contains(r.log(), `"msg":"--retain is shorter than a day`) {
		t.Errorf("no WARN of a retention under a day:\n%s", r.log())
	}
	if webhook.IsURL(location) {
		r.waitLogged(t, prunedMsg, 1) // a table's first prune runs while it serves
	}
	if got := fmt.Sprint(logIDs(t, location)); got != atStart {
		t.Fatalf("the log holds %s once the receiver started, want %s", got, atStart)
	}
	// Still retained: a redelivery.
	if got := r.post(t, deletedEvent("ret-2", uuidOf("ret-2")), authHeader); got != 200 {
		t.Fatalf("POST ret-2 again: %d", got)
	}
	if got := r.post(t, deletedEvent("ret-3", uuidOf("ret-3")), authHeader); got != 200 {
		t.Fatalf("POST ret-3: %d", got)
	}
	if got := fmt.Sprint(logIDs(t, location)); got != strings.TrimSuffix(atStart, "]")+" ret-3]" {
		t.Fatalf("the log holds %s, want ret-2 once and ret-3 after %s", got, atStart)
	}
	// Two seconds on, what came before ret-3 goes: the directory's old
	// segment (the current one is as old), the table's rows before the
	// newest old one, ret-3.
	deadline := time.Now().Add(30 * time.Second)
	for fmt.Sprint(logIDs(t, location)) != "[ret-3]" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := fmt.Sprint(logIDs(t, location)); got != "[ret-3]" {
		t.Fatalf("the log holds %s while the receiver runs with --retain 2s, want [ret-3]\n%s", got, r.log())
	}
	r.waitLogged(t, prunedMsg, 1)
	// ret-2 is forgotten: Pluggy no longer redelivers what --retain
	// removed, and the receiver keeps nothing of it.
	if got := r.post(t, deletedEvent("ret-2", uuidOf("ret-2")), authHeader); got != 200 {
		t.Fatalf("POST ret-2 after it was pruned: %d", got)
	}
	if got := fmt.Sprint(logIDs(t, location)); got != "[ret-3 ret-2]" {
		t.Fatalf("the log holds %s, want [ret-3 ret-2]: ret-2 appended again once pruned", got)
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}

// TestWebhookRetainedLogReads: a receiver started with --retain on a log
// whose oldest events are older than it removes them as it starts. A read
// whose log_position is past them loses nothing (an old deletion after its
// position is tombstoned, no WARN); a read whose position was among them
// WARNs, applies the whole log left and reconciles every account, and ends
// with the fake's data, the changes among the pruned events (updates,
// deletions in the lookback window, new rows) found by the reconciliation.
func TestWebhookRetainedLogReads(t *testing.T) {
	t.Run("directory", func(t *testing.T) { testWebhookRetainedLogReads(t, filepath.Join(t.TempDir(), "log")) })
	t.Run("postgres", func(t *testing.T) { testWebhookRetainedLogReads(t, pgtest.DB(t)) })
}

func testWebhookRetainedLogReads(t *testing.T, location string) {
	e, r := hookEnvAt(t, fake.Options{Items: 1}, location)
	addr := strings.TrimPrefix(r.url, "http://")
	cat := e.catalog(true, "transactions")
	restart := func(extra ...string) {
		t.Helper()
		if code := r.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
		}
		r = startReceiver(t, location, append([]string{"--listen", addr}, extra...)...)
	}
	r1 := e.read(cat)
	stale := destination{}
	stale.apply(t, r1)

	// Changes a reconciliation finds, which the stale reader never reads
	// as events: they are pruned before it reads again.
	e.fake.UpdateInPlace(2)
	e.fake.Delete(1)
	e.fake.AddNew(2)
	e.deliver()
	restart() // a directory's next segment
	e.fake.UpdateInPlace(1)
	e.deliver()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	current := destination{}
	current.apply(t, r1)
	current.apply(t, r2)
	var pos struct {
		LogPosition string `json:"log_position"`
	}
	st.Must(t, json.Unmarshal(r2.FinalStates()["transactions"], &pos), "the state")

	// After the current reader's position: an old deletion only the
	// event tells.
	after := e.fake.DeleteOlder(1, 100*24*time.Hour)
	e.deliver()
	// Everything read so far was received a month ago; the receiver
	// starts again keeping 30 days.
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, location, pos.LogPosition, 31)
	before := len(logIDs(t, location))
	r = startReceiver(t, location, "--listen", addr, "--retain", "30d")
	r.waitLogged(t, prunedMsg, 1)
	if left := len(logIDs(t, location)); left >= before || left == 0 {
		t.Fatalf("the log held %d events and holds %d once the receiver started with --retain 30d", before, left)
	}
	if strings.Contains(r.log(), "shorter than a day") {
		t.Errorf("--retain 30d is warned of as under a day:\n%s", r.log())
	}

	r3 := e.read(cat, "--state", r2.StateFile(t))
	dead := current.apply(t, r3)
	for _, id := range after {
		if !contains(dead, id) {
			t.Errorf("row %s, deleted after the current reader's position, got no tombstone", id)
		}
	}
	if w := logs(r3, protocol.LevelWarn, "does not hold the state's log_position"); len(w) != 0 {
		t.Errorf("a read whose position is past the pruned events WARNs: %q", w)
	}
	if d := current.diff(e.truth()); d != "" {
		t.Errorf("the reader past the pruned events: %s", d)
	}

	r4 := e.read(cat, "--state", r1.StateFile(t))
	stale.apply(t, r4)
	if len(logs(r4, protocol.LevelWarn, "does not hold the state's log_position", "pruned")) == 0 {
		t.Errorf("no WARN that the stale reader's log_position was pruned; WARNs: %q", logs(r4, protocol.LevelWarn))
	}
	if d := stale.diff(e.truth()); d != "" {
		t.Errorf("the reader whose position was pruned: %s", d)
	}
}

// TestWebhookRetainOnATableMadeForTheReceiver: a receiver whose role may
// not delete from the table an administrator made for it (docs/webhooks.md
// grants SELECT and INSERT) refuses to start with --retain, naming the
// grants, rather than fail its first prune a month later, as does one
// that may only read the table of what was pruned; with them it starts
// and prunes.
func TestWebhookRetainOnATableMadeForTheReceiver(t *testing.T) {
	admin, role, url := pgTableMadeForReceiver(t)
	bin := st.Build(t, "source-pluggy")
	_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", url, "--header", "X-A=b", "--retain", "30d")
	if code != 1 || !strings.Contains(string(stderr), "needs DELETE on the first") || strings.Contains(string(stderr), "hook-role-pw") {
		t.Fatalf("--retain without DELETE: exit %d\n%s", code, stderr)
	}
	pgtest.Exec(t, admin, `GRANT DELETE ON pluggy.webhook_events TO `+role)
	pgtest.Exec(t, admin, `CREATE TABLE pluggy.webhook_events_pruned (through bigint NOT NULL)`)
	// SELECT alone on the table of what was pruned (a reader's grant):
	// has_table_privilege asked for SELECT, INSERT and DELETE at once
	// answers whether any one is held, and the receiver started, every
	// prune failing.
	pgtest.Exec(t, admin, `GRANT SELECT ON pluggy.webhook_events_pruned TO `+role)
	_, stderr, code = st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", url, "--header", "X-A=b", "--retain", "30d")
	if code != 1 || !strings.Contains(string(stderr), "needs SELECT, INSERT and DELETE on it") {
		t.Fatalf("--retain with SELECT alone on pluggy.webhook_events_pruned: exit %d\n%s", code, stderr)
	}
	pgtest.Exec(t, admin, `GRANT INSERT, DELETE ON pluggy.webhook_events_pruned TO `+role)
	r := startReceiver(t, url)
	for _, id := range []string{"made-1", "made-2"} {
		if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != 200 {
			t.Fatalf("POST %s: %d", id, got)
		}
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, admin, "", 40)
	r = startReceiver(t, url, "--retain", "30d")
	r.waitLogged(t, prunedMsg, 1)
	if got := fmt.Sprint(logIDs(t, admin)); got != "[made-2]" {
		t.Fatalf("the table holds %s once the receiver started with --retain 30d, want [made-2]\n%s", got, r.log())
	}
}

// TestWebhookRetainPrunesUnderTheRolesConnectionLimit: a receiver whose
// role may hold one connection (CONNECTION LIMIT 1: one receiver's) prunes
// on its own session, between appends. Since the prune took a session of
// its own (0015328), the server refused that session at every round and
// the table was never pruned, each hour logging an ERROR, while the
// receiver's start check passed.
func TestWebhookRetainPrunesUnderTheRolesConnectionLimit(t *testing.T) {
	admin, role, url := pgTableMadeForReceiver(t)
	pgtest.Exec(t, admin, `GRANT DELETE ON pluggy.webhook_events TO `+role)
	pgtest.Exec(t, admin, `CREATE TABLE pluggy.webhook_events_pruned (through bigint NOT NULL)`)
	pgtest.Exec(t, admin, `GRANT SELECT, INSERT, DELETE ON pluggy.webhook_events_pruned TO `+role)
	pgtest.Exec(t, admin, `ALTER ROLE `+role+` CONNECTION LIMIT 1`)
	r := startReceiver(t, url)
	for _, id := range []string{"limit-1", "limit-2"} {
		if got := r.post(t, deletedEvent(id, uuidOf(id)), authHeader); got != 200 {
			t.Fatalf("POST %s: %d", id, got)
		}
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	ageLog(t, admin, "", 40)
	// The stopped receiver's session ends on the server a moment after
	// it exits; until then it holds the role's one connection.
	conn := pgtest.Connect(t, admin)
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(30 * time.Second); pgtest.Rows(t, conn, `SELECT count(*) FROM pg_stat_activity WHERE usename = '`+role+`'`)[0] != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stopped receiver's session is still open after 30 s")
		}
	}
	r = startReceiver(t, url, "--retain", "30d")
	r.waitLogged(t, prunedMsg, 1)
	if got := fmt.Sprint(logIDs(t, admin)); got != "[limit-2]" {
		t.Fatalf("the table holds %s once the receiver started with --retain 30d, want [limit-2]\n%s", got, r.log())
	}
	if got := r.post(t, deletedEvent("limit-3", uuidOf("limit-3")), authHeader); got != 200 {
		t.Fatalf("POST after the prune: %d\n%s", got, r.log())
	}
	if strings.Contains(r.log(), "could not prune") {
		t.Fatalf("a prune failed:\n%s", r.log())
	}
}

// TestWebhookRetainPrunesATableWhileServing: the first --retain on a long
// table (millions of old rows take minutes to delete, 5,000 a statement)
// runs while the receiver serves: /healthz answers 200 and a delivery is
// appended while the prune is under way (held here by a lock on the
// oldest row), where the receiver pruned before it answered anything, and
// a readiness or liveness probe gave up on it meanwhile. The prune has a
// session of its own: neither waits for it.
func TestWebhookRetainPrunesATableWhileServing(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	pgtest.Exec(t, url, `INSERT INTO pluggy.webhook_events (event_id, received_at, payload)
		SELECT 'old-' || g, now() - interval '40 days', '{}' FROM generate_series(1, 12000) g`)
	ctx := context.Background()
	tx := lockOldestEvent(t, url)

	r = startReceiver(t, url, "--retain", "30d")
	watch := pgtest.Connect(t, url)
	defer watch.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		waiting := pgtest.Rows(t, watch, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM pluggy.webhook_events %'`)
		if waiting[0] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver's prune never reached the locked row:\n%s", r.log())
		}
	}
	resp, err := http.Get(r.url + "/healthz")
	st.Must(t, err, "GET /healthz")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while the first prune runs: %d, want 200\n%s", resp.StatusCode, r.log())
	}
	if got := r.post(t, deletedEvent("new-event", uuidOf("new-event")), authHeader); got != http.StatusOK {
		t.Fatalf("a delivery while the first prune runs: %d, want 200\n%s", got, r.log())
	}
	if strings.Contains(r.log(), prunedMsg) {
		t.Fatalf("the prune ended while a row it deletes was locked:\n%s", r.log())
	}
	st.Must(t, tx.Rollback(ctx), "releasing the lock")
	r.waitLogged(t, prunedMsg, 1)
	if got := fmt.Sprint(logIDs(t, url)); got != "[old-12000 new-event]" {
		t.Fatalf("the table holds %.100s once pruned, want the newest old row and the new event", got)
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}

// lockOldestEvent holds the webhook log's oldest row FOR UPDATE in a
// transaction of its own session (closed at the test's end), for a prune
// to wait behind; the caller rolls it back to release it.
func lockOldestEvent(t *testing.T, url string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Connect(t, url)
	t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	st.Must(t, err, "BEGIN")
	st.Must(t, tx.QueryRow(ctx, `SELECT event_id FROM pluggy.webhook_events ORDER BY seq LIMIT 1 FOR UPDATE`).Scan(new(string)), "locking the oldest row")
	return tx
}
