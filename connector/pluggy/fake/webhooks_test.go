package fake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sendJSON sends an authenticated request with a JSON body.
func (h *harness) sendJSON(method, path, body string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url(path), strings.NewReader(body))
	req.Header.Set("X-API-KEY", h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestWebhooksCRUDAndErrors(t *testing.T) {
	h := newHarness(t, Options{})
	for _, c := range []struct{ body, want string }{
		{`{"event":"transactions/created","url":"http://hooks.example.com/x"}`, "https"},
		{`{"event":"transactions/created","url":"https://127.0.0.1/x"}`, "IP address"},
		{`{"event":"transactions/created","url":"https://localhost/x"}`, "local"},
		{`{"event":"transactions/created","url":"https://svc.internal/x"}`, "local"},
		{`{"event":"nope","url":"https://hooks.example.com/x"}`, "event must be one of"},
		{`{"event":"transactions/created"}`, "url"},
		{`not json`, "JSON object"},
	} {
		code, b := h.sendJSON(http.MethodPost, "/webhooks", c.body)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("POST %s: %d %s, want 400 with %q", c.body, code, b, c.want)
		}
	}
	code, b := h.sendJSON(http.MethodPost, "/webhooks", `{"event":"transactions/deleted","url":"https://hooks.example.com/x","headers":{"X-Token":"tok"}}`)
	if code != 200 {
		t.Fatalf("POST: %d %s", code, b)
	}
	var w map[string]any
	_ = json.Unmarshal(b, &w)
	id, _ := w["id"].(string)
	if id == "" || w["disabledAt"] != nil || strings.Contains(string(b), "tok") {
		t.Fatalf("created webhook %s (headers must never be returned)", b)
	}
	var page struct {
		Results    []map[string]any
		Total      int
		TotalPages int
	}
	h.mustGet("/webhooks", &page)
	if page.Total != 1 || page.Results[0]["id"] != id {
		t.Fatalf("GET /webhooks: %+v", page)
	}
	code, b = h.sendJSON(http.MethodPatch, "/webhooks/"+id, `{"enabled":false}`)
	if code != 200 || !strings.Contains(string(b), `"disabledAt":"`) {
		t.Fatalf("PATCH enabled=false: %d %s", code, b)
	}
	if code, b := h.sendJSON(http.MethodPatch, "/webhooks/00000000-0000-4000-8000-000000000000", `{}`); code != 404 || !strings.Contains(string(b), "WEBHOOK_NOT_FOUND") {
		t.Fatalf("PATCH unknown: %d %s", code, b)
	}
	if code, b := h.sendJSON(http.MethodDelete, "/webhooks/"+id, ``); code != 200 || string(b) != `{"count":1}` {
		t.Fatalf("DELETE: %d %s", code, b)
	}
	if code, _ := h.get("/webhooks/" + id); code != 404 {
		t.Fatalf("GET deleted: %d", code)
	}
}

// sink records webhook deliveries.
type sink struct {
	mu     sync.Mutex
	bodies []map[string]any
	tokens []string
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	k.mu.Lock()
	k.bodies = append(k.bodies, m)
	k.tokens = append(k.tokens, r.Header.Get("X-Token"))
	k.mu.Unlock()
}

func TestWebhooksDeliverMutations(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.AllowLocalWebhooks(true)
	k := &sink{}
	rs := httptest.NewServer(k)
	t.Cleanup(rs.Close)
	for _, ev := range []string{"transactions/created", "transactions/updated", "transactions/deleted", "item/updated"} {
		if code, b := h.sendJSON(http.MethodPost, "/webhooks", `{"event":"`+ev+`","url":"`+rs.URL+`","headers":{"X-Token":"tok"}}`); code != 200 {
			t.Fatalf("register %s: %d %s", ev, code, b)
		}
	}
	deleted := h.s.DeleteOlder(2, 60*24*time.Hour)
	updated := h.s.UpdateInPlace(1)
	added := h.s.AddNew(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.s.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	events := map[string]bool{}
	for i, b := range k.bodies {
		if k.tokens[i] != "tok" {
			t.Errorf("delivery %d came without the registered header", i)
		}
		ev, _ := b["event"].(string)
		id, _ := b["eventId"].(string)
		if id == "" || events[id] {
			t.Errorf("delivery %d: eventId %q missing or repeated", i, id)
		}
		events[id] = true
		if ids, ok := b["transactionIds"].([]any); ok {
			for _, x := range ids {
				got[ev] = append(got[ev], x.(string))
			}
		}
		if ev == "transactions/created" {
			if b["transactionsCreatedAtFrom"] == "" || b["accountId"] == "" || b["createdTransactionsLink"] == nil {
				t.Errorf("transactions/created without its fields: %v", b)
			}
			got[ev] = append(got[ev], "created")
		}
	}
	if len(got["transactions/deleted"]) != len(deleted) || len(deleted) != 2 || len(got["transactions/updated"]) != len(updated) || len(got["transactions/created"]) != len(added) {
		t.Fatalf("deliveries %v for deleted %v, updated %v, added %v", got, deleted, updated, added)
	}
	// Dropped deliveries are counted and never sent.
	h.s.SetDeliveryFaults(DeliveryFaults{DropPercent: 100})
	before := len(k.bodies)
	h.s.UpdateInPlace(1)
	if err := h.s.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.s.DeliveryStats(); st.Dropped == 0 || len(k.bodies) != before {
		t.Fatalf("drop 100%%: stats %+v, %d new deliveries", st, len(k.bodies)-before)
	}
	// Duplicates repeat the same eventId.
	h.s.SetDeliveryFaults(DeliveryFaults{DuplicateEvery: 1, Reorder: true, Delay: time.Millisecond})
	before = len(k.bodies)
	h.s.UpdateInPlace(1)
	if err := h.s.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := len(k.bodies) - before; n != 4 || k.bodies[before]["eventId"] != k.bodies[before+1]["eventId"] {
		t.Fatalf("duplicate every delivery: %d deliveries %v", n, k.bodies[before:])
	}
}

// TestConnectorStatusUpdatedShapes: connector/status_updated carries data
// {status} and, unless Options.ConnectorStatusWithoutID, connectorId.
func TestConnectorStatusUpdatedShapes(t *testing.T) {
	for _, without := range []bool{false, true} {
		h := newHarness(t, Options{ConnectorStatusWithoutID: without})
		h.s.AllowLocalWebhooks(true)
		k := &sink{}
		rs := httptest.NewServer(k)
		t.Cleanup(rs.Close)
		if code, b := h.sendJSON(http.MethodPost, "/webhooks", `{"event":"connector/status_updated","url":"`+rs.URL+`"}`); code != 200 {
			t.Fatalf("register: %d %s", code, b)
		}
		h.s.ConnectorStatusUpdated("UNSTABLE")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.s.WaitDeliveries(ctx); err != nil {
			t.Fatal(err)
		}
		k.mu.Lock()
		if len(k.bodies) != 1 {
			t.Fatalf("without connectorId %v: %d deliveries", without, len(k.bodies))
		}
		b := k.bodies[0]
		k.mu.Unlock()
		_, has := b["connectorId"]
		data, _ := b["data"].(map[string]any)
		if b["event"] != "connector/status_updated" || data["status"] != "UNSTABLE" || has == without {
			t.Errorf("without connectorId %v: delivered %v", without, b)
		}
	}
}

func TestWebhookAdminEndpoints(t *testing.T) {
	s := New(Options{Now: newClock().Now})
	ts := httptest.NewServer(s.HandlerWithAdmin())
	t.Cleanup(ts.Close)
	post := func(path string) (int, string) {
		resp, err := http.Post(ts.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := post("/__fake/webhooks/faults?drop_percent=20&duplicate_every=3&delay=1ms&reorder=true"); code != 200 || !strings.Contains(b, `"drop_percent":20`) {
		t.Fatalf("faults: %d %s", code, b)
	}
	if got := s.webhooks.faults; got != (DeliveryFaults{DropPercent: 20, DuplicateEvery: 3, Delay: time.Millisecond, Reorder: true}) {
		t.Fatalf("faults set to %+v", got)
	}
	if code, _ := post("/__fake/webhooks/faults?drop_percent=101"); code != 400 {
		t.Fatalf("drop_percent=101: %d", code)
	}
	code, b := post("/__fake/mutate?kind=delete_old&n=2&age=2000h")
	var out struct{ IDs []string }
	_ = json.Unmarshal([]byte(b), &out)
	if code != 200 || len(out.IDs) != 2 {
		t.Fatalf("delete_old: %d %s", code, b)
	}
	if code, b := post("/__fake/webhooks/wait"); code != 200 || !strings.Contains(b, `"queued":0`) {
		t.Fatalf("wait: %d %s", code, b)
	}
}
