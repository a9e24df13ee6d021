package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// destination is what a warehouse loading the transactions stream holds:
// rows upserted by id, tombstones applied as deletes.
type destination map[string]string // id -> description

func (d destination) apply(t *testing.T, r *st.Result) (tombstoned []string) {
	t.Helper()
	for _, x := range txRecords(t, r) {
		if x.DeletedAt != nil {
			delete(d, x.ID)
			tombstoned = append(tombstoned, x.ID)
			continue
		}
		d[x.ID] = x.Description
	}
	return tombstoned
}

// truth is what the fake serves now.
func (e *env) truth() destination {
	out := destination{}
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var x struct{ ID, Description string }
				_ = json.Unmarshal(raw, &x)
				out[x.ID] = x.Description
			}
		}
	}
	return out
}

// diff describes how d differs from want (empty when equal).
func (d destination) diff(want destination) string {
	var missing, extra, stale []string
	for id, desc := range want {
		got, ok := d[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case got != desc:
			stale = append(stale, id)
		}
	}
	for id := range d {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(stale) == 0 {
		return ""
	}
	sort.Strings(extra)
	return fmt.Sprintf("%d rows missing, %d deleted rows still there %v, %d rows stale", len(missing), len(extra), extra, len(stale))
}

// hookEnv is a fake whose webhooks reach a receiver binary, and a config
// whose webhook_log is the receiver's log.
func hookEnv(t *testing.T, o fake.Options) (*env, *receiver) {
	t.Helper()
	return hookEnvAt(t, o, filepath.Join(t.TempDir(), "log"))
}

// hookEnvAt is hookEnv with the log at location: a directory or a
// PostgreSQL URL.
func hookEnvAt(t *testing.T, o fake.Options, location string) (*env, *receiver) {
	t.Helper()
	e := newEnv(t, o)
	e.fake.AllowLocalWebhooks(true)
	r := startReceiver(t, location)
	_, stderr, code := st.Exec(t, e.bin, "webhook", "register", "--config", e.config(nil), "--url", r.url+"/pluggy", "--header", "X-Hook-Token="+hookSecret)
	if code != 0 {
		t.Fatalf("webhook register: exit %d\n%s", code, stderr)
	}
	e.cfg["webhook_log"] = r.dir
	return e, r
}

func (e *env) deliver() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st.Must(e.t, e.fake.WaitDeliveries(ctx), "waiting for webhook deliveries")
}

// TestWebhookLogReads: with webhook_log, deletions far older than the
// lookback window are tombstoned, updates and new rows arrive, the
// destination equals the fake's truth, and a run in which nothing changed
// reads no account at all.
func TestWebhookLogReads(t *testing.T) {
	t.Run("directory", func(t *testing.T) { testWebhookLogReads(t, filepath.Join(t.TempDir(), "log")) })
	t.Run("postgres", func(t *testing.T) { testWebhookLogReads(t, pgtest.DB(t)) })
}

func testWebhookLogReads(t *testing.T, location string) {
	e, r := hookEnvAt(t, fake.Options{}, location)
	cat := e.catalog(true, "transactions", "items")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("first read: %s", d)
	}

	old := e.fake.DeleteOlder(3, 120*24*time.Hour)
	e.fake.UpdateInPlace(2)
	e.fake.AddNew(2)
	e.fake.PostPending(1)
	e.fake.Delete(1)
	e.deliver()

	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dead := dest.apply(t, r2)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the changes: %s", d)
	}
	for _, id := range old {
		if !contains(dead, id) {
			t.Errorf("row %s, deleted 120+ days after its date, got no tombstone", id)
		}
	}
	t.Logf("run with events: %v", e.fake.Stats().ByRoute)

	e.fake.ResetStats()
	r3 := e.read(cat, "--state", r2.StateFile(t))
	dest.apply(t, r3)
	s := e.fake.Stats()
	items := len(e.fake.ItemIDs())
	t.Logf("unchanged run with webhook_log (%d items): %v", items, s.ByRoute)
	if got := s.ByRoute["POST /auth"]; got > 1 {
		t.Errorf("%d auth calls", got)
	}
	if got := s.ByRoute["GET /v2/transactions"]; got != 0 {
		t.Errorf("an unchanged run read transactions %d times; want 0 per account", got)
	}
	if got := s.ByRoute["GET /items/{id}"] + s.ByRoute["GET /accounts"]; got > 2*items {
		t.Errorf("%d item and account calls for %d items", got, items)
	}
	if s.Total > 1+2*items {
		t.Errorf("%d requests, budget 1 auth + 2 per item = %d", s.Total, 1+2*items)
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after an unchanged run: %s", d)
	}
	e.noSecrets(r3)
	if strings.Contains(r.log(), pgtest.Password) || strings.Contains(string(r2.Stdout)+string(r2.Stderr), pgtest.Password) {
		t.Fatal("the database password was printed")
	}
}

// TestWebhookLogDeletionStillServedIsKept: during bank instability Pluggy
// may announce a deletion it does not carry out (pluggy-api.md §12,
// changelog 2026.08). Such an id is looked up, found served, emitted as a
// record and named in a WARN, never tombstoned; a deletion Pluggy did
// carry out, in the same run, still gets its tombstone.
func TestWebhookLogDeletionStillServedIsKept(t *testing.T) {
	e, _ := hookEnv(t, fake.Options{Items: 1})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)

	kept := e.fake.AnnounceDeletion(3)
	gone := e.fake.DeleteOlder(1, 60*24*time.Hour)
	if len(kept) != 3 || len(gone) != 1 {
		t.Fatalf("fake announced %d deletions it kept, deleted %d rows", len(kept), len(gone))
	}
	e.deliver()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dead := dest.apply(t, r2)
	emitted := rows(t, r2.Records()["transactions"])
	served := e.servedIDs()
	for _, id := range kept {
		if contains(dead, id) {
			t.Errorf("row %s got a tombstone though Pluggy still serves it", id)
		}
		if _, ok := emitted[id]; !ok || !served[id] {
			t.Errorf("row %s announced deleted but still served (%v) was not emitted", id, served[id])
		}
	}
	if !contains(dead, gone[0]) {
		t.Errorf("row %s, really deleted, got no tombstone (tombstones %v)", gone[0], dead)
	}
	if len(dead) != 1 {
		t.Errorf("tombstones %v, want only %s", dead, gone[0])
	}
	warns := strings.Join(logs(r2, protocol.LevelWarn, "still serves"), "\n")
	for _, id := range kept {
		if !strings.Contains(warns, id) {
			t.Errorf("no WARN names %s, announced deleted and still served: %q", id, warns)
		}
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the run: %s", d)
	}
}

// TestWebhookLogDroppedDeliveriesConverge: with 20% of deliveries lost (and
// duplicates and reordering), the fast path misses some changes, and the
// next reconciliation (reconcile_hours 0 here, instead of waiting a day)
// brings the destination back to the fake's truth.
func TestWebhookLogDroppedDeliveriesConverge(t *testing.T) {
	e, _ := hookEnv(t, fake.Options{Seed: 7})
	e.cfg["lookback_days"] = 45 // card rows re-posted under new ids can be a bill cycle old
	e.fake.SetDeliveryFaults(fake.DeliveryFaults{DropPercent: 20, DuplicateEvery: 5, Reorder: true, Delay: time.Millisecond})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r := e.read(cat)
	dest.apply(t, r)
	for round := range 4 {
		e.fake.AddNew(3)
		e.fake.UpdateInPlace(3)
		e.fake.PostPending(2)
		e.fake.Delete(2)
		e.deliver()
		r = e.read(cat, "--state", r.StateFile(t))
		dest.apply(t, r)
		t.Logf("round %d: %s", round, dest.diff(e.truth()))
	}
	if s := e.fake.DeliveryStats(); s.Dropped == 0 || s.Duplicated == 0 {
		t.Fatalf("delivery stats %+v: nothing dropped or duplicated", s)
	}
	r = e.readOver(map[string]any{"reconcile_hours": 0}, cat, "--state", r.StateFile(t))
	dest.apply(t, r)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after reconciliation: %s", d)
	}
}

// TestWebhookLogReadKilledAnywhereLosesNothing kills reads at random points
// and resumes each from the last state it printed: the destination still
// ends equal to the truth, old deletions included.
func TestWebhookLogReadKilledAnywhereLosesNothing(t *testing.T) {
	e, _ := hookEnv(t, fake.Options{Latency: 2 * time.Millisecond})
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r := e.read(cat)
	dest.apply(t, r)
	state := r.StateFile(t)
	rng := rand.New(rand.NewPCG(16, 16))
	var old []string
	for round := range 4 {
		old = append(old, e.fake.DeleteOlder(2, 100*24*time.Hour)...)
		e.fake.AddNew(4)
		e.fake.UpdateInPlace(2)
		e.fake.Delete(1)
		e.deliver()
		// Kill the read after a random number of records, resume, repeat.
		for kill := range 2 {
			p := e.startRead(cat, "--state", state)
			killAfterRecords(t, p, 1+rng.IntN(4))
			out := st.ParsePartial(t, p.Wait(t))
			dest.apply(t, out)
			if len(out.OfType(protocol.TypeState)) > 0 {
				state = out.StateFile(t)
			}
			t.Logf("round %d kill %d: %d records before the kill", round, kill, len(out.Records()["transactions"]))
		}
		r = e.read(cat, "--state", state)
		dest.apply(t, r)
		state = r.StateFile(t)
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after killed and resumed reads: %s", d)
	}
	for _, id := range old {
		if _, ok := dest[id]; ok {
			t.Errorf("old row %s deleted at Pluggy is still in the destination", id)
		}
	}
}

// TestWebhookLogReplacedIsNoticed: the log is replaced under a reader (the
// directory wiped, the table dropped) and the new receiver's log grows past
// the reader's log_position. The read must notice that its position is not
// in this log (a WARN, the whole log applied) rather than skip the new
// log's first events: old deletions among them would never get a
// tombstone.
func TestWebhookLogReplacedIsNoticed(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "log")
		testWebhookLogReplaced(t, dir, func() { st.Must(t, os.RemoveAll(dir), "removing the log") })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		testWebhookLogReplaced(t, url, func() { pgtest.Exec(t, url, `DROP TABLE pluggy.webhook_events`) })
	})
}

func testWebhookLogReplaced(t *testing.T, location string, replace func()) {
	e, r := hookEnvAt(t, fake.Options{Items: 1}, location)
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	e.fake.DeleteOlder(1, 100*24*time.Hour)
	e.deliver()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)

	// A new, empty log at the same place, behind the same URL.
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	replace()
	startReceiver(t, location, "--listen", strings.TrimPrefix(r.url, "http://"))
	var old []string
	for range 6 { // a log longer than the old one was at the state's position
		old = append(old, e.fake.DeleteOlder(1, 100*24*time.Hour)...)
		e.deliver()
	}
	r3 := e.read(cat, "--state", r2.StateFile(t))
	dead := dest.apply(t, r3)
	for _, id := range old {
		if !contains(dead, id) {
			t.Errorf("row %s, deleted long after its date in the new log, got no tombstone", id)
		}
	}
	if len(logs(r3, protocol.LevelWarn, "does not hold the state's log_position")) == 0 {
		t.Error("no WARN that the state's log_position is not in the replaced log")
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the log was replaced: %s", d)
	}
}

func TestWebhookLogBadInput(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cat := e.catalog(true, "transactions")
	acct := e.fake.AccountIDs(e.fake.ItemIDs()[0])[0]
	badPos := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "log_position": "seven",
		"accounts": map[string]any{acct: map[string]any{"created_at": "2026-01-01T00:00:00.000Z", "synced_at": "2026-01-01T00:00:00Z"}}})
	for _, c := range []struct {
		name    string
		over    map[string]any
		args    []string
		mention string
		typ     protocol.FailureType
	}{
		{"missing directory", map[string]any{"webhook_log": filepath.Join(t.TempDir(), "nope")}, nil, "webhook_log", protocol.ConfigError},
		// The database may be restarting: a scheduler should retry.
		{"an unreachable database", map[string]any{"webhook_log": "postgres://u:pw-secret@127.0.0.1:1/x?connect_timeout=5"}, nil, "webhook_log", protocol.TransientError},
		{"bad log_position", map[string]any{"webhook_log": t.TempDir()}, []string{"--state", badPos}, "log_position", protocol.ConfigError},
		{"negative reconcile_hours", map[string]any{"webhook_log": t.TempDir(), "reconcile_hours": -1}, nil, "reconcile_hours", protocol.ConfigError},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := e.cfg
			e.cfg = map[string]any{}
			for k, v := range saved {
				e.cfg[k] = v
			}
			for k, v := range c.over {
				e.cfg[k] = v
			}
			defer func() { e.cfg = saved }()
			r := st.Run(t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", cat}, c.args...)...)
			st.ValidateProtocol(t, r)
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != c.typ || !strings.Contains(errs[0].Message, c.mention) {
				t.Fatalf("exit %d, errors %s; want exit 1 and a %s mentioning %q", r.Code, r.Stdout, c.typ, c.mention)
			}
			if strings.Contains(string(r.Stdout)+string(r.Stderr), "pw-secret") {
				t.Fatal("the URL's password was printed")
			}
			if n := len(r.Records()["transactions"]); n != 0 {
				t.Fatalf("%d transactions emitted despite the bad input", n)
			}
		})
	}
}

// TestWebhookLogURLRefusedBeforeReading: a webhook_log URL that does not
// parse is a config_error before anything is read. It was found only when
// the transactions stream opened the log, after the streams before it had
// been read and emitted.
func TestWebhookLogURLRefusedBeforeReading(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cat := e.catalog(true, "items", "accounts", "transactions")
	cfg := e.config(map[string]any{"webhook_log": "postgres://u:pw-secret@127.0.0.1:badport/db"})
	before := e.fake.Stats().Total
	r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", cat)
	st.ValidateProtocol(t, r)
	errs := r.ErrorTraces()
	if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, "config.webhook_log") {
		t.Fatalf("exit %d, errors %v; want exit 1 and one config_error naming config.webhook_log", r.Code, errs)
	}
	for name, recs := range r.Records() {
		if len(recs) > 0 {
			t.Errorf("%d %s records emitted before the config was refused", len(recs), name)
		}
	}
	if n := e.fake.Stats().Total - before; n != 0 {
		t.Errorf("%d requests to Pluggy before the config was refused", n)
	}
	if strings.Contains(string(r.Stdout)+string(r.Stderr), "pw-secret") {
		t.Error("the URL's password was printed")
	}
}

// TestWebhookLogCallBudget measures the requests of an unchanged
// incremental transactions run, with and without webhook_log, on the demo
// data set (2 items, 3 accounts each) and at 100 accounts (20 items of 5).
// With the log: at most 1 auth + 2 per item, and 0 per account; without:
// 2 more per account. The figures are in docs/webhooks.md.
func TestWebhookLogCallBudget(t *testing.T) {
	for _, c := range []struct {
		name string
		o    fake.Options
	}{
		{"demo data set", fake.Options{Items: 2, TransactionsPerAccount: 120}},
		{"100 accounts", fake.Options{Items: 20, AccountsPerItem: 5, TransactionsPerAccount: 30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _ := hookEnv(t, c.o)
			items, accounts := len(e.fake.ItemIDs()), 0
			for _, item := range e.fake.ItemIDs() {
				accounts += len(e.fake.AccountIDs(item))
			}
			cat := e.catalog(true, "transactions")
			state := e.read(cat).StateFile(t)
			// A second run first, so the measured one starts from a steady state.
			state = e.read(cat, "--state", state).StateFile(t)
			e.fake.ResetStats()
			e.read(cat, "--state", state)
			with := e.fake.Stats()
			e.fake.ResetStats()
			logDir := e.cfg["webhook_log"]
			delete(e.cfg, "webhook_log")
			e.read(cat, "--state", state)
			e.cfg["webhook_log"] = logDir
			without := e.fake.Stats()
			t.Logf("%s (%d items, %d accounts), unchanged incremental run: with webhook_log %d requests %v; without %d requests %v",
				c.name, items, accounts, with.Total, with.ByRoute, without.Total, without.ByRoute)
			if with.ByRoute["GET /v2/transactions"] != 0 || with.ByRoute["POST /auth"] > 1 || with.Total > 1+2*items {
				t.Errorf("with webhook_log: %d requests %v; budget 1 auth + 2 per item = %d, 0 per account", with.Total, with.ByRoute, 1+2*items)
			}
			if without.ByRoute["GET /v2/transactions"] < 2*accounts {
				t.Errorf("without webhook_log the run read transactions %d times for %d accounts: the comparison is wrong", without.ByRoute["GET /v2/transactions"], accounts)
			}
		})
	}
}

// killAfterRecords SIGKILLs a read once it printed n transactions records,
// unless it ends first (a small resumed run may).
func killAfterRecords(t *testing.T, p *proc, n int) {
	t.Helper()
	if p.Reach(t, killPoint{Records: n}) {
		p.Kill(t) // it may have just ended
	}
}

// TestWebhookReceiverKilledDuringDeliveries SIGKILLs the receiver while the
// fake delivers, at a different point each round, and restarts it on the
// same address: every delivery it acknowledged is in the log, the deliveries
// it missed are lost (as Pluggy's are after its retries), and the next
// reconciliation still brings the destination to the fake's truth.
func TestWebhookReceiverKilledDuringDeliveries(t *testing.T) {
	e, r := hookEnv(t, fake.Options{Seed: 11})
	e.cfg["lookback_days"] = 45
	e.fake.SetDeliveryFaults(fake.DeliveryFaults{Delay: 2 * time.Millisecond})
	addr := r.url[len("http://"):]
	cat := e.catalog(true, "transactions")
	dest := destination{}
	res := e.read(cat)
	dest.apply(t, res)
	for round := range 3 {
		before := len(e.fake.AcknowledgedEventIDs())
		e.fake.AddNew(4)
		e.fake.UpdateInPlace(3)
		e.fake.PostPending(1)
		e.fake.Delete(2)
		// Kill after 1, 2, 3 more acknowledgements.
		deadline := time.Now().Add(time.Minute)
		for len(e.fake.AcknowledgedEventIDs()) < before+round+1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		e.deliver()
		r = startReceiver(t, r.dir, "--listen", addr)
		res = e.read(cat, "--state", res.StateFile(t))
		dest.apply(t, res)
	}
	inLog := map[string]bool{}
	for _, id := range logEventIDs(t, r.dir) {
		inLog[id] = true
	}
	for _, id := range e.fake.AcknowledgedEventIDs() {
		if !inLog[id] {
			t.Errorf("event %s was acknowledged but is not in the log", id)
		}
	}
	if s := e.fake.DeliveryStats(); s.Failed == 0 {
		t.Fatalf("delivery stats %+v: no delivery failed, the kills came too late", s)
	}
	res = e.readOver(map[string]any{"reconcile_hours": 0}, cat, "--state", res.StateFile(t))
	dest.apply(t, res)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after reconciliation: %s", d)
	}
}

// TestWebhookSubscribedToAllIsSortedOut: a webhook subscribed to "all" (or
// an item's own webhookUrl) also gets the events source-pluggy does not act
// on, such as connector/status_updated (pluggy-api.md §6: data {status},
// perhaps connectorId: with it and without). The receiver acknowledges each
// (a refusal would only have Pluggy deliver it again and again), appends
// none of them, and keeps the transactions and item events, which the next
// read applies.
func TestWebhookSubscribedToAllIsSortedOut(t *testing.T) {
	for name, o := range map[string]fake.Options{
		"with connectorId":    {Items: 1},
		"without connectorId": {Items: 1, ConnectorStatusWithoutID: true},
	} {
		t.Run(name, func(t *testing.T) { testWebhookSubscribedToAllIsSortedOut(t, o) })
	}
}

func testWebhookSubscribedToAllIsSortedOut(t *testing.T, o fake.Options) {
	e := newEnv(t, o)
	e.fake.AllowLocalWebhooks(true)
	r := startReceiver(t, filepath.Join(t.TempDir(), "log"))
	e.apiDo(http.MethodPost, "/webhooks", map[string]any{"event": "all", "url": r.url + "/pluggy", "headers": map[string]string{"X-Hook-Token": hookSecret}}, nil)
	e.cfg["webhook_log"] = r.dir
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)

	e.fake.AddNew(2)
	e.fake.UpdateInPlace(1)
	e.fake.Delete(1)
	e.fake.ConnectorStatusUpdated("UNSTABLE")
	e.deliver()
	if s := e.fake.DeliveryStats(); s.Failed != 0 || s.Acknowledged != s.Queued {
		t.Fatalf("delivery stats %+v: the receiver refused events\n%s", s, r.log())
	}
	events := map[string]int{}
	_, err := eventlog.Read(r.dir, eventlog.Position{}, func(_ eventlog.Position, line []byte) error {
		var l struct{ Payload struct{ Event string } }
		st.Must(t, json.Unmarshal(line, &l), "log line")
		events[l.Payload.Event]++
		return nil
	})
	st.Must(t, err, "reading the log")
	if events["connector/status_updated"] != 0 || events["transactions/created"] == 0 || events["transactions/deleted"] == 0 || events["item/updated"] == 0 {
		t.Fatalf("the log holds %v; want the transactions and item events, no connector/status_updated", events)
	}
	ignored := func() bool {
		for _, line := range strings.Split(r.log(), "\n") {
			if strings.Contains(line, "does not act on; not appended") && strings.Contains(line, `"event":"connector/status_updated"`) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !ignored() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // stderr is read by another goroutine
	}
	if !ignored() {
		t.Errorf("the receiver did not log the connector/status_updated it acknowledged:\n%s", r.log())
	}

	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the events: %s", d)
	}
}

// TestWebhookLogRestoredFromABackupIsNoticed: the log restored from a
// backup taken before a receiver restart (a volume snapshot, a database's
// point-in-time recovery) loses what was appended after the backup, and
// the receiver started on it appends again. If its new events took the
// places of lost ones (the lost segment's number, the lost rows' seqs),
// the position a reader kept among the lost ones would point into the new
// events once they were as many, and the reader would skip the first of
// them (old deletions among them would never get a tombstone). Every one
// must be read: for a directory, the reader finds its position gone (a
// WARN, the whole log applied, every account reconciled); in PostgreSQL,
// the new rows' seqs come after every seq the table had before.
func TestWebhookLogRestoredFromABackupIsNoticed(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "log")
		snapshot := filepath.Join(t.TempDir(), "snapshot")
		testWebhookLogRestored(t, dir, true, func() {
			st.Must(t, os.CopyFS(snapshot, os.DirFS(dir)), "taking a snapshot of the log")
		}, func() {
			st.Must(t, os.RemoveAll(dir), "removing the log")
			st.Must(t, os.CopyFS(dir, os.DirFS(snapshot)), "restoring the snapshot")
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		var top, last int64
		var called bool
		testWebhookLogRestored(t, url, false, func() {
			ctx := context.Background()
			conn := pgtest.Connect(t, url)
			defer conn.Close(ctx)
			st.Must(t, conn.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM pluggy.webhook_events`).Scan(&top), "the backup's last row")
			st.Must(t, conn.QueryRow(ctx, `SELECT last_value, is_called FROM pluggy.webhook_events_seq_seq`).Scan(&last, &called), "the backup's sequence")
		}, func() {
			// What a restore of that backup leaves: the rows and the
			// sequence as they were.
			pgtest.Exec(t, url, `DELETE FROM pluggy.webhook_events WHERE seq > $1`, top)
			pgtest.Exec(t, url, `SELECT setval('pluggy.webhook_events_seq_seq', $1, $2)`, last, called)
		})
	})
}

func testWebhookLogRestored(t *testing.T, location string, warns bool, backup, restore func()) {
	e, r := hookEnvAt(t, fake.Options{Items: 1}, location)
	addr := strings.TrimPrefix(r.url, "http://")
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	restart := func() {
		t.Helper()
		if code := r.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
		}
		r = startReceiver(t, location, "--listen", addr)
	}

	// The nightly backup; then the receiver restarts (for a directory, a
	// new segment), and a read's position moves past the backup.
	backup()
	restart()
	e.fake.DeleteOlder(1, 100*24*time.Hour)
	e.deliver()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	dest.apply(t, r2)

	// The log is restored from the backup, and the receiver starts on it
	// again, behind the same URL.
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	restore()
	r = startReceiver(t, location, "--listen", addr)
	var old []string
	for range 6 { // more events than the backup lost
		old = append(old, e.fake.DeleteOlder(1, 100*24*time.Hour)...)
		e.deliver()
	}
	r3 := e.read(cat, "--state", r2.StateFile(t))
	dead := dest.apply(t, r3)
	for _, id := range old {
		if !contains(dead, id) {
			t.Errorf("row %s, deleted long after its date after the restore, got no tombstone", id)
		}
	}
	if warns && len(logs(r3, protocol.LevelWarn, "does not hold the state's log_position")) == 0 {
		t.Error("no WARN that the state's log_position is not in the restored log")
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the restore: %s", d)
	}
}

// TestWebhookLogNoReceiverWroteIsWarned: a webhook_log naming a directory
// no receiver ever opened (one level above the receiver's --log, as when a
// read CronJob sets it to the volume's mount point) holds no event: every
// run saw none, read no account between reconciliations, and said nothing,
// so changes reached the destination once every reconcile_hours instead
// of at the next run. A read now warns, naming the directory and the fix:
// the subdirectory that holds a log if there is one, else the receiver's
// --log. A read of the receiver's own log does not.
func TestWebhookLogNoReceiverWroteIsWarned(t *testing.T) {
	mount := t.TempDir()
	e, r := hookEnvAt(t, fake.Options{Items: 1}, filepath.Join(mount, "webhooks"))
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	e.fake.UpdateInPlace(2)
	e.deliver()

	const warning = "webhook_log holds no event log"
	for _, c := range []struct {
		name, location, fix string
	}{
		{"the volume's mount point", mount, "subdirectory " + r.dir},
		{"an empty directory", t.TempDir(), "--log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := e.readOver(map[string]any{"webhook_log": c.location}, cat, "--state", r1.StateFile(t))
			warns := logs(got, protocol.LevelWarn, warning, c.location, c.fix)
			if len(warns) != 1 {
				t.Fatalf("%d WARNs naming %s and %q, want 1; WARNs: %q", len(warns), c.location, c.fix, logs(got, protocol.LevelWarn))
			}
		})
	}
	got := e.read(cat, "--state", r1.StateFile(t))
	if warns := logs(got, protocol.LevelWarn, warning); len(warns) != 0 {
		t.Fatalf("a read of the receiver's log warns: %q", warns)
	}
}
