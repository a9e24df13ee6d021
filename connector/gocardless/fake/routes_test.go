package fake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoutes(t *testing.T) {
	h := newHarness(t, Options{Requisitions: 3})
	h.login()
	rid := h.fake.RequisitionIDs()[0]

	var req map[string]any
	h.get("/requisitions/"+rid+"/").decode(t, &req)
	for _, k := range []string{"id", "created", "redirect", "status", "institution_id", "agreement", "reference",
		"accounts", "user_language", "link", "ssn", "account_selection", "redirect_immediate"} {
		if _, ok := req[k]; !ok {
			t.Errorf("requisition has no %s", k)
		}
	}

	var agr map[string]any
	h.get("/agreements/enduser/"+req["agreement"].(string)+"/").decode(t, &agr)
	if agr["max_historical_days"] == nil || agr["access_valid_for_days"] != 90.0 || agr["accepted"] == nil {
		t.Errorf("agreement = %v", agr)
	}

	var meta map[string]any
	h.get("/accounts/"+h.firstAccount()+"/").decode(t, &meta)
	for _, k := range []string{"id", "created", "last_accessed", "iban", "institution_id", "status", "owner_name"} {
		if _, ok := meta[k]; !ok {
			t.Errorf("account metadata has no %s", k)
		}
	}

	var page struct {
		Count    int
		Next     *string
		Previous *string
		Results  []requisition
	}
	h.get("/requisitions/?limit=2").decode(t, &page)
	if page.Count != 3 || len(page.Results) != 2 || page.Next == nil || page.Previous != nil ||
		!strings.HasSuffix(*page.Next, "/api/v2/requisitions/?limit=2&offset=2") {
		t.Errorf("first page = %+v", page)
	}
	h.get("/requisitions/?limit=2&offset=2").decode(t, &page)
	if len(page.Results) != 1 || page.Next != nil || page.Previous == nil || page.Results[0].ID != h.fake.RequisitionIDs()[2] {
		t.Errorf("second page = %+v", page)
	}

	var insts []map[string]any
	h.get("/institutions/?country=gb").decode(t, &insts)
	if len(insts) != 1 || insts[0]["id"] != "NATIONWIDE_NAIAGB21" {
		t.Errorf("institutions in GB = %v", insts)
	}

	for _, p := range []string{"/requisitions/nope/", "/accounts/nope/", "/accounts/nope/transactions/",
		"/agreements/enduser/nope/", "/institutions/NOPE/", "/accounts/" + h.firstAccount() + "/statements/", "/nothing"} {
		a := h.get(p)
		wantStatus(t, a, 404)
		if e := a.apiErr(t); e.StatusCode != 404 {
			t.Errorf("%s: body %s", p, a.body)
		}
	}
	st := h.fake.Stats()
	if st.Requests[RouteRequisition][404] != 1 || st.Requests[RouteUnmatched][404] != 2 || st.Count(RouteRequisitions) != 2 {
		t.Errorf("stats = %+v", st.Requests)
	}
	h.fake.ResetStats()
	if st := h.fake.Stats(); len(st.Requests) != 0 || st.TokenNew != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

// TestConcurrentClients is for -race: the connector reads accounts in
// parallel.
func TestConcurrentClients(t *testing.T) {
	h := newHarness(t, Options{DailyLimit: 1000, AccountsPerMinute: -1})
	h.login()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, rid := range h.fake.RequisitionIDs() {
				for _, acc := range h.fake.AccountIDs(rid) {
					req, _ := http.NewRequest("GET", h.base+"/accounts/"+acc+"/transactions/", nil)
					req.Header.Set("Authorization", "Bearer "+h.token)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if i == 0 {
						h.fake.AddBooked(acc, 1)
						h.fake.ChangePending(acc)
					}
				}
			}
			h.fake.Stats()
		}()
	}
	wg.Wait()
	if n := h.fake.Stats().Requests[RouteTransactions][200]; n != 32 {
		t.Errorf("transactions answered = %d, want 32", n)
	}
}

func TestAdminHandler(t *testing.T) {
	f := New(Options{Now: func() time.Time { return fixedNow }})
	mux := http.NewServeMux()
	mux.Handle("/__fake/", f.AdminHandler())
	mux.Handle("/", f.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	rid := f.RequisitionIDs()[0]
	acc := f.AccountIDs(rid)[0]
	other := f.AccountIDs(f.RequisitionIDs()[1])[0]

	if code, _ := post("/__fake/exhaust?account=" + acc + "&endpoint=balances"); code != 200 || f.QuotaRemaining(acc, "balances") != 0 {
		t.Errorf("exhaust: %d", code)
	}
	if code, out := post("/__fake/add_booked?account=" + acc + "&n=2"); code != 200 || len(out["internal_transaction_ids"].([]any)) != 2 {
		t.Errorf("add_booked: %d %v", code, out)
	}
	var last transaction
	json.Unmarshal(f.Booked(acc)[len(f.Booked(acc))-1], &last)
	if code, out := post("/__fake/reuse_transaction_id?account=" + acc + "&transaction_id=" + last.TransactionID); code != 200 ||
		len(out["internal_transaction_ids"].([]any)) != 1 || !strings.Contains(string(f.Booked(acc)[0]), `"transactionId":"`+last.TransactionID+`"`) {
		t.Errorf("reuse_transaction_id: %d %v", code, out)
	}
	if code, out := post("/__fake/advance?seconds=3600"); code != 200 || out["now"] != "2025-03-14T10:30:00Z" {
		t.Errorf("advance: %d %v", code, out)
	}
	pending := f.Pending(other)
	if code, _ := post("/__fake/change_pending?account=" + other); code != 200 || string(f.Pending(other)[0]) == string(pending[0]) {
		t.Errorf("change_pending: %d", code)
	}
	if code, _ := post("/__fake/institution_error?account=" + other + "&status=503"); code != 200 {
		t.Errorf("institution_error: %d", code)
	}
	if code, _ := post("/__fake/suspend?account=" + other); code != 200 {
		t.Errorf("suspend: %d", code)
	}
	if code, _ := post("/__fake/expire?requisition=" + rid); code != 200 {
		t.Errorf("expire: %d", code)
	}
	for path, want := range map[string]int{
		"/__fake/expire?requisition=nope":                          404,
		"/__fake/suspend?account=nope":                             404,
		"/__fake/exhaust?account=" + acc + "&endpoint=x":           400,
		"/__fake/advance?seconds=-5":                               400,
		"/__fake/advance?seconds=soon":                             400,
		"/__fake/add_booked?account=" + acc:                        400,
		"/__fake/reuse_transaction_id?account=" + acc:              400,
		"/__fake/institution_error?account=" + acc + "&status=418": 400,
	} {
		if code, out := post(path); code != want || out["error"] == "" {
			t.Errorf("%s: %d %v, want %d with an error", path, code, out, want)
		}
	}

	// The API itself saw the switches.
	h := &harness{t: t, fake: f, base: srv.URL + "/api/v2"}
	h.login()
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 401)
	wantStatus(t, h.get("/accounts/"+other+"/details/"), 409)

	resp, err := http.Get(srv.URL + "/__fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.TokenNew != 1 || st.Requests[RouteDetails][409] != 1 {
		t.Errorf("stats over HTTP = %+v, %v", st, err)
	}
	if code, _ := post("/__fake/reset_stats"); code != 200 || f.Stats().TokenNew != 0 {
		t.Errorf("reset_stats: %d", code)
	}
}

// TestDateHeaderFollowsClock: the Date header is the fake's time, so a
// client that times quota resets by the server sees AdvanceClock.
func TestDateHeaderFollowsClock(t *testing.T) {
	h := newHarness(t, Options{})
	date := func() time.Time {
		a := h.do("POST", "/token/new/", map[string]string{"secret_id": h.fake.SecretID(), "secret_key": h.fake.SecretKey()}, "")
		d, err := http.ParseTime(a.header.Get("Date"))
		if err != nil {
			t.Fatalf("Date header %q: %v", a.header.Get("Date"), err)
		}
		return d
	}
	if d := date(); !d.Equal(fixedNow) {
		t.Fatalf("Date = %v, want %v", d, fixedNow)
	}
	h.fake.AdvanceClock(25 * time.Hour)
	if d := date(); !d.Equal(fixedNow.Add(25 * time.Hour)) {
		t.Fatalf("Date after AdvanceClock = %v", d)
	}
}
