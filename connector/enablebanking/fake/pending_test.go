package fake

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestAddPendingGrowsTheSnapshot: AddPending puts new pending rows dated
// today ahead of the others, each its own; BookPending still books the
// oldest.
func TestAddPendingGrowsTheSnapshot(t *testing.T) {
	f := New(Options{Sessions: 1})
	uid := f.AccountUIDs(f.SessionIDs()[0])[0]
	before := f.Pending(uid)
	f.AddPending(uid, 2)
	after := f.Pending(uid)
	if len(after) != len(before)+2 || !slices.EqualFunc(after[2:], before, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
		t.Fatalf("%d pending rows after adding 2 to %d, the old ones not kept behind them", len(after), len(before))
	}
	today := f.Now().Format(time.DateOnly)
	refs := map[string]bool{}
	for _, raw := range after[:2] {
		var r struct {
			Status          string `json:"status"`
			TransactionDate string `json:"transaction_date"`
			EntryReference  string `json:"entry_reference"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != "PDNG" || r.TransactionDate != today || refs[r.EntryReference] {
			t.Errorf("new pending row: status %q, date %q (today %s), reference %q seen before: %v", r.Status, r.TransactionDate, today, r.EntryReference, refs[r.EntryReference])
		}
		refs[r.EntryReference] = true
	}
	f.BookPending(uid)
	if got := f.Pending(uid); len(got) != len(after)-1 || string(got[0]) != string(after[0]) {
		t.Errorf("BookPending after AddPending: %d pending rows, want the %d newest", len(got), len(after)-1)
	}
}
