package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests play the attacker who controls a DNS entry, a proxy or the
// API's front end (issue #18): the fake answers as Pluggy would, except for
// what the wrapper changes.

// newAttackedEnv is newWrappedEnv, served over https with a test
// certificate the binary trusts when tls is set.
func newAttackedEnv(t *testing.T, o fake.Options, tls bool, wrap func(http.Handler) http.Handler) *env {
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
	return &env{t: t, bin: st.Build(t, "source-pluggy"), fake: f, srv: srv, cfg: map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
		"base_url": srv.URL, "requests_per_minute": 0, "lookback_days": 7,
	}}
}

// TestRedirectsLeakNothing: a redirect on the auth call or on a data call,
// to another port, to localhost, to [::1], or from https down to plain
// http, reaches nobody: the target never hears a request (so never a key,
// a secret or a body), the stream fails with a system_error naming the
// endpoint and the target, and its state does not move.
func TestRedirectsLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		route  string // the endpoint that redirects
		status int
		host   string // where the catcher listens
		tls    bool
	}{
		{"307 on POST /auth to another port", "POST /auth", 307, "127.0.0.1:0", false},
		{"302 on transactions to localhost", "GET /v2/transactions", 302, "127.0.0.1:0", false},
		{"307 on transactions to [::1]", "GET /v2/transactions", 307, "[::1]:0", false},
		{"308 on items to another port", "GET /items/", 308, "127.0.0.1:0", false},
		{"https base redirected to plain http", "GET /v2/transactions", 302, "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			catcher := st.NewCatcher(t, tc.host)
			target := catcher.URL
			if strings.Contains(tc.name, "localhost") {
				target = strings.Replace(target, "127.0.0.1", "localhost", 1)
			}
			method, path, _ := strings.Cut(tc.route, " ")
			e := newAttackedEnv(t, fake.Options{Seed: 1}, tc.tls, func(h http.Handler) http.Handler {
				return st.Redirect(h, func(r *http.Request) bool {
					return r.Method == method && strings.HasPrefix(r.URL.Path, path)
				}, tc.status, target, true)
			})
			r := e.readWith(fastRetries, e.catalog(true, "transactions"))
			if seen := catcher.Seen(); len(seen) != 0 {
				t.Fatalf("the redirect target received %d requests, first %s %s with headers %v", len(seen), seen[0].Method, seen[0].Path, seen[0].Header)
			}
			if r.Code == 0 {
				t.Fatal("the read succeeded on another host's page")
			}
			if st := r.Statuses()["transactions"]; len(st) == 0 || st[len(st)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", st)
			}
			var named bool
			for _, et := range r.ErrorTraces() {
				if strings.Contains(et.Message, tc.route) && strings.Contains(et.Message, target) {
					named = true
					if et.FailureType != protocol.SystemError {
						t.Errorf("failure type %s, want system_error: %s", et.FailureType, et.Message)
					}
				}
			}
			if !named {
				t.Errorf("no error trace names %s and %s: %+v", tc.route, target, r.ErrorTraces())
			}
			for _, m := range r.Messages {
				if m.State == nil || m.State.Stream == nil || m.State.Stream.StreamDescriptor.Name != "transactions" {
					continue
				}
				var state struct {
					Accounts map[string]json.RawMessage `json:"accounts"`
				}
				st.Must(t, json.Unmarshal(m.State.Stream.StreamState, &state), "transactions state")
				if len(state.Accounts) != 0 {
					t.Errorf("the transactions state moved on another host's page: %s", m.State.Stream.StreamState)
				}
			}
		})
	}
}
