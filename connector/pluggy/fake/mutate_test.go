package fake

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// allRows pages every account and returns rows by id.
func (h *harness) allRows() map[string]row {
	h.t.Helper()
	out := map[string]row{}
	for _, item := range h.s.ItemIDs() {
		for _, acct := range h.s.AccountIDs(item) {
			raws, _, _ := h.walk("/v2/transactions?accountId="+acct, 50)
			for _, r := range decodeRows(h.t, raws) {
				out[r.ID] = r
			}
		}
	}
	return out
}

// createdSince pages every account with createdAtFrom and returns the ids.
func (h *harness) createdSince(ts string) []string {
	h.t.Helper()
	var out []string
	for _, item := range h.s.ItemIDs() {
		for _, acct := range h.s.AccountIDs(item) {
			raws, _, _ := h.walk("/v2/transactions?accountId="+acct+"&createdAtFrom="+ts, 50)
			out = append(out, ids(decodeRows(h.t, raws))...)
		}
	}
	slices.Sort(out)
	return out
}

const nowISO = "2026-05-29T20:59:39.793Z"

func TestAddNew(t *testing.T) {
	h := newHarness(t, Options{PageSize: 50})
	before := h.allRows() // also fills the page cache
	h.clock.Advance(time.Hour)
	added := h.s.AddNew(5)
	after := h.allRows()
	if len(added) != 5 || len(after) != len(before)+5 {
		t.Fatalf("added %d, rows %d -> %d", len(added), len(before), len(after))
	}
	for _, id := range added {
		r := after[id]
		if r.CreatedAt != "2026-05-29T21:59:39.793Z" || r.UpdatedAt != r.CreatedAt {
			t.Errorf("new row %s createdAt %s updatedAt %s", id, r.CreatedAt, r.UpdatedAt)
		}
		if r.Date < "2026-05-28" {
			t.Errorf("new row %s dated %s", id, r.Date)
		}
	}
	slices.Sort(added)
	if got := h.createdSince("2026-05-29T21:00:00.000Z"); !slices.Equal(got, added) {
		t.Errorf("createdAtFrom sees %v, want %v", got, added)
	}
}

func TestAddBackdated(t *testing.T) {
	h := newHarness(t, Options{})
	h.clock.Advance(time.Minute)
	added := h.s.AddBackdated(4, 40*24*time.Hour)
	slices.Sort(added)
	if got := h.createdSince("2026-05-29T21:00:00.000Z"); !slices.Equal(got, added) {
		t.Errorf("createdAtFrom sees %v, want %v", got, added)
	}
	// A date high-water mark misses them.
	for _, item := range h.s.ItemIDs() {
		for _, acct := range h.s.AccountIDs(item) {
			raws, _, _ := h.walk("/v2/transactions?accountId="+acct+"&dateFrom=2026-05-20", 10)
			for _, r := range decodeRows(t, raws) {
				if slices.Contains(added, r.ID) {
					t.Errorf("backdated row %s (%s) returned by dateFrom=2026-05-20", r.ID, r.Date)
				}
			}
		}
	}
	rows := h.allRows()
	for _, id := range added {
		if r := rows[id]; !strings.HasPrefix(r.Date, "2026-04-19") || r.CreatedAt != "2026-05-29T21:00:39.793Z" {
			t.Errorf("backdated row %s: date %s createdAt %s", id, r.Date, r.CreatedAt)
		}
	}
}

func TestPostPending(t *testing.T) {
	h := newHarness(t, Options{})
	before := h.allRows()
	oldIDs, newIDs := h.s.PostPending(3)
	if len(oldIDs) != 3 || len(newIDs) != 3 {
		t.Fatalf("posted %d/%d", len(oldIDs), len(newIDs))
	}
	after := h.allRows()
	if len(after) != len(before) {
		t.Errorf("row count %d -> %d", len(before), len(after))
	}
	for i := range oldIDs {
		o, n := before[oldIDs[i]], after[newIDs[i]]
		if o.Status != "PENDING" {
			t.Errorf("old row %s was %s", o.ID, o.Status)
		}
		if _, ok := after[oldIDs[i]]; ok {
			t.Errorf("old row %s still served", oldIDs[i])
		}
		if n.Status != "POSTED" || n.Amount != o.Amount || n.AccountID != o.AccountID || n.CreatedAt != nowISO {
			t.Errorf("new row %+v from %+v", n, o)
		}
	}
}

func TestUpdateInPlace(t *testing.T) {
	h := newHarness(t, Options{})
	before := h.allRows()
	h.clock.Advance(time.Hour)
	updated := h.s.UpdateInPlace(4)
	after := h.allRows()
	if len(updated) != 4 || len(after) != len(before) {
		t.Fatalf("updated %d, rows %d -> %d", len(updated), len(before), len(after))
	}
	for _, id := range updated {
		o, n := before[id], after[id]
		if n.Description == o.Description || n.UpdatedAt != "2026-05-29T21:59:39.793Z" || n.CreatedAt != o.CreatedAt || n.Date != o.Date {
			t.Errorf("update %s: %+v -> %+v", id, o, n)
		}
		if o.Date < "2026-05-24" {
			t.Errorf("updated row %s dated %s, not within 5 days", id, o.Date)
		}
		if o.CategoryID != nil && n.CategoryID != nil && *o.CategoryID == *n.CategoryID {
			t.Errorf("update %s kept category %s", id, *o.CategoryID)
		}
	}
	if got := h.createdSince("2026-05-29T21:00:00.000Z"); len(got) != 0 {
		t.Errorf("createdAtFrom reveals in-place updates: %v", got)
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t, Options{})
	before := h.allRows()
	deleted := h.s.Delete(3)
	after := h.allRows()
	if len(deleted) != 3 || len(after) != len(before)-3 {
		t.Fatalf("deleted %d, rows %d -> %d", len(deleted), len(before), len(after))
	}
	for _, id := range deleted {
		if _, ok := after[id]; ok {
			t.Errorf("deleted row %s still served", id)
		}
		if before[id].Date < "2026-05-22" {
			t.Errorf("deleted row %s dated %s", id, before[id].Date)
		}
	}
	count, _, _ := h.s.TransactionSummary()
	if count != len(after) {
		t.Errorf("summary count %d, served %d", count, len(after))
	}
}

func TestMutationsAreDeterministic(t *testing.T) {
	run := func() []string {
		s := New(Options{Now: newClock().Now})
		out := s.AddNew(3)
		out = append(out, s.AddBackdated(2, 72*time.Hour)...)
		o, n := s.PostPending(2)
		out = append(append(out, o...), n...)
		out = append(out, s.UpdateInPlace(2)...)
		return append(out, s.Delete(2)...)
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("same mutations gave different ids:\n%v\n%v", a, b)
	}
}
