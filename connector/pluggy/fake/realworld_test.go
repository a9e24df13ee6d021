package fake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The real-world variants (reference pluggy-api.md §12), each as the fake
// answers it once switched on.

func TestDenyAnswers403ForOneItemOnly(t *testing.T) {
	h := newHarness(t, Options{Items: 2})
	denied, other := h.s.ItemIDs()[0], h.s.ItemIDs()[1]
	h.s.SetFaults(Faults{Deny: map[string][]string{denied: {"GET /investments"}}})
	if code, body := h.get("/investments?itemId=" + denied); code != http.StatusForbidden || strings.Contains(string(body), "codeDescription") {
		t.Fatalf("denied product: %d %s", code, body)
	}
	if code, body := h.get("/investments?itemId=" + other); code != 200 {
		t.Fatalf("other item: %d %s", code, body)
	}
	if code, _ := h.get("/accounts?itemId=" + denied); code != 200 {
		t.Fatalf("another product of the denied item: %d", code)
	}
}

func TestCloseBillRecreatesCardRows(t *testing.T) {
	h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 200})
	oldIDs, newIDs := h.s.CloseBill()
	if len(oldIDs) == 0 || len(oldIDs) != len(newIDs) {
		t.Fatalf("%d old, %d new ids", len(oldIDs), len(newIDs))
	}
	for i := range oldIDs {
		if oldIDs[i] == newIDs[i] {
			t.Fatalf("row %s kept its id", oldIDs[i])
		}
	}
}

func TestInvestmentIDNull(t *testing.T) {
	h := newHarness(t, Options{Items: 1, InvestmentIDNull: true})
	var page struct {
		Results []struct{ ID string } `json:"results"`
	}
	h.mustGet("/investments?itemId="+h.s.ItemIDs()[0], &page)
	_, body := h.get("/investments/" + page.Results[0].ID + "/transactions")
	if !strings.Contains(string(body), `"investmentId":null`) {
		t.Fatalf("no null investmentId: %.300s", body)
	}
	var rows struct{ Results []json.RawMessage }
	json.Unmarshal(body, &rows)
	if len(rows.Results) == 0 {
		t.Fatal("no movements")
	}
}

func TestMaxURLBytes(t *testing.T) {
	h := newHarness(t, Options{Items: 1, MaxURLBytes: 200})
	if code, _ := h.get("/accounts?itemId=" + h.s.ItemIDs()[0] + "&pad=" + strings.Repeat("x", 300)); code != http.StatusRequestURITooLong {
		t.Fatalf("long URL: %d", code)
	}
	if code, _ := h.get("/accounts?itemId=" + h.s.ItemIDs()[0]); code != 200 {
		t.Fatalf("short URL: %d", code)
	}
}
