package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The tests in this file prove docs/reliability.md's table: each runs
// the built binary against the fake with one fault switched on and checks
// how the connector reacts, through everything it prints.

// newHostileEnv is newEnv with the fake's Hostile knobs layered on, and
// wrap (if not nil) around the whole handler.
func newHostileEnv(t *testing.T, o fake.Options, h fake.Hostile, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	f := fake.New(o)
	handler := f.HostileHandler(h)
	if wrap != nil {
		handler = wrap(handler)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-pluggy"), fake: f, srv: srv, cfg: map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
		"base_url": srv.URL, "requests_per_minute": 0, "lookback_days": 7,
	}}
}

// core is the streams these tests read: the others add requests, not
// coverage of the connector's failure handling.
var core = []string{"items", "accounts", "transactions", "categories"}

// fastRetries keeps failure tests quick: one retry per request.
var fastRetries = map[string]any{"max_retries": 1}

// readWith runs a read with config overrides and returns whatever happened.
func (e *env) readWith(over map[string]any, catalog string, extra ...string) *st.Result {
	e.t.Helper()
	args := append([]string{"read", "--config", e.config(over), "--catalog", catalog}, extra...)
	r := st.Run(e.t, e.bin, args...)
	st.ValidateProtocol(e.t, r)
	e.assertNoSecrets(r)
	return r
}

// with returns e reporting to t: a parallel subtest must not fail its parent.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// readFast is a read that must succeed, checked only for its exit code and
// secrets: for tests about which rows arrive, where validating thousands of
// records against their schemas again would only cost time.
func (e *env) readFast(catalog string, extra ...string) *st.Result {
	e.t.Helper()
	r := st.Run(e.t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)...)
	if r.Code != 0 {
		e.t.Fatalf("read exited %d: %v\n%s", r.Code, r.ErrorTraces(), tail(r.Stdout))
	}
	e.assertNoSecrets(r)
	return r
}

// assertNoSecrets fails if stdout or stderr holds the client secret, any
// apiKey the fake issued (whole, or its payload or signature alone, as a
// truncated echo would leave it), or any of extra.
func (e *env) assertNoSecrets(r *st.Result, extra ...string) {
	e.t.Helper()
	needles := append([]string{e.fake.ClientSecret()}, extra...)
	for _, k := range e.fake.IssuedKeys() {
		needles = append(needles, k)
		if parts := strings.Split(k, "."); len(parts) == 3 {
			needles = append(needles, parts[1], parts[2])
		}
	}
	for _, n := range needles {
		for name, out := range map[string][]byte{"stdout": r.Stdout, "stderr": r.Stderr} {
			if n != "" && strings.Contains(string(out), n) {
				e.t.Fatalf("%s contains a secret (%.12s…)", name, n)
			}
		}
	}
}

// failure is what a failed stream must report.
type failure struct {
	ft      protocol.FailureType
	mention []string
}

// expectFailure asserts a read that failed as docs/reliability.md says: exit 1; the
// streams in failed end INCOMPLETE with an ERROR trace of their type naming
// what failed; every stream in complete ends COMPLETE; and a final summary
// ERROR trace names the failed streams.
func expectFailure(t *testing.T, r *st.Result, failed map[string]failure, complete ...string) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, tail(r.Stdout))
	}
	statuses := r.Statuses()
	byStream := map[string][]*protocol.ErrorTrace{}
	var summary *protocol.ErrorTrace
	for _, e := range r.ErrorTraces() {
		if e.StreamDescriptor == nil {
			summary = e
			continue
		}
		byStream[e.StreamDescriptor.Name] = append(byStream[e.StreamDescriptor.Name], e)
	}
	for name, f := range failed {
		seq := statuses[name]
		if len(seq) < 2 || seq[0] != protocol.Started || seq[len(seq)-1] != protocol.Incomplete {
			t.Errorf("stream %s statuses %v, want STARTED … INCOMPLETE", name, seq)
		}
		errs := byStream[name]
		if len(errs) != 1 {
			t.Errorf("stream %s: %d ERROR traces, want 1", name, len(errs))
			continue
		}
		if errs[0].FailureType != f.ft {
			t.Errorf("stream %s: failure_type %s, want %s (%s)", name, errs[0].FailureType, f.ft, errs[0].Message)
		}
		for _, m := range f.mention {
			if !strings.Contains(errs[0].Message, m) {
				t.Errorf("stream %s: error %q does not mention %q", name, errs[0].Message, m)
			}
		}
		if summary == nil || !strings.Contains(summary.Message, name) {
			t.Errorf("no final summary naming %s: %+v", name, summary)
		}
	}
	for _, name := range complete {
		seq := statuses[name]
		if len(seq) < 3 || seq[len(seq)-1] != protocol.Complete {
			t.Errorf("stream %s statuses %v, want … COMPLETE", name, seq)
		}
		if len(byStream[name]) != 0 {
			t.Errorf("stream %s completed but has ERROR traces: %v", name, byStream[name][0].Message)
		}
	}
	if len(failed) > 0 && summary == nil {
		t.Error("no final summary ERROR trace")
	}
	// The summary's type is what the platform acts on: a bug if any
	// stream had one, else the user's to fix if any stream is, else worth
	// retrying.
	want := protocol.TransientError
	for _, f := range failed {
		if f.ft == protocol.SystemError || f.ft == protocol.ConfigError && want != protocol.SystemError {
			want = f.ft
		}
	}
	if summary != nil && len(failed) > 0 && summary.FailureType != want {
		t.Errorf("final summary failure_type %s, want %s from its streams'", summary.FailureType, want)
	}
}

// allTransactions asserts the read emitted every row the fake serves.
func (e *env) allTransactions(r *st.Result) {
	e.t.Helper()
	got := rows(e.t, r.Records()["transactions"])
	served := e.servedIDs()
	for id := range served {
		if _, ok := got[id]; !ok {
			e.t.Fatalf("transaction %s missing (%d of %d read)", id, len(got), len(served))
		}
	}
}

// retryRoute finds the route of a "retrying" LOG.
var retryRoute = regexp.MustCompile(`^[a-z_]+: retrying .*route="([^"]+)"`)

func TestRateLimitedReadWaitsAndCompletes(t *testing.T) {
	for name, f := range map[string]fake.Faults{
		"retry-after seconds":   {Every429: 3, RetryAfterSeconds: 1},
		"retry-after http date": {Every429: 3, RetryAfterSeconds: 1, RetryAfterHTTPDate: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40, PageSize: 20})
			e.fake.SetFaults(f)
			start := time.Now()
			r := e.read(e.catalog(false, "transactions"))
			e.allTransactions(r)
			n := e.fake.Stats().Faults["429"]
			if n == 0 {
				t.Fatal("the fake sent no 429")
			}
			limited := 0
			for _, m := range r.OfType(protocol.TypeTrace) {
				ss := m.Trace.StreamStatus
				if ss == nil || len(ss.Reasons) == 0 {
					continue
				}
				if ss.Status != protocol.Running || ss.Reasons[0].Type != "RATE_LIMITED" || ss.Reasons[0].RateLimited == nil ||
					ss.Reasons[0].RateLimited.QuotaReset < int64(m.Trace.EmittedAt) {
					t.Fatalf("rate-limit status %+v at %v", ss, m.Trace.EmittedAt)
				}
				limited++
			}
			if limited != n {
				t.Fatalf("%d RATE_LIMITED statuses for %d 429s", limited, n)
			}
			// A retry's LOG names its route once: the cause says what
			// failed without the route again in front of it.
			for _, m := range r.OfType(protocol.TypeLog) {
				if route := retryRoute.FindStringSubmatch(m.Log.Message); route != nil && strings.Contains(m.Log.Message, `cause="`+route[1]+": ") {
					t.Errorf("the retry's cause repeats its route: %s", m.Log.Message)
				}
			}
			if d := time.Since(start); d < 900*time.Millisecond && !f.RetryAfterHTTPDate {
				t.Fatalf("a read through %d 429s asking for 1 s took %s: the wait was not honoured", n, d)
			}
		})
	}
}

// TestNotImplementedIsNotRetried: a 501 says the server will never do it,
// so the request is sent once and the stream fails with a system_error.
func TestNotImplementedIsNotRetried(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10})
	e.fake.SetFaults(fake.Faults{Status: map[string]int{"GET /v2/transactions": 501}})
	r := e.readWith(map[string]any{"max_retries": 3}, e.catalog(false, core...))
	expectFailure(t, r, map[string]failure{
		"transactions": {protocol.SystemError, []string{"GET /v2/transactions", "HTTP 501"}},
	}, "items", "accounts", "categories")
	accounts := len(e.fake.AccountIDs(e.fake.ItemIDs()[0]))
	if n := e.fake.Stats().ByRoute["GET /v2/transactions"]; n != accounts {
		t.Errorf("GET /v2/transactions sent %d times for %d accounts: a 501 was retried", n, accounts)
	}
}

// TestRetryAfterDateIsTheServersTime: a 429 whose Retry-After is an HTTP
// date one second after its Date, from a server whose clock is two hours
// ahead of this machine's, is waited out for that second and the read
// completes. The date was read against the local clock: a wait of two
// hours, past max_rate_limit_wait_seconds, and the stream failed.
func TestRetryAfterDateIsTheServersTime(t *testing.T) {
	ahead := time.Now().Add(2 * time.Hour).UTC()
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10}, fake.Hostile{}, func(h http.Handler) http.Handler {
		canned, _ := st.Canned(h, func(r *http.Request) bool { return r.URL.Path == "/categories" }, 1, http.StatusTooManyRequests,
			map[string]string{"Date": ahead.Format(http.TimeFormat), "Retry-After": ahead.Add(time.Second).Format(http.TimeFormat)},
			[]byte(`{"code":429,"message":"Too many requests"}`))
		return canned
	})
	r := e.read(e.catalog(false, "categories"))
	if n := len(r.Records()["categories"]); n == 0 {
		t.Fatal("no categories read")
	}
}

func TestRateLimitWaitOverCapFailsTransient(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10})
	e.fake.SetFaults(fake.Faults{Status: map[string]int{"GET /v2/transactions": 429}, RetryAfterSeconds: 120})
	start := time.Now()
	r := e.readWith(map[string]any{"max_rate_limit_wait_seconds": 2}, e.catalog(false, core...))
	expectFailure(t, r, map[string]failure{
		"transactions": {protocol.TransientError, []string{"HTTP 429", "max_rate_limit_wait_seconds"}},
	}, "items", "accounts", "categories")
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %s: waited instead of failing", d)
	}
}

// TestPacingStaysUnderTheLimit records when each request reaches the fake and
// checks the binary never sent a route faster than requests_per_minute
// allows (a token bucket: a burst of a sixth of the minute, then the rate).
//
// The fake sees arrivals, not sends: a request let through before the
// window it arrives in opened counts in that window too. Each of the
// max_concurrency workers holds at most one such request, so that is the
// slack, exactly; a loaded machine that delays an arrival (the fake's
// goroutine not scheduled) cannot make more of them.
func TestPacingStaysUnderTheLimit(t *testing.T) {
	const rpm = 600 // 10/s, burst 100
	var mu sync.Mutex
	times := map[string][]time.Time{}
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times[r.Method+" "+r.URL.Path] = append(times[r.Method+" "+r.URL.Path], time.Now())
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 400, PageSize: 10}, fake.Hostile{}, record)
	const workers = 4
	e.cfg["requests_per_minute"] = rpm
	e.cfg["max_concurrency"] = workers
	r := e.read(e.catalog(false, "transactions"))
	e.allTransactions(r)
	mu.Lock()
	defer mu.Unlock()
	ts := times["GET /v2/transactions"]
	if len(ts) < 110 {
		t.Fatalf("only %d transaction requests: the test needs more than a burst", len(ts))
	}
	rate, burst := float64(rpm)/60, float64(rpm)/6
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			allowed := burst + rate*ts[j].Sub(ts[i]).Seconds() + workers
			if float64(j-i+1) > allowed {
				t.Fatalf("%d requests within %s: pacing at %d/min allows %.0f", j-i+1, ts[j].Sub(ts[i]), rpm, allowed)
			}
		}
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	for _, c := range []struct {
		name   string
		faults fake.Faults
		over   map[string]any
		kind   string
	}{
		{"500 every 3rd request", fake.Faults{Every500: 3}, nil, "500"},
		{"garbage body every 3rd request", fake.Faults{EveryGarbage: 3}, nil, "garbage"},
		{"connection dropped mid-body every 3rd request", fake.Faults{DropMidBodyEvery: 3}, nil, "drop"},
		{"slow answer every 4th request beats the timeout", fake.Faults{EverySlow: 4, Slow: 5 * time.Second}, map[string]any{"http_timeout_seconds": 1}, "slow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 60, PageSize: 20})
			for k, v := range c.over {
				e.cfg[k] = v
			}
			e.fake.SetFaults(c.faults)
			r := e.read(e.catalog(false, "items", "transactions"))
			e.allTransactions(r)
			if n := e.fake.Stats().Faults[c.kind]; n == 0 {
				t.Fatalf("the fake injected no %s fault", c.kind)
			}
			retried := 0
			for _, m := range r.OfType(protocol.TypeLog) {
				if strings.Contains(m.Log.Message, "retrying") && strings.Contains(m.Log.Message, " attempt=1 ") {
					retried++
				}
			}
			if retried == 0 {
				t.Fatal("no retry was logged")
			}
		})
	}
}

func TestTransientExhaustionFailsTheStream(t *testing.T) {
	for _, c := range []struct {
		name    string
		faults  fake.Faults
		over    map[string]any
		streams []string
		failed  map[string]failure
	}{
		{"5xx on every transactions page", fake.Faults{Status: map[string]int{"GET /v2/transactions": 503}}, nil,
			nil, map[string]failure{"transactions": {protocol.TransientError, []string{"GET /v2/transactions", "HTTP 503", "SERVICE_UNAVAILABLE"}}}},
		{"garbage on every request", fake.Faults{EveryGarbage: 1}, nil,
			[]string{"items", "categories"}, map[string]failure{
				"items":      {protocol.TransientError, []string{"unusable response body"}},
				"categories": {protocol.TransientError, []string{"unusable response body"}},
			}},
		{"connection dropped on every request", fake.Faults{DropMidBodyEvery: 1}, nil,
			[]string{"categories"}, map[string]failure{"categories": {protocol.TransientError, []string{"GET /categories"}}}},
		{"every request too slow", fake.Faults{EverySlow: 1, Slow: 10 * time.Second}, map[string]any{"http_timeout_seconds": 1},
			[]string{"categories"}, map[string]failure{"categories": {protocol.TransientError, []string{"GET /categories", "no answer within 1s", "(config http_timeout_seconds)"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10})
			e.fake.SetFaults(c.faults)
			over := map[string]any{"max_retries": 1}
			for k, v := range c.over {
				over[k] = v
			}
			streams := c.streams
			if streams == nil {
				streams = core
			}
			r := e.readWith(over, e.catalog(false, streams...))
			var complete []string
			for _, s := range []string{"items", "accounts", "transactions", "categories"} {
				if _, bad := c.failed[s]; !bad && (c.streams == nil || contains(c.streams, s)) {
					complete = append(complete, s)
				}
			}
			expectFailure(t, r, c.failed, complete...)
			for _, et := range r.ErrorTraces() {
				for _, route := range []string{"GET /categories", "GET /v2/transactions", "GET /items/{id}"} {
					if strings.Contains(et.Message, route+": "+route) {
						t.Errorf("the error says %s twice: %s", route, et.Message)
					}
				}
			}
			// Bounded: each failing request was sent exactly twice.
			s := e.fake.Stats()
			for _, route := range []string{"GET /categories", "GET /v2/transactions"} {
				if _, bad := c.failed[routeStream(route)]; bad && s.ByRoute[route]%2 != 0 {
					t.Errorf("%s sent %d times: want 2 per request (max_retries 1)", route, s.ByRoute[route])
				}
			}
		})
	}
}

func routeStream(route string) string {
	if route == "GET /v2/transactions" {
		return "transactions"
	}
	return strings.TrimPrefix(route, "GET /")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestClientErrorsFailWithTheAPIsMessage(t *testing.T) {
	for _, c := range []struct {
		name   string
		status map[string]int
		failed map[string]failure
	}{
		{"400 on transactions", map[string]int{"GET /v2/transactions": 400},
			map[string]failure{"transactions": {protocol.SystemError, []string{"GET /v2/transactions", "HTTP 400", "Bad Request"}}}},
		{"404 on accounts", map[string]int{"GET /accounts": 404}, map[string]failure{
			"accounts":     {protocol.SystemError, []string{"GET /accounts", "HTTP 404 ACCOUNT_NOT_FOUND", "account not found"}},
			"transactions": {protocol.SystemError, []string{"HTTP 404 ACCOUNT_NOT_FOUND"}},
		}},
		{"404 on a configured item", map[string]int{"GET /items/{id}": 404}, map[string]failure{
			"items":        {protocol.ConfigError, []string{"config.item_ids", "ITEM_NOT_FOUND"}},
			"transactions": {protocol.ConfigError, []string{"config.item_ids"}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10})
			e.fake.SetFaults(fake.Faults{Status: c.status})
			r := e.readWith(nil, e.catalog(false, core...))
			var complete []string
			for _, s := range []string{"items", "accounts", "transactions", "categories"} {
				if _, bad := c.failed[s]; !bad {
					complete = append(complete, s)
				}
			}
			expectFailure(t, r, c.failed, complete...)
			// Not retried: one request per failing call.
			if s := e.fake.Stats(); s.ByStatus[http.StatusBadRequest]+s.ByStatus[http.StatusNotFound] > 3 {
				t.Errorf("client errors were retried: %v", s.ByStatus)
			}
		})
	}
}

func TestAuthFailuresAreConfigErrors(t *testing.T) {
	t.Run("client keys rejected", func(t *testing.T) {
		e := newEnv(t, fake.Options{Items: 1})
		wrong := "wrong-secret-0123456789"
		r := e.readWith(map[string]any{"client_secret": wrong}, e.catalog(false, core...))
		f := failure{protocol.ConfigError, []string{"client_id/client_secret", "CLIENT_KEYS_UNAUTHORIZED"}}
		expectFailure(t, r, map[string]failure{"items": f, "accounts": f, "transactions": f, "categories": f})
		e.assertNoSecrets(r, wrong)
	})
	t.Run("403 that a fresh key does not cure", func(t *testing.T) {
		// Not the credentials' fault (they just got a key): a denial of the
		// resource, one re-auth in the whole run.
		e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 10})
		e.fake.SetFaults(fake.Faults{Status: map[string]int{"GET /v2/transactions": 403}})
		r := e.readWith(nil, e.catalog(false, core...))
		expectFailure(t, r, map[string]failure{
			"transactions": {protocol.ConfigError, []string{"denied", "HTTP 403"}},
		}, "items", "accounts", "categories")
		for _, et := range r.ErrorTraces() {
			if strings.Contains(et.Message, "client_id") {
				t.Errorf("a denial blamed the credentials: %s", et.Message)
			}
		}
		s := e.fake.Stats()
		accounts := len(e.fake.AccountIDs(e.fake.ItemIDs()[0]))
		// Accounts read at once may each meet the stale key, then the
		// fresh one: two requests each at most.
		if n := s.ByRoute["GET /v2/transactions"]; n > 2*accounts {
			t.Errorf("%d transaction requests for %d accounts: re-auth looped", n, accounts)
		}
		if n := s.ByRoute["POST /auth"]; n != 2 {
			t.Errorf("%d auth calls, want 2: the run's key, and one fresh key to tell a denial from a stale key", n)
		}
	})
}

// TestRevokedKeyIsRenewedOnce: a key revoked mid-read is renewed once and
// the read completes with every row, whether Pluggy refuses the stale key
// with the spec's 403 or with 401 (pluggy-api.md §11.3: "handle both").
func TestRevokedKeyIsRenewedOnce(t *testing.T) {
	for _, c := range []struct {
		name          string
		status, other int
	}{
		{"403", http.StatusForbidden, http.StatusUnauthorized},
		{"401", http.StatusUnauthorized, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 60, PageSize: 20, StaleKey401: c.status == http.StatusUnauthorized})
			e.fake.SetFaults(fake.Faults{RevokeKeyAfter: 4})
			r := e.read(e.catalog(false, core...))
			e.allTransactions(r)
			s := e.fake.Stats()
			if s.Faults["revoke"] != 1 || s.ByStatus[c.status] == 0 || s.ByStatus[c.other] != 0 {
				t.Fatalf("the key was not revoked with %d: %v %v", c.status, s.Faults, s.ByStatus)
			}
			if n := s.ByRoute["POST /auth"]; n != 2 {
				t.Fatalf("%d auth calls, want 2 (the first key, then one after the revocation)", n)
			}
			info := false
			for _, m := range r.OfType(protocol.TypeLog) {
				info = info || strings.Contains(m.Log.Message, "authenticating again")
			}
			if !info {
				t.Fatal("no LOG about authenticating again")
			}
		})
	}
}

func TestLoopGuardsEndBuggyPaging(t *testing.T) {
	for name, f := range map[string]fake.Faults{
		"next repeats the cursor":    {RepeatNextCursor: true},
		"empty pages with a next":    {EmptyPageWithNext: true},
		"both, and slow every other": {RepeatNextCursor: true, EmptyPageWithNext: true, EverySlow: 2, Slow: 50 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 30, PageSize: 10})
			e.fake.SetFaults(f)
			r := e.readWith(nil, e.catalog(false, core...))
			expectFailure(t, r, map[string]failure{
				"transactions": {protocol.SystemError, []string{"GET /v2/transactions", "stopping"}},
			}, "items", "accounts", "categories")
			accounts := len(e.fake.AccountIDs(e.fake.ItemIDs()[0]))
			if n := e.fake.Stats().ByRoute["GET /v2/transactions"]; n > 5*accounts {
				t.Fatalf("%d requests for %d accounts before stopping", n, accounts)
			}
		})
	}
}

func TestOneFailingAccountDoesNotStopTheOthers(t *testing.T) {
	o := fake.Options{Items: 2, TransactionsPerAccount: 40, PageSize: 15}
	probe := fake.New(o)
	bad := probe.AccountIDs(probe.ItemIDs()[1])[1]
	e := newHostileEnv(t, o, fake.Hostile{FailAccount: bad}, nil)
	cat := e.catalog(true, core...)
	r := e.readWith(fastRetries, cat)
	expectFailure(t, r, map[string]failure{
		"transactions": {protocol.TransientError, []string{bad, "HTTP 500"}},
	}, "items", "accounts", "categories")
	// Every other account's rows are out, and the last state covers them.
	got := rows(t, r.Records()["transactions"])
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var x txRow
				_ = json.Unmarshal(raw, &x)
				if _, ok := got[x.ID]; ok == (acct == bad) {
					t.Fatalf("account %s (bad=%v): row %s emitted=%v", acct, acct == bad, x.ID, ok)
				}
			}
		}
	}
	state := lastTxState(t, r)
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			if _, ok := state[acct]; ok == (acct == bad) {
				t.Fatalf("final state has account %s = %v (bad=%v)", acct, ok, acct == bad)
			}
		}
	}
	// The next run, with the account healthy again, reads what was missed.
	e2 := newEnv(t, o)
	e2.cfg["base_url"] = e2.srv.URL
	r2 := e2.read(cat, "--state", r.StateFile(t))
	got2 := rows(t, r2.Records()["transactions"])
	for _, raw := range e.fake.Transactions(bad) {
		var x txRow
		_ = json.Unmarshal(raw, &x)
		if _, ok := got2[x.ID]; !ok {
			t.Fatalf("the resumed run did not read the failed account's row %s", x.ID)
		}
	}
}

// lastTxState decodes the last transactions STATE's accounts.
func lastTxState(t *testing.T, r *st.Result) map[string]json.RawMessage {
	t.Helper()
	var last json.RawMessage
	for _, m := range r.OfType(protocol.TypeState) {
		if m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == "transactions" {
			last = m.State.Stream.StreamState
		}
	}
	var s struct {
		Accounts map[string]json.RawMessage `json:"accounts"`
	}
	if err := json.Unmarshal(last, &s); err != nil {
		t.Fatalf("transactions state %s: %v", last, err)
	}
	return s.Accounts
}

func TestUnknownItemDoesNotStopTheOthers(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 20})
	missing := "00000000-0000-4000-8000-00000000dead"
	r := e.readWith(map[string]any{"item_ids": append(e.fake.ItemIDs(), missing)}, e.catalog(true, core...))
	f := failure{protocol.ConfigError, []string{missing, "config.item_ids"}}
	expectFailure(t, r, map[string]failure{"items": f, "transactions": f, "accounts": f}, "categories")
	if n := len(r.Records()["items"]); n != 2 {
		t.Fatalf("%d items emitted, want the 2 that exist", n)
	}
	e.allTransactions(r)
	if n := len(lastTxState(t, r)); n != 6 {
		t.Fatalf("final state has %d accounts, want 6", n)
	}
}

// TestRowWithoutIDFailsItsAccountOnly: a row without its primary key cannot
// be emitted (a destination could not dedupe it) nor skipped (its account's
// cursor would pass it): its account fails, named with the page, row and
// field, and the others finish.
func TestRowWithoutIDFailsItsAccountOnly(t *testing.T) {
	o := fake.Options{Items: 1, TransactionsPerAccount: 30, PageSize: 10}
	probe := fake.New(o)
	bad := probe.AccountIDs(probe.ItemIDs()[0])[2]
	e := newHostileEnv(t, o, fake.Hostile{NoIDAccount: bad}, nil)
	r := e.readWith(nil, e.catalog(true, core...))
	expectFailure(t, r, map[string]failure{
		"transactions": {protocol.SystemError, []string{bad, "page 1 row 0", "no usable id"}},
	}, "items", "accounts", "categories")
	state := lastTxState(t, r)
	if _, ok := state[bad]; ok || len(state) != 2 {
		t.Fatalf("final state %v: want the 2 healthy accounts only", state)
	}
}

// TestUndocumentedFieldsPassThrough: a field Pluggy adds without notice
// (pluggy-api.md §12) reaches the records of every stream untouched, nested
// values included.
func TestUndocumentedFieldsPassThrough(t *testing.T) {
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 30, PageSize: 10}, fake.Hostile{ExtraField: "brandNewField"}, nil)
	dir := t.TempDir()
	r := e.read(e.catalog(false), "--parquet-dir", dir)
	e.allTransactions(r)
	want := `{"introducedIn":"2027-01","nested":[1,2.50,{"deep":null}],"flag":true}`
	recs := r.Records()
	streams := e.discover().Streams
	for _, s := range streams {
		if len(recs[s.Name]) == 0 {
			t.Errorf("stream %s emitted no record: nothing shows it keeps the field", s.Name)
		}
	}
	for stream, rs := range recs {
		for _, raw := range rs {
			var m map[string]json.RawMessage
			st.Must(t, json.Unmarshal(raw, &m), stream)
			if string(m["brandNewField"]) != want {
				t.Fatalf("%s record lost or changed the undocumented field: %s", stream, raw)
			}
		}
	}
	// The typed sinks have no column for it: each row keeps it, verbatim,
	// in _leftovers (docs/parquet.md, docs/postgres.md).
	for _, s := range streams {
		rows := st.ParquetStrings(t, dir, s.Name, "_leftovers")
		if len(rows) != len(recs[s.Name]) {
			t.Errorf("Parquet %s: %d rows, %d records", s.Name, len(rows), len(recs[s.Name]))
		}
		for _, row := range rows {
			var left map[string]json.RawMessage
			if l := row["_leftovers"]; l != nil {
				st.Must(t, json.Unmarshal([]byte(*l), &left), "_leftovers")
			}
			if string(left["brandNewField"]) != want {
				t.Fatalf("Parquet %s: _leftovers %v, want brandNewField %s", s.Name, row["_leftovers"], want)
			}
		}
	}
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		e.read(e.catalog(false), "--postgres", url)
		conn := pgtest.Connect(t, url)
		for _, s := range streams {
			got := pgRows(t, conn, `SELECT count(*), count(*) FILTER (WHERE _leftovers->'brandNewField' = $1::jsonb) FROM pluggy.`+s.Name, want)
			if n := strings.Split(got[0], "|"); n[0] != fmt.Sprint(len(recs[s.Name])) || n[1] != n[0] {
				t.Errorf("pluggy.%s: %s rows, %s with brandNewField in _leftovers; want %d each", s.Name, n[0], n[1], len(recs[s.Name]))
			}
		}
	})
}

// TestRateLimitResetIsHonoured: Pluggy's 429 says Retry-After: 60 always
// and RateLimit-Reset with the seconds its window really has left, and its
// docs advise waiting RateLimit-Reset (pluggy-api.md, rate limits). With
// the two apart (60 and 1), the read waits about a second per 429 and
// completes; had it honoured Retry-After it would have failed on
// max_rate_limit_wait_seconds (30), or taken a minute per 429.
func TestRateLimitResetIsHonoured(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40, PageSize: 20})
	e.fake.SetFaults(fake.Faults{Every429: 3, RetryAfterSeconds: 60, RateLimitResetSeconds: 1})
	start := time.Now()
	r := e.readWith(map[string]any{"max_rate_limit_wait_seconds": 30}, e.catalog(false, "transactions"))
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, tail(r.Stdout))
	}
	e.allTransactions(r)
	n := e.fake.Stats().Faults["429"]
	if n == 0 {
		t.Fatal("the fake sent no 429")
	}
	for _, m := range r.OfType(protocol.TypeTrace) {
		ss := m.Trace.StreamStatus
		if ss == nil || len(ss.Reasons) == 0 || ss.Reasons[0].RateLimited == nil {
			continue
		}
		if wait := ss.Reasons[0].RateLimited.QuotaReset - int64(m.Trace.EmittedAt); wait < 0 || wait > 5000 {
			t.Fatalf("RATE_LIMITED quota_reset %d ms after the status: want RateLimit-Reset's 1 s, not Retry-After's 60 s", wait)
		}
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 30*time.Second {
		t.Fatalf("a read through %d 429s with RateLimit-Reset 1 s took %s", n, d)
	}
}

func TestBadStateIsAConfigError(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	acct := e.fake.AccountIDs(e.fake.ItemIDs()[0])[0]
	msg := func(state any) []any {
		return []any{map[string]any{"type": "STREAM", "stream": map[string]any{"stream_descriptor": map[string]any{"name": "transactions"}, "stream_state": state}}}
	}
	for _, c := range []struct {
		name    string
		state   any
		mention string
	}{
		{"not JSON", []byte(`[{"type":"STREAM",`), "state"},
		{"a number", []byte(`42`), "JSON array"},
		{"a string state", msg("yesterday"), "must be a JSON object"},
		{"accounts is a list", msg(map[string]any{"version": 1, "accounts": []any{acct}}), "accounts"},
		{"account cursor is a string", msg(map[string]any{"version": 1, "accounts": map[string]any{acct: "2025-01-01"}}), "accounts"},
		{"bad timestamp", msg(map[string]any{"version": 1, "accounts": map[string]any{acct: map[string]any{"created_at": "2025-13-45T99:00:00Z"}}}), "created_at"},
		{"no version", msg(map[string]any{"accounts": map[string]any{}}), "version"},
		{"future version", msg(map[string]any{"version": 99, "accounts": map[string]any{}}), "version"},
		{"unknown stream", []any{map[string]any{"type": "STREAM", "stream": map[string]any{"stream_descriptor": map[string]any{"name": "balances"}, "stream_state": map[string]any{}}}}, "balances"},
		{"STREAM without stream", []any{map[string]any{"type": "STREAM"}}, `"stream"`},
		{"unknown type", []any{map[string]any{"type": "PARTIAL"}}, "PARTIAL"},
		{"invalid UTF-8", []byte("[{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"transactions\xff\"}}}]"), "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.readWith(nil, e.catalog(true, "transactions"), "--state", st.WriteFile(t, "state.json", c.state))
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, c.mention) {
				t.Fatalf("exit %d, errors %+v; want one config_error mentioning %q", r.Code, errs, c.mention)
			}
			if len(r.Records()) != 0 || len(r.OfType(protocol.TypeState)) != 0 {
				t.Fatal("read on despite the bad state")
			}
		})
	}
}

func TestMalformedConfigNamesTheField(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	huge := strings.Repeat("x", 1<<20)
	many := make([]string, 20000)
	for i := range many {
		many[i] = e.fake.ItemIDs()[0]
	}
	valid := func(over map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range e.cfg {
			c[k] = v
		}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	for _, c := range []struct {
		name    string
		config  any
		mention string
	}{
		{"client_id a number", valid(map[string]any{"client_id": 42}), "config.client_id"},
		{"client_secret missing", valid(map[string]any{"client_secret": nil}), "config.client_secret: is required"},
		{"item_ids an object", valid(map[string]any{"item_ids": map[string]any{"a": 1}}), "config.item_ids"},
		{"item_ids empty", valid(map[string]any{"item_ids": []string{}}), "config.item_ids"},
		{"item_ids huge", valid(map[string]any{"item_ids": many}), "config.item_ids"},
		{"lookback_days huge", valid(map[string]any{"lookback_days": 1e12}), "config.lookback_days"},
		{"lookback_days overflows", []byte(strings.Replace(string(mustJSON(valid(nil))), `"lookback_days":7`, `"lookback_days":1e400`, 1)), "config.lookback_days"},
		{"max_concurrency fractional", valid(map[string]any{"max_concurrency": 1.5}), "config.max_concurrency"},
		{"max_retries negative", valid(map[string]any{"max_retries": -1}), "config.max_retries"},
		{"http_timeout_seconds a string", valid(map[string]any{"http_timeout_seconds": "30"}), "config.http_timeout_seconds"},
		{"client_id huge", valid(map[string]any{"client_id": huge}), "config.client_id"},
		{"start_date not a date", valid(map[string]any{"start_date": "yesterday"}), "config.start_date"},
		{"base_url with credentials", valid(map[string]any{"base_url": "https://me:hunter2-password@api.pluggy.ai"}), "config.base_url"},
		{"not an object", []byte(`["client_id"]`), "JSON object"},
		{"null", []byte(`null`), "JSON object"},
		{"trailing data", []byte(`{"client_id":"a"} {"x":1}`), "after its JSON object"},
		{"a field twice", []byte(strings.Replace(string(mustJSON(valid(nil))), `{`, `{"client_secret":"hunter2-password",`, 1)), `"client_secret" twice`},
		{"truncated", []byte(`{"client_id":"a",`), "its JSON ends early: the file is cut short"},
		{"empty", []byte(""), "config.json must be a JSON object: the file holds no JSON value (it is empty)"},
		{"white space and a byte order mark", []byte("\ufeff \n\t"), "the file holds no JSON value"},
		{"invalid UTF-8", []byte("{\"client_id\":\"a\xff\"}"), "UTF-8"},
		{"deeply nested", []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), "JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			path := st.WriteFile(t, "config.json", c.config)
			r := st.Run(t, e.bin, "read", "--config", path, "--catalog", e.catalog(false, "items"))
			st.ValidateProtocol(t, r)
			e.assertNoSecrets(r, "hunter2-password")
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, c.mention) {
				t.Fatalf("exit %d, errors %+v; want one config_error mentioning %q", r.Code, errs, c.mention)
			}
			if len(errs[0].Message) > 4000 {
				t.Fatalf("error message is %d bytes long", len(errs[0].Message))
			}
			ck := st.Run(t, e.bin, "check", "--config", path)
			if ck.Code != 0 || len(ck.Messages) != 1 || ck.Messages[0].ConnectionStatus == nil ||
				ck.Messages[0].ConnectionStatus.Status != protocol.StatusFailed || !strings.Contains(ck.Messages[0].ConnectionStatus.Message, c.mention) {
				t.Fatalf("check: exit %d %s", ck.Code, tail(ck.Stdout))
			}
			e.assertNoSecrets(ck, "hunter2-password")
		})
	}
	t.Run("unknown key is a warning naming it", func(t *testing.T) {
		r := e.readWith(map[string]any{"lookbak_days": 3, "_comment": "ignored silently"}, e.catalog(false, "items"))
		if r.Code != 0 {
			t.Fatalf("exit %d: %v", r.Code, r.ErrorTraces())
		}
		warned := 0
		for _, m := range r.OfType(protocol.TypeLog) {
			if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, `"lookbak_days"`) {
				warned++
			}
			if strings.Contains(m.Log.Message, "_comment") {
				t.Errorf("a _-prefixed key was reported: %s", m.Log.Message)
			}
		}
		if warned != 1 {
			t.Fatalf("%d WARN logs naming lookbak_days, want 1", warned)
		}
	})
}

func TestMalformedCatalogNamesTheField(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	stream := func(over map[string]any) map[string]any {
		s := map[string]any{
			"stream":    map[string]any{"name": "items", "json_schema": map[string]any{}, "supported_sync_modes": []string{"full_refresh"}},
			"sync_mode": "full_refresh", "destination_sync_mode": "overwrite",
		}
		for k, v := range over {
			if v == nil {
				delete(s, k)
			} else {
				s[k] = v
			}
		}
		return s
	}
	cat := func(streams ...any) map[string]any { return map[string]any{"streams": streams} }
	for _, c := range []struct {
		name    string
		catalog any
		mention string
	}{
		{"streams an object", map[string]any{"streams": map[string]any{}}, "streams"},
		{"streams empty", cat(), `"streams" is empty`},
		{"stream a string", cat("items"), "catalog.streams[0]"},
		{"sync_mode a number", cat(stream(map[string]any{"sync_mode": 5})), "catalog.streams[0] is not a configured stream: sync_mode"},
		{"stream name missing", cat(stream(map[string]any{"stream": map[string]any{"json_schema": map[string]any{}}})), "catalog.streams[0].stream.name"},
		{"stream name a number", cat(stream(map[string]any{"stream": map[string]any{"name": 7}})), "stream.name"},
		{"sync_mode missing", cat(stream(map[string]any{"sync_mode": nil})), `catalog.streams[0].sync_mode is missing; set it to one of the sync modes stream "items" supports: full_refresh`},
		{"stream twice", cat(stream(nil), stream(nil)), "configured twice"},
		{"invalid UTF-8", []byte("{\"streams\":[{\"stream\":{\"name\":\"items\xff\"}}]}"), "UTF-8"},
		{"not JSON", []byte(`{"streams": [`), "its JSON ends early: the file is cut short"},
		{"empty", []byte(""), "the file holds no JSON value (it is empty)"},
		{"a field twice", []byte(`{"streams":[{"stream":{"name":"items","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite","sync_mode":"incremental"}]}`),
			`holds the field "streams[0].sync_mode" twice; remove one of them`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.readWith(nil, st.WriteFile(t, "catalog.json", c.catalog))
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, c.mention) {
				t.Fatalf("exit %d, errors %+v; want one config_error mentioning %q", r.Code, errs, c.mention)
			}
		})
	}
	t.Run("unknown keys are tolerated", func(t *testing.T) {
		s := stream(map[string]any{"x_future_field": map[string]any{"a": 1}})
		s["stream"].(map[string]any)["is_file_based"] = false
		r := e.readWith(nil, st.WriteFile(t, "catalog.json", map[string]any{"streams": []any{s}, "extra": true}))
		if r.Code != 0 || len(r.Records()["items"]) != 1 {
			t.Fatalf("exit %d, %d items: %v", r.Code, len(r.Records()["items"]), r.ErrorTraces())
		}
	})
}

// TestSecretsNeverPrinted runs every failure scenario through check and read
// and greps everything printed for the client secret and every apiKey the
// fake issued.
func TestSecretsNeverPrinted(t *testing.T) {
	o := fake.Options{Items: 1, TransactionsPerAccount: 10, ClientSecret: "cs-Very$ecret/Value+1=="}
	echoAll := map[string]int{"GET /v2/transactions": 400, "GET /accounts": 404, "GET /categories": 500}
	for _, c := range []struct {
		name    string
		faults  fake.Faults
		hostile fake.Hostile
		over    map[string]any
	}{
		{"healthy", fake.Faults{}, fake.Hostile{}, nil},
		{"wrong secret", fake.Faults{}, fake.Hostile{}, map[string]any{"client_secret": "cs-Wrong$ecret/Value+2=="}},
		{"revoked key", fake.Faults{RevokeKeyAfter: 2}, fake.Hostile{}, nil},
		{"key rejected for good", fake.Faults{Status: map[string]int{"GET /v2/transactions": 403}}, fake.Hostile{}, nil},
		{"5xx exhausted", fake.Faults{Every500: 1}, fake.Hostile{}, fastRetries},
		{"429 over the cap", fake.Faults{Every429: 1, RetryAfterSeconds: 600}, fake.Hostile{}, map[string]any{"max_rate_limit_wait_seconds": 1}},
		{"garbage bodies", fake.Faults{EveryGarbage: 1}, fake.Hostile{}, fastRetries},
		{"dropped connections", fake.Faults{DropMidBodyEvery: 1}, fake.Hostile{}, fastRetries},
		{"errors echo the request and the key", fake.Faults{}, fake.Hostile{Echo: echoAll}, fastRetries},
		{"auth error echoes the secret", fake.Faults{}, fake.Hostile{Echo: map[string]int{"POST /auth": 401}}, nil},
		{"auth 5xx echoes the secret", fake.Faults{}, fake.Hostile{Echo: map[string]int{"POST /auth": 502}}, fastRetries},
		{"secret in a wrong-typed field", fake.Faults{}, fake.Hostile{}, map[string]any{"client_secret": []any{"cs-Very$ecret/Value+1==", 1}}},
		{"secret too long", fake.Faults{}, fake.Hostile{}, map[string]any{"client_secret": strings.Repeat("cs-Very$ecret/Value+1==", 40)}},
		{"secret in an unknown key", fake.Faults{}, fake.Hostile{}, map[string]any{"clientSecret": "cs-Very$ecret/Value+1=="}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newHostileEnv(t, o, c.hostile, nil)
			e.fake.SetFaults(c.faults)
			extra := []string{}
			if s, ok := c.over["client_secret"].(string); ok {
				extra = append(extra, s)
			}
			cfg := e.config(c.over)
			for _, args := range [][]string{
				{"check", "--config", cfg},
				{"discover", "--config", cfg},
				{"read", "--config", cfg, "--catalog", e.catalog(false, core...)},
			} {
				r := st.Run(t, e.bin, args...)
				st.ValidateProtocol(t, r)
				e.assertNoSecrets(r, extra...)
			}
			// Scenarios past POST /auth must have had keys to leak.
			if _, badKeys := c.over["client_secret"]; !badKeys && c.hostile.Echo["POST /auth"] == 0 && len(e.fake.IssuedKeys()) == 0 {
				t.Fatal("the scenario never authenticated: it proves nothing about apiKeys")
			}
		})
	}
}

// TestKilledReadResumesWithoutLoss kills the binary (SIGKILL, no chance to
// flush) at several points of a slow read, then resumes from the last STATE
// it printed: the two runs together hold every row the fake serves.
func TestKilledReadResumesWithoutLoss(t *testing.T) {
	o := fake.Options{Items: 3, AccountsPerItem: 3, TransactionsPerAccount: 60, PageSize: 10, Latency: 5 * time.Millisecond}
	for _, at := range []killPoint{{Records: 1}, {States: 1}, {States: 4}} {
		t.Run(at.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, o)
			e.cfg["max_concurrency"] = 2
			cat := e.catalog(true, "transactions")
			first := e.startRead(cat)
			first.WaitFor(t, at)
			first.Kill(t)
			out := first.Wait(t)
			r1 := st.ParsePartial(t, out)
			second := e.readFast(cat, "--state", r1.StateFile(t))
			seen := rows(t, r1.Records()["transactions"])
			for id, row := range rows(t, second.Records()["transactions"]) {
				seen[id] = row
			}
			served := e.servedIDs()
			for id := range served {
				if _, ok := seen[id]; !ok {
					t.Fatalf("row %s lost across the kill (first run %d rows, second %d)", id, len(r1.Records()["transactions"]), len(second.Records()["transactions"]))
				}
			}
			if at.States >= 4 && len(second.Records()["transactions"]) >= len(served) {
				t.Errorf("the resumed run re-read everything (%d rows): the state was not used", len(second.Records()["transactions"]))
			}
		})
	}
}

// TestTerminatedReadEndsCleanly sends SIGTERM (and SIGINT) mid-read: the
// binary stops reading, flushes, emits its last correct state, marks the
// stream INCOMPLETE with an ERROR trace and exits 1; resuming from what it
// printed loses nothing.
func TestTerminatedReadEndsCleanly(t *testing.T) {
	// The signal goes after the second state; the 7 accounts left take
	// ~400 ms more at 20 ms a page, two at a time, so the read cannot end
	// on its own before the signal even on a loaded machine (at 5 ms a
	// page the gap was ~100 ms).
	o := fake.Options{Items: 3, AccountsPerItem: 3, TransactionsPerAccount: 60, PageSize: 10, Latency: 20 * time.Millisecond}
	for sig, signal := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT} {
		t.Run("SIG"+sig, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, o)
			e.cfg["max_concurrency"] = 2
			cat := e.catalog(true, "items", "transactions")
			p := e.startRead(cat)
			p.WaitFor(t, killPoint{States: 2})
			p.Signal(t, signal)
			out := p.Wait(t)
			if p.Code() != 1 {
				t.Fatalf("exit %d after SIG%s, want 1", p.Code(), sig)
			}
			if len(out) == 0 || out[len(out)-1] != '\n' {
				t.Fatal("output does not end with a whole line: not flushed")
			}
			r := st.ParsePartial(t, out)
			st.ValidateProtocol(t, r)
			e.assertNoSecrets(r)
			seq := r.Statuses()["transactions"]
			if seq[len(seq)-1] != protocol.Incomplete {
				t.Fatalf("transactions statuses %v, want … INCOMPLETE", seq)
			}
			var streamErr, summary *protocol.ErrorTrace
			for _, e := range r.ErrorTraces() {
				if e.StreamDescriptor != nil && e.StreamDescriptor.Name == "transactions" {
					streamErr = e
				} else if e.StreamDescriptor == nil {
					summary = e
				}
			}
			if streamErr == nil || streamErr.FailureType != protocol.TransientError || !strings.Contains(streamErr.Message, "interrupted") {
				t.Fatalf("transactions error %+v, want a transient_error saying it was interrupted", streamErr)
			}
			if summary == nil || !strings.Contains(summary.Message, "interrupted") {
				t.Fatalf("final trace %+v", summary)
			}
			if len(streamErr.Message) > 1000 {
				t.Fatalf("interruption message is %d bytes long", len(streamErr.Message))
			}
			// Rows of accounts cut short may follow the last state: no state
			// covers them, so the next run reads them again. The states
			// printed are valid input that loses nothing.
			second := e.readFast(e.catalog(true, "transactions"), "--state", r.StateFile(t))
			seen := rows(t, r.Records()["transactions"])
			for id, row := range rows(t, second.Records()["transactions"]) {
				seen[id] = row
			}
			for id := range e.servedIDs() {
				if _, ok := seen[id]; !ok {
					t.Fatalf("row %s lost across SIG%s", id, sig)
				}
			}
		})
	}
}

// TestServerClockSkew: the fake's clock runs 3 hours behind, so every key it
// issues has an exp already past by this machine's clock. The connector
// applies the key's lifetime (exp - iat) to its own clock instead of
// re-authenticating before every request.
func TestServerClockSkew(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 40, PageSize: 10, Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }})
	r := e.read(e.catalog(false, core...))
	e.allTransactions(r)
	if n := e.fake.Stats().ByRoute["POST /auth"]; n != 1 {
		t.Fatalf("%d auth calls, want 1", n)
	}
}
