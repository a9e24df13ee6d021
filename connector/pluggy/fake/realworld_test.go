package fake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

func TestStaleKey401(t *testing.T) {
	h := newHarness(t, Options{Items: 1, StaleKey401: true})
	h.s.SetFaults(Faults{RevokeKeyAfter: 1})
	h.get("/accounts?itemId=" + h.s.ItemIDs()[0])
	code, body := h.get("/accounts?itemId=" + h.s.ItemIDs()[0])
	wantBody(t, "revoked key", code, body, http.StatusUnauthorized, `{"code":401,"message":"Missing or invalid authorization token"}`)
	h.key = h.login()
	if code, body := h.get("/accounts?itemId=" + h.s.ItemIDs()[0]); code != http.StatusOK {
		t.Fatalf("fresh key: %d %s", code, body)
	}
}

func TestAuthRefusals(t *testing.T) {
	for _, c := range []struct {
		name     string
		o        Options
		id       string
		wantCode int
		want     string
	}{
		{"disabled 401", Options{ClientDisabled: 401}, "demo-client-id", 401, `{"code":401,"codeDescription":"CLIENT_DISABLED","message":"Client is disabled"}`},
		{"disabled 403", Options{ClientDisabled: 403}, "demo-client-id", 403, `{"code":403,"codeDescription":"CLIENT_DISABLED","message":"Client is disabled"}`},
		{"disabled, wrong keys", Options{ClientDisabled: 401}, "other-id", 401, `{"code":401,"codeDescription":"CLIENT_KEYS_UNAUTHORIZED","message":"Client keys are invalid"}`},
		{"malformed clientId", Options{ClientIDMustBeUUID: true}, "demo-client-id", 400, `{"message":"clientId must be a UUID","code":400}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &harness{t: t, s: New(c.o)}
			h.ts = httptest.NewServer(h.s.Handler())
			defer h.ts.Close()
			code, body := h.post("/auth", `{"clientId":"`+c.id+`","clientSecret":"demo-client-secret"}`)
			wantBody(t, c.name, code, body, c.wantCode, c.want)
		})
	}
	uuid := "0b7c6f0e-3c1a-4c52-9d3e-8f5a2b6c7d10"
	h := newHarness(t, Options{Items: 1, ClientIDMustBeUUID: true, ClientID: uuid})
	if h.key == "" {
		t.Fatal("a UUID clientId was refused")
	}
}

func TestForbiddenDescriptionAndRateLimitReset(t *testing.T) {
	h := newHarness(t, Options{Items: 1})
	item := h.s.ItemIDs()[0]
	h.s.SetFaults(Faults{Deny: map[string][]string{item: {"GET /investments"}}, Status: map[string]int{"GET /categories": 403}, ForbiddenDescription: "BALANCE_CONSENT_ERROR"})
	want := `{"code":403,"codeDescription":"BALANCE_CONSENT_ERROR","message":"You don't have permission to access this resource"}`
	code, body := h.get("/investments?itemId=" + item)
	wantBody(t, "denied", code, body, http.StatusForbidden, want)
	code, body = h.get("/categories")
	wantBody(t, "forced 403", code, body, http.StatusForbidden, want)

	h.s.SetFaults(Faults{Every429: 1, RetryAfterSeconds: 60, RateLimitResetSeconds: 37})
	resp, _ := h.do(http.MethodGet, "/accounts?itemId="+item)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" || resp.Header.Get("RateLimit-Reset") != "37" {
		t.Fatalf("429: %d Retry-After %q RateLimit-Reset %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit-Reset"))
	}
}

func TestLegacyCheckingSubtype(t *testing.T) {
	h := newHarness(t, Options{Items: 2, LegacyCheckingSubtype: true})
	for i, want := range []string{"CHECKINGS_ACCOUNT", "CHECKING_ACCOUNT"} {
		var page struct {
			Results []struct{ Subtype string } `json:"results"`
		}
		h.mustGet("/accounts?itemId="+h.s.ItemIDs()[i], &page)
		if page.Results[0].Subtype != want {
			t.Errorf("item %d checking subtype %q, want %q", i, page.Results[0].Subtype, want)
		}
	}
}

func TestAnnounceDeletionKeepsTheRows(t *testing.T) {
	h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 20})
	ids := h.s.AnnounceDeletion(2)
	if len(ids) != 2 {
		t.Fatalf("announced %d", len(ids))
	}
	served := map[string]bool{}
	for _, acct := range h.s.AccountIDs(h.s.ItemIDs()[0]) {
		for _, raw := range h.s.Transactions(acct) {
			var r struct{ ID string }
			_ = json.Unmarshal(raw, &r)
			served[r.ID] = true
		}
	}
	for _, id := range ids {
		if !served[id] {
			t.Errorf("row %s announced deleted is no longer served", id)
		}
	}
}
