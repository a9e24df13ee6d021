package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// itemRow is what these tests read of an items record.
type itemRow struct {
	ID               string  `json:"id"`
	Status           string  `json:"status"`
	ExecutionStatus  string  `json:"executionStatus"`
	LastUpdatedAt    *string `json:"lastUpdatedAt"`
	ConsentExpiresAt *string `json:"consentExpiresAt"`
}

func itemRows(t *testing.T, raws []json.RawMessage) map[string]itemRow {
	t.Helper()
	out := map[string]itemRow{}
	for _, r := range raws {
		var x itemRow
		st.Must(t, json.Unmarshal(r, &x), "item")
		out[x.ID] = x
	}
	return out
}

// logs returns the LOG messages at level that mention every one of words.
func logs(r *st.Result, level protocol.Level, words ...string) []string {
	var out []string
next:
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level != level {
			continue
		}
		for _, w := range words {
			if !strings.Contains(m.Log.Message, w) {
				continue next
			}
		}
		out = append(out, m.Log.Message)
	}
	return out
}

// TestTriggerItemUpdate: with trigger_item_update, each item is PATCHed
// once, polled until it leaves UPDATING, and read fresh; the next run within
// 24 hours meets Pluggy's 409, warns and reads the data as it is.
func TestTriggerItemUpdate(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 5})
	items := e.fake.ItemIDs()
	before := map[string]string{}
	for _, id := range items {
		var it itemRow
		e.apiGet("/items/"+id, &it)
		before[id] = *it.LastUpdatedAt
	}
	e.fake.ResetStats()
	over := map[string]any{"trigger_item_update": true, "item_update_poll_seconds": 0.05}
	cat := e.catalog(false, "items", "accounts")

	r := e.readOver(over, cat)
	s := e.fake.Stats()
	if got := s.ByRoute["PATCH /items/{id}"]; got != len(items) {
		t.Fatalf("%d PATCH calls for %d items", got, len(items))
	}
	// The fake answers UPDATING to the two polls after a PATCH, then UPDATED.
	if got := s.ByRoute["GET /items/{id}"]; got != 3*len(items) {
		t.Errorf("%d item polls, want %d (2 UPDATING + 1 UPDATED per item)", got, 3*len(items))
	}
	got := itemRows(t, r.Records()["items"])
	for _, id := range items {
		it := got[id]
		if it.Status != "UPDATED" || it.ExecutionStatus != "SUCCESS" || it.LastUpdatedAt == nil || *it.LastUpdatedAt <= before[id] {
			t.Errorf("item %s after the update: %+v (lastUpdatedAt before %s)", id, it, before[id])
		}
		if len(logs(r, protocol.LevelInfo, id, "updated")) == 0 {
			t.Errorf("no INFO saying item %s was updated", id)
		}
	}
	if len(r.Records()["accounts"]) == 0 {
		t.Fatal("no accounts read after the update")
	}

	// A second run the same day: Pluggy refuses (one update a day).
	e.fake.ResetStats()
	r2 := e.readOver(over, cat)
	if got := e.fake.Stats().ByRoute["PATCH /items/{id}"]; got != len(items) {
		t.Fatalf("%d PATCH calls, want one per item and no retry of the 409", got)
	}
	for _, id := range items {
		if len(logs(r2, protocol.LevelWarn, id, "too recently", "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY")) == 0 {
			t.Errorf("no WARN about the refused update of item %s", id)
		}
	}
	if len(r2.Records()["items"]) != len(items) || len(r2.Records()["accounts"]) == 0 {
		t.Fatal("the data was not read after the refused update")
	}
}

// TestTriggerItemUpdateTimeout: an item still syncing when
// item_update_timeout_seconds runs out is read as it is, with a WARN.
//
// The polls are checked against what the wait promises, from when each
// request reached the fake, not by counting them in wall time (a loaded
// machine slows each poll down, so fewer fit): one poll at most every
// item_update_poll_seconds, hence at most timeout/poll of them, and the
// last one once the timeout has run out.
func TestTriggerItemUpdateTimeout(t *testing.T) {
	var (
		mu      sync.Mutex
		patched time.Time   // when the PATCH reached the fake
		polls   []time.Time // when each GET /items/{id} did
	)
	merging := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/items/") {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			switch r.Method {
			case http.MethodPatch:
				patched = time.Now()
			case http.MethodGet:
				polls = append(polls, time.Now())
			}
			mu.Unlock()
			if r.Method != http.MethodGet {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			w.WriteHeader(rec.Code)
			w.Write(bytes.Replace(rec.Body.Bytes(), []byte(`"status":"UPDATED"`), []byte(`"status":"MERGING"`), 1))
		})
	}
	e := newWrappedEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5}, merging)
	const poll, timeout = 200 * time.Millisecond, time.Second
	over := map[string]any{"trigger_item_update": true, "item_update_poll_seconds": poll.Seconds(), "item_update_timeout_seconds": timeout.Seconds()}
	r := e.readOver(over, e.catalog(false, "items", "accounts"))
	id := e.fake.ItemIDs()[0]
	if len(logs(r, protocol.LevelWarn, id, "still updating", "status=MERGING", "item_update_timeout_seconds")) == 0 {
		t.Fatal("no WARN about the update outlasting the timeout")
	}
	mu.Lock()
	defer mu.Unlock()
	if patched.IsZero() || len(polls) == 0 {
		t.Fatalf("PATCH at %v, %d polls", patched, len(polls))
	}
	if n, most := len(polls), int(timeout/poll); n > most {
		t.Errorf("%d polls in a %v timeout at %v intervals, want at most %d", n, timeout, poll, most)
	}
	// Each poll but the last waited a whole interval; the last may wait
	// less, to land on the timeout.
	prev := patched
	for i, at := range polls[:len(polls)-1] {
		if gap := at.Sub(prev); gap < poll {
			t.Errorf("poll %d came %v after the request before it, want at least %v", i+1, gap, poll)
		}
		prev = at
	}
	if last := polls[len(polls)-1].Sub(patched); last < timeout {
		t.Errorf("the last poll came %v after the PATCH, before the %v timeout", last, timeout)
	}
	if len(r.Records()["items"]) != 1 || len(r.Records()["accounts"]) == 0 {
		t.Fatal("the item was not read after the timeout")
	}
}

// TestConsentExpiryWarns: an item whose Open Finance consent expires within
// 7 days gets a WARN; one expiring in 200 days and one without consent do not.
func TestConsentExpiryWarns(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, TransactionsPerAccount: 5})
	r := e.read(e.catalog(false, "items"))
	items := e.fake.ItemIDs()
	rows := itemRows(t, r.Records()["items"])
	if rows[items[0]].ConsentExpiresAt == nil || rows[items[2]].ConsentExpiresAt == nil || rows[items[1]].ConsentExpiresAt != nil {
		t.Fatalf("fake consents changed: %+v", rows)
	}
	if len(logs(r, protocol.LevelWarn, items[0], "consent expires", *rows[items[0]].ConsentExpiresAt)) != 1 {
		t.Errorf("want one WARN about item %s's consent; logs: %v", items[0], logs(r, protocol.LevelWarn))
	}
	for _, id := range items[1:] {
		if w := logs(r, protocol.LevelWarn, id, "consent"); len(w) != 0 {
			t.Errorf("unexpected consent WARN: %v", w)
		}
	}
	// check prints exactly one message: no consent WARN there.
	c := st.Run(t, e.bin, "check", "--config", e.config(nil))
	if c.Code != 0 || len(c.Messages) != 1 {
		t.Fatalf("check printed %d messages", len(c.Messages))
	}
}
