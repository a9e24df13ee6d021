package fake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const notAuthBody = `{"code":403,"message":"Missing or invalid authorization token"}`

func TestAuthIssuesDecodableJWT(t *testing.T) {
	h := newHarness(t, Options{})
	parts := strings.Split(h.key, ".")
	if len(parts) != 3 {
		t.Fatalf("apiKey %q is not a three-part JWT", h.key)
	}
	var header struct{ Alg, Typ string }
	var claims struct {
		Exp, Iat int64
		Jti      string
	}
	for i, v := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d not base64url: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("part %d not JSON: %s", i, raw)
		}
	}
	if header.Alg != "HS256" || header.Typ != "JWT" {
		t.Errorf("header = %+v", header)
	}
	if claims.Iat != testNow.Unix() || claims.Exp != testNow.Add(2*time.Hour).Unix() {
		t.Errorf("iat/exp = %d/%d, want %d/%d", claims.Iat, claims.Exp, testNow.Unix(), testNow.Add(2*time.Hour).Unix())
	}
	if _, ok := parseUUID(claims.Jti); !ok {
		t.Errorf("jti %q is not a uuid", claims.Jti)
	}
	if k2 := h.login(); k2 == h.key {
		t.Error("two logins returned the same key")
	}
}

func TestAuthErrors(t *testing.T) {
	h := newHarness(t, Options{ClientID: "id", ClientSecret: "secret"})
	code, b := h.post("/auth", `{"clientId":"id","clientSecret":"wrong"}`)
	wantBody(t, "wrong secret", code, b, 401, `{"code":401,"codeDescription":"CLIENT_KEYS_UNAUTHORIZED","message":"Client keys are invalid"}`)
	code, b = h.post("/auth", `{"clientId":"nope","clientSecret":"secret"}`)
	wantBody(t, "wrong id", code, b, 401, `{"code":401,"codeDescription":"CLIENT_KEYS_UNAUTHORIZED","message":"Client keys are invalid"}`)
	for _, body := range []string{`{"clientId":`, `not json`, `{"clientSecret":"secret"}`, `{"clientId":"id"}`} {
		if code, b := h.post("/auth", body); code != 400 || !json.Valid(b) {
			t.Errorf("body %q: got %d %s, want 400 JSON", body, code, b)
		}
	}
}

func TestBadKeysGet403(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/items/" + h.s.ItemIDs()[0]
	for name, key := range map[string]string{"missing": "", "garbage": "nope", "forged": h.key + "x"} {
		h.key = key
		code, b := h.get(path)
		wantBody(t, name, code, b, 403, notAuthBody)
	}
	h.key = h.login()
	h.mustGet(path, nil)
	h.clock.Advance(2*time.Hour - time.Second)
	h.mustGet(path, nil)
	h.clock.Advance(time.Second)
	code, b := h.get(path)
	wantBody(t, "expired", code, b, 403, notAuthBody)
	h.key = h.login()
	h.mustGet(path, nil)
}

func TestItemShapesAndStatuses(t *testing.T) {
	h := newHarness(t, Options{Items: 4, ItemStatuses: []string{"", "LOGIN_ERROR", "UPDATED:PARTIAL_SUCCESS"}})
	ids := h.s.ItemIDs()
	type itemView struct {
		ID               string
		Status           string
		ExecutionStatus  string
		Error            *struct{ Code, Message string }
		StatusDetail     map[string]json.RawMessage
		ConsentExpiresAt *string
		NextAutoSyncAt   *string
		Connector        struct {
			ID        int
			Name      string
			IsSandbox bool
		}
		Products []string
	}
	var items []itemView
	for _, id := range ids {
		var it itemView
		h.mustGet("/items/"+id, &it)
		items = append(items, it)
	}
	if c := items[0].Connector; c.ID != 0 || c.Name != "Pluggy Bank" || !c.IsSandbox {
		t.Errorf("connector = %+v", c)
	}
	if items[0].Status != "UPDATED" || items[0].ExecutionStatus != "SUCCESS" || items[0].Error != nil || items[0].StatusDetail != nil {
		t.Errorf("item 0 = %+v", items[0])
	}
	exp, err := time.Parse(time.RFC3339, *items[0].ConsentExpiresAt)
	if err != nil || exp.Before(testNow) || exp.After(testNow.Add(5*24*time.Hour)) {
		t.Errorf("item 0 consentExpiresAt = %v, want within 5 days", *items[0].ConsentExpiresAt)
	}
	if it := items[1]; it.Status != "LOGIN_ERROR" || it.ExecutionStatus != "INVALID_CREDENTIALS" || it.Error == nil || it.Error.Code != "INVALID_CREDENTIALS" {
		t.Errorf("item 1 = %+v", it)
	}
	if it := items[2]; it.ExecutionStatus != "PARTIAL_SUCCESS" || it.StatusDetail == nil ||
		!strings.HasPrefix(string(it.StatusDetail["investmentsTransactions"]), `{"isUpdated":false`) || it.StatusDetail["investmentTransactions"] != nil {
		t.Errorf("item 2 = %+v", it)
	}
	// The SDK's spelling, on its own.
	sdk := newHarness(t, Options{Items: 1, ItemStatuses: []string{"UPDATED:PARTIAL_SUCCESS"}, StatusDetailSDKSpelling: true})
	var sdkItem itemView
	sdk.mustGet("/items/"+sdk.s.ItemIDs()[0], &sdkItem)
	if d := sdkItem.StatusDetail; !strings.HasPrefix(string(d["investmentTransactions"]), `{"isUpdated":false`) || d["investmentsTransactions"] != nil {
		t.Errorf("SDK spelling: statusDetail %s", d)
	}
	if it := items[3]; it.Status != "UPDATED" {
		t.Errorf("item 3 = %+v", it)
	}
	for _, bad := range []string{"/items/not-a-uuid", "/items/00000000-0000-4000-8000-000000000000"} {
		code, b := h.get(bad)
		wantBody(t, bad, code, b, 404, `{"code":404,"codeDescription":"ITEM_NOT_FOUND","message":"item not found"}`)
	}
	h.s.SetItemStatus(ids[0], "OUTDATED", "")
	var it itemView
	h.mustGet("/items/"+ids[0], &it)
	if it.Status != "OUTDATED" || it.Error == nil {
		t.Errorf("after SetItemStatus: %+v", it)
	}
}

func TestPatchItemLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.s.ItemIDs()[0]
	status := func(method string) (int, string, []byte) {
		resp, b := h.do(method, "/items/"+id)
		var it struct{ Status string }
		_ = json.Unmarshal(b, &it)
		return resp.StatusCode, it.Status, b
	}
	if code, st, b := status(http.MethodPatch); code != 200 || st != "UPDATING" {
		t.Fatalf("PATCH: %d %s", code, b)
	}
	for i, want := range []string{"UPDATING", "UPDATING", "UPDATED", "UPDATED"} {
		if _, st, _ := status(http.MethodGet); st != want {
			t.Errorf("poll %d: status %s, want %s", i+1, st, want)
		}
	}
	h.clock.Advance(time.Hour)
	code, _, b := status(http.MethodPatch)
	want := `{"code":409,"codeDescription":"CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY","message":"Client updates on this item are allowed at most every 24 hours. Last update was at 2026-05-29T20:59:39.793Z","data":{"minUpdateFrequencyAllowedInHours":24,"lastUpdatedAt":"2026-05-29T20:59:39.793Z"}}`
	wantBody(t, "second PATCH", code, b, 409, want)
	h.s.SetPatchFrequencyLimit(false)
	if code, st, b := status(http.MethodPatch); code != 200 || st != "UPDATING" {
		t.Errorf("PATCH with limit off: %d %s", code, b)
	}
	// 20 PATCHes per minute: two were made in this minute.
	var last *http.Response
	for range 19 {
		last, b = h.do(http.MethodPatch, "/items/"+id)
	}
	if last.StatusCode != 429 || last.Header.Get("RateLimit-Limit") != "20" || last.Header.Get("Retry-After") != "60" {
		t.Errorf("21st PATCH in a minute: %d %v %s", last.StatusCode, last.Header, b)
	}
}

func TestAccounts(t *testing.T) {
	h := newHarness(t, Options{AccountsPerItem: 4})
	item := h.s.ItemIDs()[0]
	var page struct {
		Page, Total, TotalPages int
		Results                 []struct {
			ID, ItemID, Type, Subtype, Number string
			MarketingName                     *string
			Owner                             string
			BankData                          *struct{ TransferNumber string }
			CreditData                        *struct{ BalanceCloseDate, Brand string }
		}
	}
	h.mustGet("/accounts?itemId="+item, &page)
	if page.Page != 1 || page.Total != 4 || page.TotalPages != 1 || len(page.Results) != 4 {
		t.Fatalf("page = %+v", page)
	}
	wantTypes := []string{"BANK/CHECKING_ACCOUNT", "BANK/SAVINGS_ACCOUNT", "CREDIT/CREDIT_CARD", "BANK/CHECKING_ACCOUNT"}
	for i, a := range page.Results {
		if got := a.Type + "/" + a.Subtype; got != wantTypes[i] {
			t.Errorf("account %d type %s, want %s", i, got, wantTypes[i])
		}
		if a.ID != h.s.AccountIDs(item)[i] || a.ItemID != item || a.Owner != "John Doe" {
			t.Errorf("account %d = %+v", i, a)
		}
		if (a.Type == "BANK") != (a.BankData != nil) || (a.Type == "CREDIT") != (a.CreditData != nil) {
			t.Errorf("account %d bankData/creditData mismatch", i)
		}
		if a.CreditData != nil {
			if _, err := time.Parse(time.DateOnly, a.CreditData.BalanceCloseDate); err != nil {
				t.Errorf("balanceCloseDate %q not date-only", a.CreditData.BalanceCloseDate)
			}
		}
	}
	h.mustGet("/accounts?itemId="+item+"&type=CREDIT", &page)
	if page.Total != 1 || page.Results[0].Type != "CREDIT" {
		t.Errorf("type=CREDIT: %+v", page)
	}
	code, b := h.get("/accounts")
	wantBody(t, "no itemId", code, b, 400, `{"message":"itemId must be a UUID","code":400}`)
	code, b = h.get("/accounts/" + "00000000-0000-4000-8000-000000000000")
	wantBody(t, "unknown account", code, b, 404, `{"code":404,"codeDescription":"ACCOUNT_NOT_FOUND","message":"account not found"}`)
	h.mustGet("/accounts/"+h.s.AccountIDs(item)[2], nil)
}

func TestOtherProducts(t *testing.T) {
	h := newHarness(t, Options{})
	items := h.s.ItemIDs()
	card := h.s.AccountIDs(items[0])[2]

	var bills struct {
		Total   int
		Results []map[string]json.RawMessage
	}
	h.mustGet("/bills?accountId="+card, &bills)
	if bills.Total < 3 || bills.Total > 6 {
		t.Errorf("card has %d bills, want 3-6", bills.Total)
	}
	noZ := false
	billIDs := map[string]bool{}
	for _, b := range bills.Results {
		var due string
		_ = json.Unmarshal(b["dueDate"], &due)
		noZ = noZ || !strings.HasSuffix(due, "Z")
		var id string
		_ = json.Unmarshal(b["id"], &id)
		billIDs[id] = true
		for _, k := range []string{"accountId", "billClosingDate", "totalAmount", "totalAmountCurrencyCode", "minimumPaymentAmount", "allowsInstallments", "financeCharges", "payments", "createdAt", "updatedAt"} {
			if _, ok := b[k]; !ok {
				t.Errorf("bill lacks %s", k)
			}
		}
		h.mustGet("/bills/"+id, nil)
	}
	if !noZ {
		t.Error("no bill has a dueDate without Z")
	}
	// Every billId on a card row names one of the card's bills.
	for _, r := range decodeRows(t, h.s.Transactions(card)) {
		if m := r.CreditCardMetadata; m != nil && m.BillID != "" && !billIDs[m.BillID] {
			t.Errorf("row %s has unknown billId %s", r.ID, m.BillID)
		}
	}
	var bankBills struct{ Total, TotalPages int }
	h.mustGet("/bills?accountId="+h.s.AccountIDs(items[0])[0], &bankBills)
	if bankBills.Total != 0 || bankBills.TotalPages != 0 {
		t.Errorf("bank account bills = %+v", bankBills)
	}

	var invs struct {
		Total   int
		Results []struct{ ID, Type string }
	}
	h.mustGet("/investments?itemId="+items[0]+"&pageSize=2", &invs)
	if invs.Total != 3 || len(invs.Results) != 2 {
		t.Errorf("investments page 1 = %+v", invs)
	}
	for _, inv := range invs.Results {
		h.mustGet("/investments/"+inv.ID, nil)
		var txs struct {
			Total, TotalPages int
			Results           []map[string]json.RawMessage
		}
		seen := 0
		for page := 1; ; page++ {
			h.mustGet("/investments/"+inv.ID+"/transactions?pageSize=3&page="+string(rune('0'+page)), &txs)
			seen += len(txs.Results)
			for _, tx := range txs.Results {
				if _, ok := tx["investmentId"]; ok {
					t.Error("investment transaction carries investmentId")
				}
			}
			if page >= txs.TotalPages {
				break
			}
		}
		if seen != txs.Total {
			t.Errorf("paged %d investment transactions of %d", seen, txs.Total)
		}
	}
	code, b := h.get("/investments?itemId=" + items[0] + "&pageSize=501")
	if code != 400 {
		t.Errorf("pageSize=501: %d %s", code, b)
	}
	code, b = h.get("/investments/00000000-0000-4000-8000-000000000000")
	wantBody(t, "unknown investment", code, b, 404, `{"code":404,"codeDescription":"INVESTMENT_NOT_FOUND","message":"investment not found"}`)

	var loans struct {
		Total   int
		Results []map[string]json.RawMessage
	}
	h.mustGet("/loans?itemId="+items[0], &loans)
	if loans.Total != 1 || string(loans.Results[0]["installmentPeriodicity"]) != `"MES"` {
		t.Errorf("loans = %+v", loans)
	}
	h.mustGet("/loans?itemId="+items[1], &loans)
	if loans.Total != 0 {
		t.Errorf("second item has %d loans", loans.Total)
	}
	var ident struct{ FullName string }
	h.mustGet("/identity?itemId="+items[0], &ident)
	if ident.FullName != "John Doe" {
		t.Errorf("identity = %+v", ident)
	}
	code, b = h.get("/identity?itemId=" + items[1])
	wantBody(t, "identity of item 1", code, b, 404, `{"code":404,"codeDescription":"IDENTITY_NOT_FOUND","message":"identity not found"}`)
	var consents struct{ Total int }
	h.mustGet("/consents?itemId="+items[0], &consents)
	if consents.Total != 1 {
		t.Errorf("consents = %+v", consents)
	}
	code, b = h.get("/no/such/route")
	wantBody(t, "unknown route", code, b, 404, `{"code":404,"message":"Cannot GET /no/such/route"}`)
}

func TestCategories(t *testing.T) {
	h := newHarness(t, Options{})
	var page struct {
		Page, Total, TotalPages int
		Results                 []category
	}
	h.mustGet("/categories", &page)
	if page.Total != len(categories) || page.Total < 30 {
		t.Fatalf("categories page = %d of %d", len(page.Results), page.Total)
	}
	byID := map[string]category{}
	for _, c := range page.Results {
		byID[c.ID] = c
		if len(c.ID) != 8 || c.DescriptionTranslated == "" {
			t.Errorf("category %+v", c)
		}
	}
	if c := byID["01010000"]; c.Description != "Salary" || c.ParentID == nil || *c.ParentID != "01000000" || *c.ParentDescription != "Income" {
		t.Errorf("01010000 = %+v", c)
	}
	if c := byID["05000000"]; c.Description != "Transfers" || c.ParentID != nil {
		t.Errorf("05000000 = %+v", c)
	}

	h2 := newHarness(t, Options{CategoriesAsArray: true})
	var arr []category
	h2.mustGet("/categories", &arr)
	if len(arr) != len(categories) {
		t.Errorf("bare array has %d categories", len(arr))
	}
}
