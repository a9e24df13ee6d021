package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
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
	srv := st.ServeHostile(t, f.Handler(), tls, wrap)
	return &env{t: t, bin: st.Build(t, "source-gocardless-bank-data"), fake: f, srv: srv, cfg: map[string]any{
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

// onlyPendingIncomplete asserts a read whose account spent was skipped for
// quota: every stream completes but the full-refresh pending_transactions,
// which ends INCOMPLETE with a transient error naming the account and its
// reset time, and the read exits 1.
func onlyPendingIncomplete(t *testing.T, r *st.Result, spent string) {
	t.Helper()
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	for name, seq := range r.Statuses() {
		want := protocol.Complete
		if name == "pending_transactions" {
			want = protocol.Incomplete
		}
		if seq[len(seq)-1] != want {
			t.Errorf("%s ended %v, want %s", name, seq, want)
		}
	}
	errs := errorsMention(r, "full-refresh", spent, "quota spent until")
	if len(errs) == 0 {
		t.Fatalf("no error names the skipped account %s and its reset: %+v", spent, r.ErrorTraces())
	}
	for _, et := range errs {
		if et.StreamDescriptor != nil && et.FailureType != protocol.TransientError {
			t.Errorf("failure type %s, want transient_error", et.FailureType)
		}
	}
}

// TestQuotaSkipLeavesFullRefreshIncomplete: in full_refresh, every stream
// that could not read an account whose quota is spent ends INCOMPLETE with
// a transient error naming the account and its reset time, never COMPLETE
// with the account's rows missing (an overwrite destination would replace
// them with nothing). The accounts stream still emits the account.
func TestQuotaSkipLeavesFullRefreshIncomplete(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	spent := e.accounts()[1]
	for _, ep := range []string{fake.EndpointDetails, fake.EndpointBalances, fake.EndpointTransactions} {
		e.fake.ExhaustQuota(spent, ep)
	}
	r := e.run(e.catalog(false), nil)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	for _, name := range []string{"accounts", "balances", "transactions", "pending_transactions"} {
		if seq := r.Statuses()[name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Errorf("%s ended %v, want INCOMPLETE", name, seq)
		}
		var named bool
		for _, et := range errorsMention(r, spent, "quota spent until") {
			named = named || et.StreamDescriptor != nil && et.StreamDescriptor.Name == name && et.FailureType == protocol.TransientError
		}
		if !named {
			t.Errorf("%s: no transient error names %s and its reset", name, spent)
		}
	}
	if seq := r.Statuses()["requisitions"]; seq[len(seq)-1] != protocol.Complete {
		t.Errorf("requisitions ended %v; it calls no bank endpoint", seq)
	}
	var emitted bool
	for _, raw := range r.Records()["accounts"] {
		emitted = emitted || strings.Contains(string(raw), spent)
	}
	if !emitted {
		t.Error("the accounts stream dropped the skipped account")
	}
}

// TestQuotaSkipsSaidOnceAStream: a full-refresh stream that skipped
// several accounts (their quota spent) ends with one error that says once
// why a snapshot cannot be complete without them and then names each
// account and its reset, where the explanation was repeated before every
// account (four times over in a read of the fake's accounts).
func TestQuotaSkipsSaidOnceAStream(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	spent := e.accounts()[:2]
	for _, a := range spent {
		for _, ep := range []string{fake.EndpointDetails, fake.EndpointBalances, fake.EndpointTransactions} {
			e.fake.ExhaustQuota(a, ep)
		}
	}
	r := e.run(e.catalog(false), nil)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	const why = "a full-refresh snapshot cannot be complete without"
	for _, name := range []string{"accounts", "balances", "transactions", "pending_transactions"} {
		var found bool
		for _, et := range r.ErrorTraces() {
			if et.StreamDescriptor == nil || et.StreamDescriptor.Name != name {
				continue
			}
			found = true
			if n := strings.Count(et.Message, why); n != 1 || !strings.Contains(et.Message, spent[0]) || !strings.Contains(et.Message, spent[1]) || et.FailureType != protocol.TransientError {
				t.Errorf("%s: %s error says %q %d times, want once, then accounts %s: %s", name, et.FailureType, why, n, strings.Join(spent, ", "), et.Message)
			}
		}
		if !found {
			t.Errorf("%s: no error", name)
		}
	}
	// The tap prints the error once: the cause Airbyte's trace keeps apart
	// (its internal_message, the accounts' errors a line each) says nothing
	// the message does not, so no "cause:" lines repeat it.
	_, stderr, code := st.Exec(t, e.bin, "singer", "--config", e.config(nil))
	if code != 1 || !strings.Contains(string(stderr), "ERROR stream pending_transactions: "+why) || strings.Contains(string(stderr), "cause: ") {
		t.Errorf("tap: exit %d; want pending_transactions's error once, without a cause repeating it:\n%s", code, stderr)
	}
}

// TestAbsurdQuotaResetIsCapped: one answer claiming the account's quota
// resets in 999999999 seconds (2058) is taken as a day, with a WARN; a
// state already holding such a reset is dropped, with a WARN, and the
// account is read.
func TestAbsurdQuotaResetIsCapped(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 10}, false, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/transactions/") {
				w = &absurdReset{ResponseWriter: w}
			}
			h.ServeHTTP(w, r)
		})
	})
	cat := e.catalog(true, "transactions")
	r := e.read(cat)
	first := e.accounts()[0]
	if !warned(r, first, "277777h46m39s", "a day") {
		t.Errorf("no WARN that the absurd reset was capped:\n%s", r.Stdout)
	}
	state := decodeTxState(t, r.FinalStates()["transactions"])
	reset, err := time.Parse(time.RFC3339, state.Quota[first].ResetAt)
	if err != nil || reset.After(e.fake.Now().Add(24*time.Hour+time.Minute)) {
		t.Fatalf("reset %q kept in state; want at most a day away", state.Quota[first].ResetAt)
	}

	// A state written before the cap: reset_at in 2058.
	raw := r.FinalStates()["transactions"]
	var m map[string]any
	st.Must(t, json.Unmarshal(raw, &m), "state")
	m["quota"] = map[string]any{first: map[string]any{"remaining": 0, "reset_at": "2058-01-01T00:00:00Z"}}
	e2 := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	r2 := e2.read(cat, "--state", st.StreamStateFile(t, "transactions", m))
	if !warned(r2, first, "2058-01-01T00:00:00Z") {
		t.Errorf("no WARN about the state's absurd reset")
	}
	if n := e2.fake.Stats().Count(fake.RouteTransactions); n != len(e2.accounts()) {
		t.Errorf("%d transactions calls for %d accounts: the account with the absurd reset was skipped", n, len(e2.accounts()))
	}
}

// absurdReset rewrites the per-account headers of an answer: nothing left,
// reset in 999999999 seconds.
type absurdReset struct {
	http.ResponseWriter
	done bool
}

func (w *absurdReset) WriteHeader(code int) {
	if !w.done {
		w.done = true
		for k := range w.Header() {
			if strings.Contains(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "account-success") {
				delete(w.Header(), k)
			}
		}
		w.Header().Set("X-Ratelimit-Account-Success-Remaining", "0")
		w.Header().Set("X-Ratelimit-Account-Success-Reset", "999999999")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *absurdReset) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// TestInvalidUTF8IsReplacedAndKept: transactions whose text has invalid
// UTF-8 (a lone Latin-1 byte, bytes never valid, a cut-off sequence) come
// out with U+FFFD in its place; every row is kept, every line printed is
// valid UTF-8, and each stream warns once, naming the endpoint.
func TestInvalidUTF8IsReplacedAndKept(t *testing.T) {
	const bad = "caf\xe9 \xff\xfe \xc3("
	field := []byte(`"remittanceInformationUnstructured":"`)
	clean := newEnv(t, fake.Options{TransactionsPerAccount: 15})
	want := len(clean.read(clean.catalog(true, "transactions")).Records()["transactions"])
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 15}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, field, append(append([]byte{}, field...), bad...))
		})
	})
	r := e.read(e.catalog(true, "transactions", "pending_transactions")) // every line valid UTF-8
	if got := len(r.Records()["transactions"]); got != want {
		t.Fatalf("%d rows emitted, %d without invalid UTF-8: rows were dropped", got, want)
	}
	var replaced int
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			Text string `json:"remittanceInformationUnstructured"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "row")
		if strings.HasPrefix(x.Text, "caf\uFFFD \uFFFD \uFFFD(") {
			replaced++
		} else if x.Text != "" {
			t.Fatalf("text %q: invalid bytes not replaced with U+FFFD", x.Text)
		}
	}
	if replaced == 0 {
		t.Fatal("no row carried the replaced text")
	}
	warns := map[string]int{}
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "not valid UTF-8") && strings.Contains(m.Log.Message, "/transactions/") {
			warns[m.Log.Message]++
		}
	}
	var total int
	for _, n := range warns {
		total += n
	}
	if total == 0 || total > 2 {
		t.Errorf("%d WARNs about invalid UTF-8 (%v), want one per stream that read the answers", total, warns)
	}
}

// TestInvalidUTF8OutsideARead: an answer with invalid UTF-8 read outside a
// stream's read (connect's list of institutions) is warned about on
// stderr, saying the text connect shows was replaced, and not that rows
// note it in meta.source_changes once per stream: no row or stream is
// there. The replacement went unsaid (connect's calls carry no logger),
// and the WARN's text outside a stream was a stream's.
func TestInvalidUTF8OutsideARead(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/institutions/") }, st.MarkRows(`"name":"`))
	})
	_, stderr, code := st.Exec(t, e.bin, "connect", "--no-open", "--config", e.configFile(), "--country", "DE")
	var warnings []string
	for line := range strings.Lines(string(stderr)) {
		if strings.Contains(line, "not valid UTF-8") {
			warnings = append(warnings, line)
		}
	}
	if code != 2 || !strings.Contains(string(stderr), st.ReplacedUTF8) {
		t.Fatalf("exit %d, want 2 and the institutions listed with U+FFFD in place of the invalid bytes:\n%s", code, stderr)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "warning: ") || !strings.Contains(warnings[0], "replaced with U+FFFD") ||
		!strings.Contains(warnings[0], "in what the command shows and writes") || !strings.Contains(warnings[0], "route=\"GET /institutions/\"") {
		t.Errorf("want one warning that the text connect shows was replaced, naming the route, got %q", warnings)
	}
	for _, w := range warnings {
		if strings.Contains(w, "source_changes") || strings.Contains(w, "stream") || strings.Contains(w, "row") {
			t.Errorf("the warning of an answer read outside a stream speaks of rows or streams: %s", w)
		}
	}
}

// TestInvalidUTF8RowIsNoted: in every answer the first transaction's
// remittanceInformationUnstructured has invalid UTF-8 and the second's a U+FFFD the bank sent
// itself. The first is noted (REPLACED, SOURCE_INVALID_UTF8) on stdout, in
// Parquet and in PostgreSQL; the second and every other row are not, and
// no row is lost.
func TestInvalidUTF8RowIsNoted(t *testing.T) {
	clean := newEnv(t, fake.Options{TransactionsPerAccount: 15})
	want := len(clean.read(clean.catalog(true, "transactions")).Records()["transactions"])
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 15}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, st.MarkRows(`"remittanceInformationUnstructured":"`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "transactions"), "--parquet-dir", dir, "--postgres", url)
	if got := len(r.Records()["transactions"]); got != want {
		t.Fatalf("%d rows emitted, %d without invalid UTF-8: rows were dropped", got, want)
	}
	st.CheckReplacedNoted(t, r, "transactions", "remittanceInformationUnstructured", []string{"account_id", "transaction_key"}, dir, pgtest.Connect(t, url), "gocardless")
}

// TestInvalidUTF8PendingRowIsNoted: the pending rows come from the
// transactions call the booked stream makes (one call serves both); in
// every answer the first pending row's remittanceInformationUnstructured
// has invalid UTF-8 and the second's a U+FFFD the bank sent itself. The
// pending stream notes the first (REPLACED, SOURCE_INVALID_UTF8) on stdout,
// in Parquet and in PostgreSQL, and no other row, and warns once: the
// note was kept by the stream whose call fetched the bytes, which emitted
// none of those rows, and the pending rows went out with replaced text
// noted nowhere.
func TestInvalidUTF8PendingRowIsNoted(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 15}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") },
			st.MarkRowsAfter(`"pending":[`, `"remittanceInformationUnstructured":"`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	// The booked stream first, so that its call serves the pending rows.
	r := e.read(e.catalog(true, "transactions", "pending_transactions"), "--parquet-dir", dir, "--postgres", url)
	st.CheckPendingNoted(t, r, "remittanceInformationUnstructured", []string{"account_id", "pending_key"}, dir, pgtest.Connect(t, url), "gocardless")
}

// TestInvalidUTF8InAccountDetailsIsNoted: an account's record is its
// metadata with the details answer added as "details"; one account's
// details ownerName has invalid UTF-8, the next one's a U+FFFD the bank
// sent itself, and so on in turn. The first is noted at details.ownerName
// on stdout, in Parquet and in PostgreSQL, and no other row: only the
// record's metadata was looked at, and the details went out with replaced
// text noted nowhere.
func TestInvalidUTF8InAccountDetailsIsNoted(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 3}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/details/") }, st.MarkAnswers(`"ownerName":"`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "accounts"), "--parquet-dir", dir, "--postgres", url)
	st.CheckReplacedNoted(t, r, "accounts", "details.ownerName", []string{"id"}, dir, pgtest.Connect(t, url), "gocardless")
}

// TestInvalidUTF8InKeptDetailsIsNoted: details fetched by one read, in
// which invalid UTF-8 was replaced (one account's ownerName, the next one's
// a U+FFFD the bank sent itself, and so on in turn), are kept in the state
// and emitted again by the next read of the day without a call; that read
// notes them as the first did (at details.ownerName, on stdout, in Parquet and in
// PostgreSQL; no other row), where it emitted the kept U+FFFD with no note:
// no answer of its own had invalid bytes.
func TestInvalidUTF8InKeptDetailsIsNoted(t *testing.T) {
	e, state := readKeepingReplacedDetails(t)
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "accounts"), "--state", st.WriteFile(t, "state.json", state), "--parquet-dir", dir, "--postgres", url)
	st.CheckReplacedNoted(t, r, "accounts", "details.ownerName", []string{"id"}, dir, pgtest.Connect(t, url), "gocardless")
}

// TestInvalidUTF8InKeptDetailsEscapedIsNoted: the state of
// TestInvalidUTF8InKeptDetailsIsNoted written again by an encoder that
// escapes every non-ASCII character, as Python's json.dumps does by default
// (Meltano's state files), so the kept details spell U+FFFD as \ufffd; the
// next read notes the replaced text and warns as for the state as written,
// where it looked for U+FFFD as the character alone and noted nothing.
func TestInvalidUTF8InKeptDetailsEscapedIsNoted(t *testing.T) {
	e, state := readKeepingReplacedDetails(t)
	escaped := escapeNonASCII(state)
	if !bytes.Contains(escaped, []byte(`\ufffd`)) || !bytes.Contains(escaped, []byte(`"replaced_text"`)) {
		t.Fatalf("the state keeps no replaced text to escape: %s", escaped)
	}
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "accounts"), "--state", st.WriteFile(t, "state.json", escaped), "--parquet-dir", dir, "--postgres", url)
	st.CheckReplacedNoted(t, r, "accounts", "details.ownerName", []string{"id"}, dir, pgtest.Connect(t, url), "gocardless")
	if n := st.InvalidUTF8Warns(r)["accounts"]; n != 1 {
		t.Errorf("the accounts stream warned %d times of the replaced text it emitted, want once", n)
	}
}

// readKeepingReplacedDetails reads the accounts of a fake whose details
// answers have, in turn, an ownerName with invalid UTF-8, one with a U+FFFD
// the bank sent itself and a plain one, and returns the fake, serving them
// plain from then on, and the state that read wrote: the rows a read given
// it checks carry the kept details, not details fetched again.
func readKeepingReplacedDetails(t *testing.T) (*env, []byte) {
	t.Helper()
	var served atomic.Bool // after the first read, the answers as the fake sends them
	mark := st.MarkAnswers(`"ownerName":"`)
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 3}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/details/") }, func(b []byte) []byte {
			if served.Load() {
				return b
			}
			return mark(b)
		})
	})
	first := e.read(e.catalog(true, "accounts"))
	served.Store(true)
	state, err := os.ReadFile(first.StateFile(t))
	st.Must(t, err, "state")
	return e, state
}

// escapeNonASCII writes every non-ASCII character of the JSON text b as a
// \uXXXX escape (a surrogate pair past U+FFFF), as Python's json.dumps does
// by default.
func escapeNonASCII(b []byte) []byte {
	var out []byte
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// TestInvalidUTF8InDetailsConnectKeptIsNoted: connect --reconnect reads
// the new accounts' details to match a card (no IBAN), and the moved state
// keeps them for the next read, which emits them without a call. Their
// ownerName had invalid UTF-8: that read notes it at details.ownerName, and
// warns, where it emitted the U+FFFD with no note (connect, reading outside
// a stream, kept no note of which text it replaced).
func TestInvalidUTF8InDetailsConnectKeptIsNoted(t *testing.T) {
	var marking atomic.Bool
	mark := st.MarkRows(`"ownerName":"`)
	e := newAttackedEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/details/") }, func(b []byte) []byte {
			if !marking.Load() {
				return b
			}
			return mark(b)
		})
	})
	first := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", e.configFile(), "--institution", "LHV_LHVBEE22"))
	e.cfg["requisition_ids"] = []string{first.RequisitionID}
	state := e.read(e.catalog(true, "accounts")).StateFile(t)
	e.fake.AdvanceClock(30 * time.Hour) // the kept details are due for a refresh
	e.fake.ExpireRequisition(first.RequisitionID)

	marking.Store(true)
	again := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", e.config(nil), "--reconnect", first.RequisitionID, "--state", state, "--write"))
	marking.Store(false)
	if rc := again.Reconnect; rc == nil || len(rc.Mapping) != 2 {
		t.Fatalf("reconnect %+v, want both accounts matched", rc)
	}

	e.cfg["requisition_ids"] = []string{again.RequisitionID}
	e.fake.ResetStats()
	r := e.read(e.catalog(true, "accounts"), "--state", state)
	if n := e.fake.Stats().Requests[fake.RouteDetails][200]; n != 0 {
		t.Fatalf("the read after reconnect made %d details calls: the details checked are not the ones connect kept", n)
	}
	want := `{"source_changes":[{"field":"details.ownerName","change":"REPLACED","reason":"SOURCE_INVALID_UTF8"}]}`
	replaced := 0
	for _, m := range r.Messages {
		if m.Record == nil || m.Record.Stream != "accounts" || !bytes.Contains(m.Record.Data, []byte(st.ReplacedUTF8)) {
			continue
		}
		replaced++
		if string(m.Record.Meta) != want {
			t.Errorf("account with the replaced text connect kept: meta %s, want %s", m.Record.Meta, want)
		}
	}
	if replaced == 0 {
		t.Fatal("no account carried the replaced text connect kept")
	}
	if n := st.InvalidUTF8Warns(r)["accounts"]; n != 1 {
		t.Errorf("the accounts stream warned %d times of the replaced text it emitted, want once", n)
	}
}

// TestHostileInputsFailClearly: FIFOs, trailing data, an invalid
// destination_sync_mode, a stream twice in a state, GLOBAL mixed with
// STREAM: each a config_error naming the input, never a hang.
func TestHostileInputsFailClearly(t *testing.T) {
	e := newEnv(t, fake.Options{})
	st.CheckHostileInputs(t, e.bin, e.config(nil), e.catalog(true, "transactions"), "transactions")
}

// TestParquetFilesArePrivate: the folders and files --parquet-dir creates
// hold bank data and are the user's only (0700, 0600).
func TestParquetFilesArePrivate(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	dir := filepath.Join(t.TempDir(), "out")
	e.read(e.catalog(true, "accounts", "transactions"), "--parquet-dir", dir)
	if n := st.CheckPrivate(t, dir); n == 0 {
		t.Fatal("no Parquet file written")
	}
}

// TestPluggyStateIsRefused: a source-pluggy state handed to
// source-gocardless-bank-data (same stream name, same version, other fields) is a
// config_error naming the field, not a silent full re-read from start_date.
func TestPluggyStateIsRefused(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	pluggyState := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": map[string]any{
		e.accounts()[0]: map[string]any{"created_at": "2026-01-01T00:00:00Z", "synced_at": "2026-01-02T00:00:00Z"},
	}})
	r := e.run(e.catalog(true, "transactions"), nil, "--state", pluggyState)
	errs := r.ErrorTraces()
	if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, `unknown field "created_at"`) {
		t.Fatalf("exit %d, errors %+v; want a config_error naming the unknown field", r.Code, errs)
	}
	if len(r.Records()) != 0 || len(e.fake.Stats().Requests) != 0 {
		t.Fatal("read or called anything despite a state of another connector")
	}
}

// TestFutureStartDate: a start_date after the API's today fails check with
// a message naming the field, and a read fails both transactions streams
// alike (INCOMPLETE, the same config_error), instead of check passing,
// transactions completing and pending_transactions failing on a call.
func TestFutureStartDate(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	future := map[string]any{"start_date": e.fake.Now().AddDate(0, 0, 3).Format(time.DateOnly)}
	r := st.Run(t, e.bin, "check", "--config", e.config(future))
	st.ValidateProtocol(t, r)
	if len(r.Messages) != 1 || r.Messages[0].ConnectionStatus == nil || r.Messages[0].ConnectionStatus.Status != protocol.StatusFailed ||
		!strings.Contains(r.Messages[0].ConnectionStatus.Message, "config.start_date") {
		t.Fatalf("check with a future start_date: %s", r.Stdout)
	}
	r = e.run(e.catalog(false, "transactions", "pending_transactions"), future)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	for _, name := range []string{"transactions", "pending_transactions"} {
		if seq := r.Statuses()[name]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
			t.Errorf("%s ended %v, want INCOMPLETE like the other", name, seq)
		}
	}
	for _, et := range r.ErrorTraces() {
		if et.StreamDescriptor != nil && (et.FailureType != protocol.ConfigError || !strings.Contains(et.Message, "config.start_date")) {
			t.Errorf("stream %s: %s %q, want a config_error naming config.start_date", et.StreamDescriptor.Name, et.FailureType, et.Message)
		}
	}
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != 0 {
		t.Errorf("%d transactions calls with a future date_from", n)
	}
}

// TestStartDateAfterTheAPIsDayOnAFastClock: the machine's clock a day
// ahead of the API's (as a clock a few seconds fast is, just past UTC
// midnight), a start_date of the machine's day is after the API's today: a
// read of either transactions stream alone fails with the config_error
// naming config.start_date and makes no transactions call, where the
// stream asked before any answer had told the API's day, so
// pending_transactions sent that date_from (GoCardless refused it, 400) and
// transactions read nothing and completed.
func TestStartDateAfterTheAPIsDayOnAFastClock(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5, Now: func() time.Time { return time.Now().Add(-24 * time.Hour) }})
	machineDay := map[string]any{"start_date": time.Now().UTC().Format(time.DateOnly)}
	for _, stream := range []string{"pending_transactions", "transactions"} {
		e.fake.ResetStats()
		r := e.run(e.catalog(false, stream), machineDay)
		if r.Code != 1 || len(r.ErrorTraces()) == 0 {
			t.Fatalf("%s alone: exit %d, errors %v; want exit 1 and the start_date error", stream, r.Code, r.ErrorTraces())
		}
		for _, et := range r.ErrorTraces() {
			if et.FailureType != protocol.ConfigError || !strings.Contains(et.Message, "config.start_date") {
				t.Errorf("%s alone: %s %q, want a config_error naming config.start_date", stream, et.FailureType, et.Message)
			}
		}
		if n := e.fake.Stats().Count(fake.RouteTransactions); n != 0 {
			t.Errorf("%s alone: %d transactions calls with a date_from after the API's today", stream, n)
		}
	}
}
