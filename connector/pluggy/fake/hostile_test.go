package fake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hostile points h at a HostileHandler of the same server (the key h holds
// stays valid).
func hostile(t *testing.T, h *harness, o Hostile) {
	t.Helper()
	ts := httptest.NewServer(h.s.HostileHandler(o))
	t.Cleanup(ts.Close)
	h.ts = ts
}

func TestHostileExtraField(t *testing.T) {
	h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 5})
	hostile(t, h, Hostile{ExtraField: "brandNewField"})
	item := h.s.ItemIDs()[0]
	acct := h.s.AccountIDs(item)[0]
	var page struct {
		Results []map[string]json.RawMessage `json:"results"`
		Extra   json.RawMessage              `json:"brandNewField"`
	}
	for _, path := range []string{"/v2/transactions?accountId=" + acct, "/accounts?itemId=" + item, "/categories"} {
		page.Results, page.Extra = nil, nil
		h.mustGet(path, &page)
		if len(page.Results) == 0 || page.Extra == nil {
			t.Fatalf("%s: %d rows, envelope extra %s", path, len(page.Results), page.Extra)
		}
		for _, r := range page.Results {
			if r["brandNewField"] == nil || r["id"] == nil {
				t.Fatalf("%s: row without the extra field or its id: %v", path, r)
			}
		}
	}
	var it map[string]json.RawMessage
	h.mustGet("/items/"+item, &it)
	if it["brandNewField"] == nil || it["id"] == nil {
		t.Fatalf("item: %v", it)
	}
	// Amounts keep their digits: the row is edited as bytes.
	raw := h.mustGet("/v2/transactions?accountId="+acct, nil)
	want := string(h.s.Transactions(acct)[0])
	if !strings.Contains(string(raw), strings.TrimSuffix(want, "}")) {
		t.Fatalf("first row was re-encoded:\n%s\nwant prefix %s", raw, want)
	}
}

func TestHostileNoIDAndFailAccount(t *testing.T) {
	h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 30, PageSize: 10})
	accts := h.s.AccountIDs(h.s.ItemIDs()[0])
	hostile(t, h, Hostile{NoIDAccount: accts[0], FailAccount: accts[1]})
	var page struct {
		Results []map[string]json.RawMessage `json:"results"`
		Next    *string                      `json:"next"`
	}
	h.mustGet("/v2/transactions?accountId="+accts[0], &page)
	if len(page.Results) != 10 || page.Results[0]["id"] != nil || page.Results[1]["id"] == nil || page.Next == nil {
		t.Fatalf("no-id page: %d rows, first %v, next %v", len(page.Results), page.Results[0], page.Next)
	}
	if code, body := h.get("/v2/transactions?accountId=" + accts[1]); code != http.StatusInternalServerError {
		t.Fatalf("failing account: %d %s", code, body)
	}
	if code, _ := h.get("/v2/transactions?accountId=" + accts[2]); code != http.StatusOK {
		t.Fatalf("other account: %d", code)
	}
}

func TestHostileEchoAndIssuedKeys(t *testing.T) {
	h := newHarness(t, Options{Items: 1})
	hostile(t, h, Hostile{Echo: map[string]int{"GET /accounts": 400}})
	code, body := h.get("/accounts?itemId=" + h.s.ItemIDs()[0])
	if code != http.StatusBadRequest || !strings.Contains(string(body), h.key) {
		t.Fatalf("echo: %d %s", code, body)
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Code != 400 {
		t.Fatalf("echo body is not Pluggy's error shape: %s", body)
	}
	keys := h.s.IssuedKeys()
	if len(keys) != 1 || keys[0] != h.key {
		t.Fatalf("IssuedKeys = %v, want [%s]", keys, h.key)
	}
}
