package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests play the attacker who controls a DNS entry, a proxy or the
// API's front end (issue #18): the fake answers as GoCardless would, except
// for what the wrapper changes.

// newAttackedEnv is newEnvWith, served over https with a test certificate
// the binary trusts when tls is set.
func newAttackedEnv(t *testing.T, o fake.Options, tls bool, wrap func(h http.Handler) http.Handler) *env {
	t.Helper()
	f := fake.New(o)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(wrap(f.Handler()))
		st.TrustTLS(t, srv)
	} else {
		srv = httptest.NewServer(wrap(f.Handler()))
	}
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-gocardless"), fake: f, srv: srv, cfg: map[string]any{
		"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
		"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01", "lookback_days": 7,
	}}
}

// TestRedirectsLeakNothing: a 307 on POST /token/new/ (which would re-post
// secret_id and secret_key) or a redirect of a data call to the same host
// name on another port, or from https down to plain http, reaches nobody:
// the target never hears a request, the stream fails with a system_error
// naming the endpoint and the target, and no account's state moves.
func TestRedirectsLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		route  string // the endpoint that redirects, as the error names it
		match  string // METHOD /path-prefix
		status int
		host   string
		tls    bool
	}{
		{"307 on POST /token/new/ to another port", "POST /token/new/", "POST /api/v2/token/new/", 307, "127.0.0.1:0", false},
		{"308 on POST /token/new/ to localhost", "POST /token/new/", "POST /api/v2/token/new/", 308, "localhost", false},
		{"302 on transactions to another port", "GET /accounts/{id}/transactions/", "GET /api/v2/accounts/", 302, "127.0.0.1:0", false},
		{"https base redirected to plain http", "GET /accounts/{id}/transactions/", "GET /api/v2/accounts/", 307, "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.host
			if addr == "localhost" {
				addr = "127.0.0.1:0"
			}
			catcher := st.NewCatcher(t, addr)
			target := catcher.URL
			if tc.host == "localhost" {
				target = strings.Replace(target, "127.0.0.1", "localhost", 1)
			}
			method, path, _ := strings.Cut(tc.match, " ")
			e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 5}, tc.tls, func(h http.Handler) http.Handler {
				return st.Redirect(h, func(r *http.Request) bool {
					return r.Method == method && strings.HasPrefix(r.URL.Path, path) && (method == "POST" || strings.HasSuffix(r.URL.Path, "/transactions/"))
				}, tc.status, target, true)
			})
			r := e.run(e.catalog(true, "transactions"), nil)
			if seen := catcher.Seen(); len(seen) != 0 {
				t.Fatalf("the redirect target received %d requests, first %s %s with headers %v and body %q", len(seen), seen[0].Method, seen[0].Path, seen[0].Header, seen[0].Body)
			}
			if r.Code == 0 {
				t.Fatal("the read succeeded on another host's page")
			}
			if st := r.Statuses()["transactions"]; len(st) == 0 || st[len(st)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", st)
			}
			errs := errorsMention(r, tc.route, target)
			if len(errs) == 0 {
				t.Errorf("no error trace names %s and %s: %+v", tc.route, target, r.ErrorTraces())
			}
			for _, et := range errs {
				if et.FailureType != protocol.SystemError {
					t.Errorf("failure type %s, want system_error: %s", et.FailureType, et.Message)
				}
			}
			for _, m := range r.Messages {
				if m.State != nil && m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == "transactions" {
					if s := decodeTxState(t, m.State.Stream.StreamState); len(s.Accounts) != 0 {
						t.Errorf("the transactions state moved on another host's page: %s", m.State.Stream.StreamState)
					}
				}
			}
		})
	}
}

// TestHugeBodiesStayInBudget: every account's transactions answered with a
// 200 MB body (announced or not) or an endless one, four accounts at once:
// the stream fails with an error naming the endpoint and the oversized
// body, and the process never comes near a 512 MiB pod's limit.
func TestHugeBodiesStayInBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int64
		announce bool
	}{
		{"200 MB bodies, announced", 200 << 20, true},
		{"200 MB bodies, chunked", 200 << 20, false},
		{"endless bodies", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAttackedEnv(t, fake.Options{Requisitions: 3, TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
				return st.Bomb(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, tc.size, tc.announce)
			})
			r := e.run(e.catalog(true, "transactions"), nil)
			t.Logf("peak RSS %d MiB", r.MaxRSS>>20)
			if r.MaxRSS > (512<<20)*3/4 {
				t.Errorf("peak RSS %d MiB; a 512 MiB pod needs headroom", r.MaxRSS>>20)
			}
			if st := r.Statuses()["transactions"]; len(st) == 0 || st[len(st)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", st)
			}
			if len(errorsMention(r, "/transactions/", "far larger than any real")) == 0 {
				for _, et := range r.ErrorTraces() {
					t.Logf("%s: %s", et.FailureType, et.Message)
				}
				t.Error("no error names the endpoint and the oversized body")
			}
		})
	}
}
