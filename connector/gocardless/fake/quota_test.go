package fake

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// rawGet calls the handler without a network in between, so the header map
// keeps the exact spelling the server wrote.
func rawGet(t *testing.T, f *Server, token, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "/api/v2"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, req)
	return rec
}

func TestBankQuotaHeadersAndReset(t *testing.T) {
	for _, tc := range []struct {
		style   HeaderStyle
		general [3]string
		account [3]string
	}{
		{HeadersHTTPPrefix,
			[3]string{"HTTP_X_RATELIMIT_LIMIT", "HTTP_X_RATELIMIT_REMAINING", "HTTP_X_RATELIMIT_RESET"},
			[3]string{"HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT", "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING", "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET"}},
		{HeadersXPrefix,
			[3]string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"},
			[3]string{"x-ratelimit-account-success-limit", "x-ratelimit-account-success-remaining", "x-ratelimit-account-success-reset"}},
	} {
		t.Run(tc.account[0], func(t *testing.T) {
			h := newHarness(t, Options{HeaderStyle: tc.style})
			h.login()
			acc := h.firstAccount()
			path := "/accounts/" + acc + "/transactions/"
			header := func(rec *httptest.ResponseRecorder, name string) string {
				t.Helper()
				v, ok := rec.Header()[name] // exact spelling, not canonicalised
				if !ok {
					t.Fatalf("no header %q in %v", name, rec.Header())
				}
				return v[0]
			}

			for i := range 4 {
				h.fake.AdvanceClock(time.Minute) // calls spread out in time
				rec := rawGet(t, h.fake, h.token, path)
				if rec.Code != 200 {
					t.Fatalf("call %d: %d %s", i+1, rec.Code, rec.Body)
				}
				if got := header(rec, tc.account[0]); got != "4" {
					t.Errorf("limit = %s", got)
				}
				if got := header(rec, tc.account[1]); got != itoa(3-i) {
					t.Errorf("call %d: remaining = %s, want %d", i+1, got, 3-i)
				}
				// The oldest call is i minutes old, so it frees its slot then.
				if got := header(rec, tc.account[2]); got != itoa(86400-60*i) {
					t.Errorf("call %d: reset = %s, want %d", i+1, got, 86400-60*i)
				}
				if got := header(rec, tc.general[0]); got != "100" {
					t.Errorf("general limit = %s", got)
				}
				header(rec, tc.general[1])
				header(rec, tc.general[2])
			}

			rec := rawGet(t, h.fake, h.token, path)
			if rec.Code != 429 {
				t.Fatalf("fifth call: %d %s", rec.Code, rec.Body)
			}
			want := `{"summary":"Rate limit exceeded","detail":"The rate limit for this resource is 4/day. Please try again in 86220 seconds","status_code":429,"type":"RateLimitError"}`
			if got := rec.Body.String(); got != want {
				t.Errorf("429 body\n got %s\nwant %s", got, want)
			}
			if header(rec, tc.account[1]) != "0" || header(rec, tc.account[2]) != "86220" {
				t.Errorf("429 headers = %v", rec.Header())
			}

			// Other endpoints and the metadata have their own budget.
			if rec := rawGet(t, h.fake, h.token, "/accounts/"+acc+"/balances/"); rec.Code != 200 || header(rec, tc.account[1]) != "3" {
				t.Errorf("balances: %d, remaining %v", rec.Code, rec.Header())
			}
			if rec := rawGet(t, h.fake, h.token, "/accounts/"+acc+"/"); rec.Code != 200 {
				t.Errorf("metadata: %d", rec.Code)
			} else if _, ok := rec.Header()[tc.account[0]]; ok {
				t.Errorf("metadata carries per-account headers")
			}

			// Rolling window: the first call leaves it 24 hours after it was made.
			h.fake.AdvanceClock(86220*time.Second - time.Second) // the 429 said 86220
			h.login()                                            // the access token has just expired
			if rec := rawGet(t, h.fake, h.token, path); rec.Code != 429 {
				t.Fatalf("just before the reset: %d", rec.Code)
			}
			h.fake.AdvanceClock(time.Second)
			rec = rawGet(t, h.fake, h.token, path)
			if rec.Code != 200 || header(rec, tc.account[1]) != "0" {
				t.Fatalf("after the first slot freed: %d, remaining %s", rec.Code, header(rec, tc.account[1]))
			}
			h.fake.AdvanceClock(24 * time.Hour)
			h.login()
			if rec := rawGet(t, h.fake, h.token, path); rec.Code != 200 || header(rec, tc.account[1]) != "3" {
				t.Fatalf("a day later: %d, remaining %s", rec.Code, header(rec, tc.account[1]))
			}
		})
	}
}

func TestExhaustQuota(t *testing.T) {
	h := newHarness(t, Options{DailyLimit: 10})
	h.login()
	acc := h.firstAccount()

	h.fake.ExhaustQuota(acc, EndpointDetails)
	a := h.get("/accounts/" + acc + "/details/")
	wantStatus(t, a, 429)
	if e := a.apiErr(t); e.Type != "RateLimitError" || !strings.HasSuffix(e.Detail, "is 10/day. Please try again in 86400 seconds") {
		t.Errorf("body = %+v", e)
	}
	if h.fake.QuotaRemaining(acc, EndpointDetails) != 0 || h.fake.QuotaRemaining(acc, EndpointBalances) != 10 {
		t.Error("ExhaustQuota touched the wrong endpoint")
	}

	h.fake.ExhaustQuota(acc, "")
	for _, e := range quotaEndpoints {
		wantStatus(t, h.get("/accounts/"+acc+"/"+e+"/"), 429)
	}
	wantStatus(t, h.get("/accounts/"+acc+"/"), 200) // metadata is not bank-backed

	// Other accounts keep their own quota.
	other := h.fake.AccountIDs(h.fake.RequisitionIDs()[0])[1]
	wantStatus(t, h.get("/accounts/"+other+"/details/"), 200)

	h.fake.AdvanceClock(24 * time.Hour)
	h.login()
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 200)

	defer func() {
		if recover() == nil {
			t.Error("ExhaustQuota with an unknown endpoint did not panic")
		}
	}()
	h.fake.ExhaustQuota(acc, "statements")
}

// TestFailedCallsUseNoQuota: the header is ..._ACCOUNT_SUCCESS_...: only
// answered calls count.
func TestFailedCallsUseNoQuota(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	h.fake.SetInstitutionError(acc, http.StatusServiceUnavailable)
	for range 6 {
		wantStatus(t, h.get("/accounts/"+acc+"/balances/"), 503)
	}
	wantStatus(t, h.get("/accounts/"+acc+"/transactions/?date_from=2999-01-01"), 400)
	if got := h.fake.QuotaRemaining(acc, EndpointBalances); got != 4 {
		t.Errorf("remaining after failures = %d, want 4", got)
	}
	if got := h.fake.QuotaRemaining(acc, EndpointTransactions); got != 4 {
		t.Errorf("remaining after a 400 = %d, want 4", got)
	}
}

func TestCompanyLimitOnAccounts(t *testing.T) {
	h := newHarness(t, Options{AccountsPerMinute: 3})
	h.login()
	acc := h.firstAccount()
	for range 3 {
		wantStatus(t, h.get("/accounts/"+acc+"/"), 200)
	}
	a := h.get("/accounts/" + acc + "/details/")
	wantStatus(t, a, 429)
	if e := a.apiErr(t); e.Type != "" || e.Detail != "The rate limit for this resource is 3/minute. Please try again in 60 seconds" {
		t.Errorf("company 429 body = %+v", e)
	}
	if a.header.Get("Http_x_ratelimit_remaining") != "0" {
		t.Errorf("headers = %v", a.header)
	}
	if h.fake.QuotaRemaining(acc, EndpointDetails) != 4 {
		t.Error("company-level refusal used bank quota")
	}
	// Requisitions are another group.
	wantStatus(t, h.get("/requisitions/"+h.fake.RequisitionIDs()[0]+"/"), 200)
	h.fake.AdvanceClock(time.Minute)
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 200)

	unlimited := newHarness(t, Options{AccountsPerMinute: -1})
	unlimited.login()
	for range 150 {
		a := unlimited.get("/accounts/" + unlimited.firstAccount() + "/")
		wantStatus(t, a, 200)
		if a.header.Get("Http_x_ratelimit_limit") != "" {
			t.Fatalf("unlimited group sends headers: %v", a.header)
		}
	}
}
