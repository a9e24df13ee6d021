package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests put a misbehaving network between the binary and the fake,
// each wrapping the fake's handler: a front end answering for GoCardless
// (a load balancer's or a captive portal's page, a rate limit asking for
// hours), a bank that leaves a call unanswered past http_timeout_seconds
// and a token endpoint down mid-run. httpclient's tests cover the ways an
// attempt times out (TestAttemptTimeoutSaysWhat).

// TestRateLimitOverTheCapSaysToRunLater: a 429 asking to wait two hours
// (Retry-After: 7200), more than the 5 minutes the connector waits, fails
// the read at once with a transient_error that says to run again after
// it, not to raise max_rate_limit_wait_seconds, a setting of
// source-pluggy's that this connector does not have (its config warned
// of the key as unknown).
func TestRateLimitOverTheCapSaysToRunLater(t *testing.T) {
	e := newEnvWith(t, fake.Options{TransactionsPerAccount: 5}, func(_ *fake.Server, h http.Handler) http.Handler {
		canned, _ := st.Canned(h, func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/requisitions/") }, 0,
			http.StatusTooManyRequests, map[string]string{"Retry-After": "7200"}, []byte(`{"summary":"Too many requests","status_code":429}`))
		return canned
	})
	r := e.run(e.catalog(true, "requisitions"), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	errs := r.ErrorTraces()
	if len(errs) == 0 {
		t.Fatal("no ERROR trace")
	}
	for _, et := range errs {
		if et.FailureType != protocol.TransientError || !strings.Contains(et.Message, "the API asks to wait 2h0m0s, more than the 5m0s cap; run again after that") ||
			strings.Contains(et.Message, "max_rate_limit_wait_seconds") {
			t.Errorf("%s: %s, want a transient_error saying to run again after the wait, naming no setting", et.FailureType, et.Message)
		}
	}
}

// TestFrontEndErrorsNameTheAccount: every account's transactions call
// answered, after its retries, by a front end rather than GoCardless (a
// load balancer's HTML 502 or 503, a gateway's JSON 504, a captive
// portal's 200 page) fails the stream with an error naming each account, as
// docs/gocardless.md promises. They were said with no account (": GET
// /accounts/{id}/transactions/: HTTP 502 …", or GoCardless's summary
// alone), four accounts in one line that named none. A 200 page that is
// not JSON says so, and who may be answering; a 503 page is not blamed on
// the bank, as GoCardless's own 503 ServiceError is. The accounts keep their
// state, and a run after the outage reads every row.
func TestFrontEndErrorsNameTheAccount(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		says                    string // what the error must say besides the account
		never                   string // what it must not say
	}{
		{"load balancer's 503 page", "text/html", "<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1></body></html>", http.StatusServiceUnavailable,
			"GoCardless, or a proxy on the way to it, is unavailable (the answer is not GoCardless's error, so not the bank's) (HTTP 503)", "institution"},
		{"nginx 502 page", "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>", http.StatusBadGateway, `HTTP 502: an HTML page, not the API's answer: "502 Bad Gateway"`, "<html"},
		{"gateway 504 in GoCardless's shape", "application/json", `{"summary":"Gateway Timeout","detail":"The upstream did not answer in time","status_code":504}`, http.StatusGatewayTimeout, "HTTP 504: Gateway Timeout", ""},
		{"captive portal's 200 page", "text/html; charset=utf-8", "<html><body><h1>Please log in to the Wi-Fi</h1></body></html>", http.StatusOK,
			"of text/html, not JSON: a proxy, captive portal or load balancer may be answering for the API", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var outage atomic.Bool
			outage.Store(true)
			e := newEnvWith(t, fake.Options{TransactionsPerAccount: 20}, func(_ *fake.Server, h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if outage.Load() && strings.HasSuffix(r.URL.Path, "/transactions/") {
						w.Header().Set("Content-Type", tc.contentType)
						w.WriteHeader(tc.status)
						w.Write([]byte(tc.body))
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			cat := e.catalog(true, "balances", "transactions")
			r := e.run(cat, nil)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1", r.Code)
			}
			var streamErr *protocol.ErrorTrace
			for _, et := range r.ErrorTraces() {
				if et.StreamDescriptor != nil && et.StreamDescriptor.Name == "transactions" {
					streamErr = et
				}
			}
			if streamErr == nil || streamErr.FailureType != protocol.TransientError {
				t.Fatalf("transactions error %+v, want a transient_error", streamErr)
			}
			for _, a := range e.accounts() {
				if !strings.Contains(streamErr.Message, "account "+a) {
					t.Errorf("the error does not name account %s: %s", a, streamErr.Message)
				}
			}
			if !strings.Contains(streamErr.Message, tc.says) {
				t.Errorf("the error does not say %q: %s", tc.says, streamErr.Message)
			}
			if tc.never != "" && strings.Contains(streamErr.Message, tc.never) {
				t.Errorf("the error says %q: %s", tc.never, streamErr.Message)
			}
			if strings.HasPrefix(streamErr.Message, ":") {
				t.Errorf("the error starts with an empty context: %s", streamErr.Message)
			}
			if st := r.Statuses()["balances"]; len(st) == 0 || st[len(st)-1] != protocol.Complete {
				t.Errorf("balances ended %v, want COMPLETE", st)
			}
			outage.Store(false)
			again := e.read(cat, "--state", r.StateFile(t))
			if n, want := len(again.Records()["transactions"]), 20*len(e.accounts()); n != want {
				t.Errorf("the run after the outage read %d transactions, want %d", n, want)
			}
		})
	}
}

// TestFailedTokenRenewalIsNotTheBanks: the access token refused mid-run
// (401 on every account's first transactions call) and POST
// /token/refresh/ then failing (a 503 page, after its retries) fails each
// account with the renewal's error, transient, naming the token call. The
// 503 inside it was read as the account's own answer ("institution … is
// unavailable", the account blocked for the run), and the accounts that
// waited on that renewal were told the renewed token had been refused
// and to check secret_id/secret_key, a config_error, when no token had
// been renewed. A run after the outage reads every row.
func TestFailedTokenRenewalIsNotTheBanks(t *testing.T) {
	var refreshes atomic.Int32
	var outage atomic.Bool
	outage.Store(true)
	e := newEnvWith(t, fake.Options{TransactionsPerAccount: 20}, func(_ *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case !outage.Load():
			case strings.HasSuffix(r.URL.Path, "/token/refresh/"):
				refreshes.Add(1)
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("<html><body><h1>503 Service Unavailable</h1></body></html>"))
				return
			case strings.HasSuffix(r.URL.Path, "/transactions/"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"summary":"Invalid token","detail":"Token is invalid or expired","status_code":401}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	cat := e.catalog(true, "transactions")
	r := e.run(cat, nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	if n := refreshes.Load(); n != 3 {
		t.Errorf("POST /token/refresh/ sent %d times, want 3 (one renewal, retried twice)", n)
	}
	errs := r.ErrorTraces()
	if len(errs) == 0 {
		t.Fatal("no ERROR trace")
	}
	for _, et := range errs {
		if et.FailureType != protocol.TransientError || !strings.Contains(et.Message, "renewing the access token: POST /token/refresh/: HTTP 503") ||
			strings.Contains(et.Message, "unavailable") || strings.Contains(et.Message, "secret_id") {
			t.Errorf("%s: %s; want a transient_error about the renewal, blaming neither the bank nor the keys", et.FailureType, et.Message)
		}
	}
	outage.Store(false)
	again := e.read(cat, "--state", r.StateFile(t))
	if n, want := len(again.Records()["transactions"]), 20*len(e.accounts()); n != want {
		t.Errorf("the run after the outage read %d transactions, want %d", n, want)
	}
}

// TestHTTPTimeoutSecondsBoundsAnAttempt: http_timeout_seconds bounds one
// request attempt, as source-pluggy's does: a transactions call the bank
// leaves unanswered past it is abandoned and retried, the retry's log
// line naming the setting, and the read gets every row. The connector
// waited a fixed 60 s, whatever the config said (the key was warned of
// as unknown).
func TestHTTPTimeoutSecondsBoundsAnAttempt(t *testing.T) {
	var stalled, givenUp *atomic.Int32
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 10}, func(_ *fake.Server, h http.Handler) http.Handler {
		var stall http.Handler
		stall, stalled, givenUp = st.Stall(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, 1, 8*time.Second)
		return stall
	})
	e.cfg["http_timeout_seconds"] = 1
	catalog := e.catalog(false, "transactions")
	r := e.read(catalog)
	st.CheckAttemptTimedOut(t, r, func() *st.Result { return e.read(catalog) }, "transactions", stalled, givenUp, e.bin, e.config)
}
