package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests put a misbehaving network between the binary and the fake:
// a front end answering for GoCardless (a load balancer's page, a rate
// limit asking for hours), each wrapping the fake's handler.

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
