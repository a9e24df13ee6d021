package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// txLive and tombstones split a read's transactions records.
type txRecord struct {
	ID          string  `json:"id"`
	AccountID   string  `json:"accountId"`
	ItemID      string  `json:"itemId"`
	Date        string  `json:"date"`
	CreatedAt   string  `json:"createdAt"`
	Description string  `json:"description"`
	DeletedAt   *string `json:"_ab_cdc_deleted_at"`
}

// txRecords are the transactions records r emitted, in order.
func txRecords(t *testing.T, r *st.Result) []txRecord {
	t.Helper()
	var out []txRecord
	for _, raw := range r.Records()["transactions"] {
		var x txRecord
		st.Must(t, json.Unmarshal(raw, &x), "transaction")
		out = append(out, x)
	}
	return out
}

func splitTx(t *testing.T, r *st.Result) (live map[string]txRecord, dead []txRecord) {
	t.Helper()
	live = map[string]txRecord{}
	for _, x := range txRecords(t, r) {
		if x.DeletedAt != nil {
			dead = append(dead, x)
			continue
		}
		live[x.ID] = x
	}
	return live, dead
}

// txCursors reads each account's cursor from a read's last transactions state.
func txCursors(t *testing.T, r *st.Result) map[string]time.Time {
	t.Helper()
	var s struct {
		Accounts map[string]struct {
			CreatedAt string              `json:"created_at"`
			Window    map[string][]string `json:"window"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(lastState(t, r, "transactions"), &s), "transactions state")
	out := map[string]time.Time{}
	for id, a := range s.Accounts {
		c, err := time.Parse(time.RFC3339Nano, a.CreatedAt)
		st.Must(t, err, "created_at")
		out[id] = c
		if len(a.Window) == 0 {
			t.Errorf("account %s: state has no window", id)
		}
	}
	return out
}

// TestTombstones: pending rows Pluggy replaces under new ids and plain
// deletions between two runs produce exactly one tombstone per vanished id
// dated inside the re-read window; rows that merely leave the window (here:
// lookback_days shrinks) produce none, and cost no extra call.
func TestTombstones(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 150})
	cat := e.catalog(true, "transactions")
	// One window for every account, cards included, so the oracle below
	// holds for all of them.
	lookback := map[string]any{"lookback_days": 30, "credit_lookback_days": 30}

	r1 := e.readOver(lookback, cat)
	known, dead := splitTx(t, r1)
	if len(dead) != 0 {
		t.Fatalf("first sync emitted %d tombstones", len(dead))
	}
	cursors := txCursors(t, r1)

	oldPending, _ := e.fake.PostPending(4)
	deleted := e.fake.Delete(5)
	if len(oldPending) == 0 || len(deleted) == 0 {
		t.Fatalf("fake mutated nothing: %d re-posted, %d deleted", len(oldPending), len(deleted))
	}

	// expect lists the known ids the fake no longer serves whose date is
	// within the window of their account's cursor.
	expect := func(cursors map[string]time.Time, days int) (in, out map[string]bool) {
		served := e.servedIDs()
		in, out = map[string]bool{}, map[string]bool{}
		for id, row := range known {
			if served[id] {
				continue
			}
			from := cursors[row.AccountID].AddDate(0, 0, -days).Format(time.DateOnly)
			if row.Date[:10] >= from {
				in[id] = true
			} else {
				out[id] = true
			}
		}
		return in, out
	}
	check := func(r *st.Result, want map[string]bool) {
		t.Helper()
		live, dead := splitTx(t, r)
		got := map[string]int{}
		for _, d := range dead {
			got[d.ID]++
			row, wasKnown := known[d.ID]
			if !wasKnown || d.AccountID != row.AccountID || d.ItemID != row.ItemID {
				t.Errorf("tombstone %+v does not match a row read before (%+v)", d, row)
			}
			if _, alive := live[d.ID]; alive || e.servedIDs()[d.ID] {
				t.Errorf("tombstone for %s, which Pluggy still serves", d.ID)
			}
			if _, err := time.Parse(time.RFC3339, *d.DeletedAt); err != nil {
				t.Errorf("tombstone %s: _ab_cdc_deleted_at %q", d.ID, *d.DeletedAt)
			}
			// Airbyte's deduping destinations keep a key's record with
			// the greatest cursor (createdAt, nulls last) and only then
			// apply the delete: a tombstone must not sort before the row.
			if _, err := time.Parse(time.RFC3339, d.CreatedAt); err != nil || d.CreatedAt < row.CreatedAt {
				t.Errorf("tombstone %s: createdAt %q, the row's %q; a deduping destination would keep the row", d.ID, d.CreatedAt, row.CreatedAt)
			}
		}
		for id := range want {
			if got[id] != 1 {
				t.Errorf("vanished row %s: %d tombstones, want 1", id, got[id])
			}
		}
		for id, n := range got {
			if !want[id] {
				t.Errorf("%d tombstone(s) for %s, which did not vanish inside the window", n, id)
			}
		}
		for id, row := range live {
			known[id] = row
		}
	}

	want2, _ := expect(cursors, 30)
	posted, plain := 0, 0
	for _, id := range oldPending {
		if want2[id] {
			posted++
		}
	}
	for _, id := range deleted {
		if want2[id] {
			plain++
		}
	}
	if posted == 0 || plain == 0 {
		t.Fatalf("test data: %d re-posted and %d deleted rows inside the window, want some of each", posted, plain)
	}
	r2 := e.readOver(lookback, cat, "--state", r1.StateFile(t))
	check(r2, want2)
	state2 := r2.StateFile(t)
	cursors = txCursors(t, r2)
	for id := range want2 {
		delete(known, id) // tombstoned: gone for good
	}

	// Shrink the window to 2 days and delete more rows: only those dated in
	// the last 2 days of the cursor get a tombstone; the rest of the old
	// 30-day window ages out silently.
	more := e.fake.Delete(8)
	want3, outside := expect(cursors, 2)
	t.Logf("run 3: %d deleted, %d inside the 2-day window, %d outside", len(more), len(want3), len(outside))
	e.fake.ResetStats()
	r3 := e.readOver(map[string]any{"lookback_days": 2, "credit_lookback_days": 2}, cat, "--state", state2)
	check(r3, want3)
	accounts := map[string]bool{}
	for id := range want3 {
		accounts[known[id].AccountID] = true
	}
	if got, want := e.fake.Stats().ByRoute["GET /v2/transactions"], 2*len(cursors)+len(accounts); got != want {
		t.Errorf("run 3: %d transaction calls, want %d (2 per account + 1 lookup per account with vanished rows)", got, want)
	}

	// Nothing changed: no tombstone, no lookup.
	e.fake.ResetStats()
	r4 := e.readOver(map[string]any{"lookback_days": 2, "credit_lookback_days": 2}, cat, "--state", r3.StateFile(t))
	if _, dead := splitTx(t, r4); len(dead) != 0 {
		t.Fatalf("unchanged run emitted %d tombstones", len(dead))
	}
	if got := e.fake.Stats().ByRoute["GET /v2/transactions"]; got != 2*len(cursors) {
		t.Errorf("unchanged run: %d transaction calls, want %d", got, 2*len(cursors))
	}
}

// TestTombstonesNeedIncrementalAndAWindow: full refresh never emits
// tombstones, and a state written before windows existed (version 1 without
// "window") detects nothing on its first run but works.
func TestTombstonesNeedIncrementalAndAWindow(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 80})
	r1 := e.read(e.catalog(true, "transactions"))
	var s map[string]any
	st.Must(t, json.Unmarshal(lastState(t, r1, "transactions"), &s), "state")
	for _, a := range s["accounts"].(map[string]any) {
		delete(a.(map[string]any), "window")
	}
	old := st.WriteFile(t, "state.json", []any{map[string]any{"type": "STREAM", "stream": map[string]any{
		"stream_descriptor": map[string]any{"name": "transactions"}, "stream_state": s,
	}}})
	e.fake.Delete(3)
	e.fake.PostPending(2)
	r2 := e.read(e.catalog(true, "transactions"), "--state", old)
	if _, dead := splitTx(t, r2); len(dead) != 0 {
		t.Fatalf("a state without a window produced %d tombstones", len(dead))
	}
	txCursors(t, r2) // and now has a window
	r3 := e.read(e.catalog(false, "transactions"))
	if _, dead := splitTx(t, r3); len(dead) != 0 {
		t.Fatalf("full refresh emitted %d tombstones", len(dead))
	}
}
