package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookReceiverRefusesNonUUIDIDs: an authenticated event whose ids
// are not UUIDs (Pluggy's always are) is answered 422 with a body naming
// the field, and never appended: in the log it would fail every read of
// its account (GET /v2/transactions?ids= answers 400 to such an id).
func TestWebhookReceiverRefusesNonUUIDIDs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiver(t, dir)
	const item, acct = "a5c763cb-0952-457b-9936-630f79c5b016", "8a6e2c17-0000-4000-8000-000000000001"
	cases := []struct{ name, field, body string }{
		{"transactionIds", "transactionIds", deletedEvent("bad-ids-1", "a", "b")},
		{"one bad id among UUIDs", "transactionIds", deletedEvent("bad-ids-2", "786c7d98-6085-4879-9c7f-2255260e2436", "b")},
		{"itemId", "itemId", `{"event":"transactions/updated","eventId":"bad-ids-3","itemId":"i","accountId":"` + acct + `","transactionIds":["786c7d98-6085-4879-9c7f-2255260e2436"]}`},
		{"accountId", "accountId", `{"event":"transactions/created","eventId":"bad-ids-4","itemId":"` + item + `","accountId":"a","transactionsCreatedAtFrom":"2026-01-01T00:00:00.000Z"}`},
		{"item event", "itemId", `{"event":"item/updated","eventId":"bad-ids-5","itemId":"i1"}`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(http.MethodPost, r.url+"/pluggy", strings.NewReader(c.body))
		st.Must(t, err, "request")
		req.Header.Set("X-Hook-Token", hookSecret)
		resp, err := http.DefaultClient.Do(req)
		st.Must(t, err, "POST")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var reply struct{ Result, Error string }
		_ = json.Unmarshal(b, &reply)
		if resp.StatusCode != http.StatusUnprocessableEntity || reply.Result != "refused" || !strings.Contains(reply.Error, `"`+c.field+`"`) || !strings.Contains(reply.Error, "UUID") {
			t.Errorf("%s: %d %s; want 422 refused naming %q and UUIDs", c.name, resp.StatusCode, b, c.field)
		}
	}
	good := deletedEvent("good-1", "786C7D98-6085-4879-9C7F-2255260E2436") // upper case is still a UUID
	if got := r.post(t, good, authHeader); got != 200 {
		t.Fatalf("an event with UUIDs: %d", got)
	}
	if got := fmt.Sprint(logEventIDs(t, dir)); got != "[good-1]" {
		t.Fatalf("log holds %s, want [good-1] (events with non-UUID ids are never appended)", got)
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}

// TestWebhookLogNonUUIDIDsAreSkipped: a log an older receiver wrote may
// hold an event whose transactionIds are not UUIDs. A read leaves those ids
// out (Pluggy would answer 400 to them, failing the account run after run,
// since the log position only moves once every account is read), WARNs
// once naming the event and the ids, applies the event's other ids and
// exits 0.
func TestWebhookLogNonUUIDIDsAreSkipped(t *testing.T) {
	e, rcv := hookEnv(t, fake.Options{Items: 1})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	row := anyTransaction(t, r1)
	// Append the event as an older receiver did, bypassing its checks.
	if code := rcv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, rcv.log())
	}
	w, err := eventlog.Open(rcv.dir, func(line []byte) string {
		var r struct{ EventID string }
		_ = json.Unmarshal(line, &r)
		return r.EventID
	})
	st.Must(t, err, "opening the log")
	payload := mustJSON(map[string]any{
		"event": "transactions/updated", "eventId": "old-bad-ids", "itemId": row.ItemID, "accountId": row.AccountID,
		"transactionIds": []string{"a", row.ID, "b"},
	})
	_, err = w.Append(mustJSON(map[string]any{"eventId": "old-bad-ids", "receivedAt": time.Now().UTC().Format(time.RFC3339Nano), "payload": json.RawMessage(payload)}))
	st.Must(t, err, "appending")
	st.Must(t, w.Close(), "closing the log")

	r2 := e.read(cat, "--state", r1.StateFile(t)) // fails the test unless it exits 0
	if _, ok := rows(t, r2.Records()["transactions"])[row.ID]; !ok {
		t.Errorf("row %s, a UUID the event also named, was not looked up and emitted", row.ID)
	}
	if w := logs(r2, protocol.LevelWarn, "not UUIDs", "old-bad-ids", `[\"a\" \"b\"]`); len(w) != 1 {
		t.Errorf("want one WARN naming the event and its non-UUID ids; WARNs: %v", logs(r2, protocol.LevelWarn))
	}
	// The next run has moved past the event: no WARN again.
	r3 := e.read(cat, "--state", r2.StateFile(t))
	if w := logs(r3, protocol.LevelWarn, "old-bad-ids"); len(w) != 0 {
		t.Errorf("the event was warned about again after the log position passed it: %v", w)
	}
}

// TestWebhookLogUpperCaseAccountIDIsApplied: the receiver takes ids in
// either case (a UUID's hex digits may be upper case), and a read used to
// file an event under its accountId as sent: an upper-case one matched no
// account Pluggy lists, so the account counted as unchanged and the event
// was never applied (a deletion never tombstoned), while the log position
// moved past it.
func TestWebhookLogUpperCaseAccountIDIsApplied(t *testing.T) {
	e, rcv := hookEnv(t, fake.Options{Items: 1})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	row := anyTransaction(t, r1)
	body := string(mustJSON(map[string]any{
		"event": "transactions/updated", "eventId": "upper-1", "itemId": strings.ToUpper(row.ItemID),
		"accountId": strings.ToUpper(row.AccountID), "transactionIds": []string{strings.ToUpper(row.ID)},
	}))
	if got := rcv.post(t, body, authHeader); got != 200 {
		t.Fatalf("an event with upper-case UUIDs: %d, want 200", got)
	}
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if _, ok := rows(t, r2.Records()["transactions"])[row.ID]; !ok {
		t.Errorf("row %s, named by an event with an upper-case accountId, was not looked up and emitted; records: %d", row.ID, len(r2.Records()["transactions"]))
	}
}

// anyTransaction is one of the transactions r emitted.
func anyTransaction(t *testing.T, r *st.Result) txRow {
	t.Helper()
	for _, x := range rows(t, r.Records()["transactions"]) {
		return x
	}
	t.Fatal("the first read emitted no transactions")
	return txRow{}
}
