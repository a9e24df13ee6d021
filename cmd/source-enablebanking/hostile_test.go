package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests play the attacker who controls a DNS entry, a proxy or the
// API's front end (issue #18): the fake answers as Enable Banking would,
// except for what the wrapper changes.

// newAttackedEnv is newEnv with wrap in front of the fake, served over
// https with a test certificate the binary trusts when tls is set.
func newAttackedEnv(t *testing.T, o fake.Options, tls bool, wrap func(h http.Handler) http.Handler) *env {
	t.Helper()
	f := fake.New(o)
	srv := st.ServeHostile(t, f.Handler(), tls, wrap)
	return &env{t: t, bin: st.Build(t, "source-enablebanking"), fake: f, srv: srv, cfg: map[string]any{
		"application_id": f.ApplicationID(), "private_key": f.PrivateKeyPEM(), "session_ids": f.SessionIDs(),
		"base_url": srv.URL, "start_date": "2000-01-01", "lookback_days": 7, "include_pending": true,
	}}
}

func isTransactions(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/accounts/") && strings.HasSuffix(r.URL.Path, "/transactions")
}

// TestRedirectsLeakNothing: a redirect of the session lookup or of a
// transactions call, to another port or from https down to plain http,
// reaches nobody (never the signed token), fails the stream with a
// system_error naming the endpoint and the target, and moves no state.
func TestRedirectsLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		match  func(*http.Request) bool
		status int
		tls    bool
	}{
		{"307 on the session lookup", func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/sessions/") }, 307, false},
		{"302 on transactions to another port", isTransactions, 302, false},
		{"https base redirected to plain http", isTransactions, 308, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			catcher := st.NewCatcher(t, "127.0.0.1:0")
			e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 5}, tc.tls, func(h http.Handler) http.Handler {
				return st.Redirect(h, tc.match, tc.status, catcher.URL, true)
			})
			r := e.run(e.catalog(true, "transactions"), nil)
			if seen := catcher.Seen(); len(seen) != 0 {
				t.Fatalf("the redirect target received %d requests, first %s %s with headers %v", len(seen), seen[0].Method, seen[0].Path, seen[0].Header)
			}
			if r.Code == 0 {
				t.Fatal("the read succeeded on another host's page")
			}
			if seq := r.Statuses()["transactions"]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", seq)
			}
			var named bool
			for _, et := range r.ErrorTraces() {
				named = named || et.FailureType == protocol.SystemError && strings.Contains(et.Message, "redirect to "+catcher.URL)
			}
			if !named {
				t.Errorf("no system_error names the target %s: %+v", catcher.URL, r.ErrorTraces())
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

// TestHugeBodiesStayInBudget: transactions answered with 200 MB bodies
// (announced or not) or endless ones: the stream fails naming the
// endpoint and the oversized body, and the process stays far from a 512
// MiB pod's limit.
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
			e := newAttackedEnv(t, fake.Options{Sessions: 2, AccountsPerSession: 2, TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
				return st.Bomb(h, isTransactions, tc.size, tc.announce)
			})
			r := e.run(e.catalog(true, "transactions"), nil)
			t.Logf("peak RSS %d MiB", r.MaxRSS>>20)
			if r.MaxRSS > (512<<20)*3/4 {
				t.Errorf("peak RSS %d MiB; a 512 MiB pod needs headroom", r.MaxRSS>>20)
			}
			if seq := r.Statuses()["transactions"]; len(seq) == 0 || seq[len(seq)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", seq)
			}
			var named bool
			for _, et := range r.ErrorTraces() {
				named = named || strings.Contains(et.Message, "/transactions") && strings.Contains(et.Message, "far larger than any real")
			}
			if !named {
				t.Errorf("no error names the endpoint and the oversized body: %+v", r.ErrorTraces())
			}
		})
	}
}

// TestInvalidUTF8IsReplacedAndKept: remittance text with invalid UTF-8
// comes out with U+FFFD in its place, every row kept, every line valid
// UTF-8, and one WARN naming the endpoint.
func TestInvalidUTF8IsReplacedAndKept(t *testing.T) {
	const bad = "caf\xe9 \xff\xfe \xc3("
	field := []byte(`"remittance_information":["`)
	clean := newEnv(t, fake.Options{TransactionsPerAccount: 12})
	want := len(clean.read(clean.catalog(true, "transactions")).Records()["transactions"])
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 12}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, isTransactions, func(b []byte) []byte {
			return bytes.ReplaceAll(b, field, append(append([]byte{}, field...), bad...))
		})
	})
	r := e.read(e.catalog(true, "transactions")) // every line valid UTF-8
	if got := len(r.Records()["transactions"]); got != want {
		t.Fatalf("%d rows emitted, %d without invalid UTF-8: rows were dropped", got, want)
	}
	var replaced int
	for _, raw := range r.Records()["transactions"] {
		if strings.Contains(string(raw), "caf\uFFFD \uFFFD \uFFFD(") {
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatal("no row carried the replaced text")
	}
	var warns int
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "not valid UTF-8") && strings.Contains(m.Log.Message, "transactions") {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d WARNs about invalid UTF-8, want one", warns)
	}
}

// TestInvalidUTF8RowIsNoted: in every answer the first transaction's
// remittance_information[0] has invalid UTF-8 and the second's a U+FFFD the bank sent
// itself. The first is noted (REPLACED, SOURCE_INVALID_UTF8) on stdout, in
// Parquet and in PostgreSQL; the second and every other row are not, and
// no row is lost.
func TestInvalidUTF8RowIsNoted(t *testing.T) {
	clean := newEnv(t, fake.Options{TransactionsPerAccount: 12})
	want := len(clean.read(clean.catalog(true, "transactions")).Records()["transactions"])
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 12}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, isTransactions, st.MarkRows(`"remittance_information":["`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "transactions"), "--parquet-dir", dir, "--postgres", url)
	if got := len(r.Records()["transactions"]); got != want {
		t.Fatalf("%d rows emitted, %d without invalid UTF-8: rows were dropped", got, want)
	}
	st.CheckReplacedNoted(t, r, "transactions", "remittance_information[0]", []string{"account_key", "transaction_key"}, dir, pgtest.Connect(t, url), "enablebanking")
}

// TestInvalidUTF8PendingRowIsNoted: the pending rows come from the
// transactions calls the booked stream makes (one call serves both); in
// every answer the remittance_information[0] of the pending row after the
// first has invalid UTF-8 and the next one's a U+FFFD the bank sent
// itself. The pending stream notes the first (REPLACED,
// SOURCE_INVALID_UTF8) on stdout, in Parquet and in PostgreSQL, and no
// other row, and warns once: the note was kept by the stream whose call
// fetched the bytes, which emitted none of those rows, and the pending
// rows went out with replaced text noted nowhere.
func TestInvalidUTF8PendingRowIsNoted(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 12}, false, func(h http.Handler) http.Handler {
		// The fake writes a row's members in name order, status after
		// remittance_information: the marks go in the pending rows
		// that follow the first.
		return st.Rewrite(h, isTransactions, st.MarkRowsAfter(`"status":"PDNG"`, `"remittance_information":["`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	// The booked stream first, so that its calls serve the pending rows.
	r := e.read(e.catalog(true, "transactions", "pending_transactions"), "--parquet-dir", dir, "--postgres", url)
	st.CheckPendingNoted(t, r, "remittance_information[0]", []string{"account_key", "pending_key"}, dir, pgtest.Connect(t, url), "enablebanking")
}

// TestInvalidUTF8InKeptDetailsIsNoted: details fetched by one read, in
// which invalid UTF-8 was replaced (one account's details, the next one's
// a U+FFFD the bank sent itself, and so on in turn), are kept in the state
// and emitted again by the next read of the day without a call; that read
// notes them as the first did (at details, on stdout, in Parquet and in
// PostgreSQL; no other row), where it emitted the kept U+FFFD with no note:
// no answer of its own had invalid bytes.
func TestInvalidUTF8InKeptDetailsIsNoted(t *testing.T) {
	var served atomic.Bool // after the first read, the answers as the fake sends them
	mark := st.MarkAnswers(`"details":"`)
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 3}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/details") }, func(b []byte) []byte {
			if served.Load() {
				return b
			}
			return mark(b)
		})
	})
	first := e.read(e.catalog(true, "accounts"))
	served.Store(true)
	dir, url := t.TempDir(), pgtest.DB(t)
	// Details fetched again would hold no replaced text, which the check
	// refuses: the rows it checks are the state's.
	r := e.read(e.catalog(true, "accounts"), "--state", first.StateFile(t), "--parquet-dir", dir, "--postgres", url)
	st.CheckReplacedNoted(t, r, "accounts", "details", []string{"account_key"}, dir, pgtest.Connect(t, url), "enablebanking")
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

// TestQuotaSkipLeavesFullRefreshIncomplete: in full_refresh, every stream
// that could not read an account whose daily limit is spent ends
// INCOMPLETE with a transient error naming the account and its reset,
// never COMPLETE with the account's rows missing (an overwrite
// destination would replace them with nothing).
func TestQuotaSkipLeavesFullRefreshIncomplete(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	spent := e.accounts()[1]
	hash := e.fake.IdentificationHash(spent)
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
		for _, et := range r.ErrorTraces() {
			named = named || et.StreamDescriptor != nil && et.StreamDescriptor.Name == name && et.FailureType == protocol.TransientError &&
				strings.Contains(et.Message, hash) && strings.Contains(et.Message, "limit spent until")
		}
		if !named {
			t.Errorf("%s: no transient error names %s and its reset: %+v", name, hash, r.ErrorTraces())
		}
	}
}

// TestForeignOrAbsurdStateIsHandled: a source-pluggy state is a
// config_error naming the unknown field, not a silent full re-read; a
// state whose limit books claim a refusal until 2058 has it dropped with
// a WARN, and the account is read.
func TestForeignOrAbsurdStateIsHandled(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cat := e.catalog(true, "transactions")
	hash := e.fake.IdentificationHash(e.accounts()[0])
	pluggy := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": map[string]any{
		hash: map[string]any{"created_at": "2026-01-01T00:00:00Z", "synced_at": "2026-01-02T00:00:00Z"},
	}})
	r := e.run(cat, nil, "--state", pluggy)
	if errs := r.ErrorTraces(); r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, `unknown field "created_at"`) {
		t.Fatalf("exit %d, errors %+v; want a config_error naming the unknown field", r.Code, errs)
	}
	if len(r.Records()) != 0 {
		t.Fatal("records emitted despite a state of another connector")
	}

	absurd := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": map[string]any{},
		"quota": map[string]any{hash: map[string]any{"blocked_until": "2058-01-01T00:00:00Z"}}})
	r = e.read(cat, "--state", absurd)
	if !r.Warned(hash, "2058-01-01T00:00:00Z") {
		t.Error("no WARN about the state's absurd refusal")
	}
	if n := len(byUID(t, r.Records()["transactions"])[e.accounts()[0]]); n == 0 {
		t.Error("the account with the absurd refusal was not read")
	}
}

// TestMisfitKeyFieldsKeepTheRow: a booked row whose date, status,
// credit_debit_indicator or transaction_amount is not of the type the
// schema declares (a number for a date, a string for the amount object) is
// a value no schema expected: the row is emitted as sent, keyed and dated
// by its other fields, with one WARN naming the field, and Parquet keeps
// the value in _leftovers. It used to fail the account ("not a transaction
// object"), losing every row of it.
func TestMisfitKeyFieldsKeepTheRow(t *testing.T) {
	misfits := []struct {
		field, value string
		text         bool // a string column, which may hold the value as its text
	}{
		{"booking_date", `20250101`, false},
		{"status", `1`, true},
		{"credit_debit_indicator", `true`, true},
		{"transaction_amount", `"12.50 EUR"`, false},
		{"value_date", `{"d":7}`, false},
	}
	e := newAttackedEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, isTransactions, func(b []byte) []byte {
			var page map[string]json.RawMessage
			var rows []map[string]json.RawMessage
			if json.Unmarshal(b, &page) != nil || json.Unmarshal(page["transactions"], &rows) != nil {
				return b
			}
			i := 0
			for _, row := range rows {
				if i < len(misfits) && string(row["status"]) == `"BOOK"` {
					row[misfits[i].field] = json.RawMessage(misfits[i].value)
					i++
				}
			}
			page["transactions"], _ = json.Marshal(rows)
			out, _ := json.Marshal(page)
			return out
		})
	})
	dir := t.TempDir()
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--parquet-dir", dir)
	st.ValidateProtocol(t, r)
	e.noSecrets(r)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v", r.Code, errorTexts(r))
	}
	type keyed struct {
		AccountUID string `json:"account_uid"`
		AccountKey string `json:"account_key"`
		Key        string `json:"transaction_key"`
	}
	count, keys := map[string]int{}, map[string]bool{}
	for _, raw := range r.Records()["transactions"] {
		var x keyed
		st.Must(t, json.Unmarshal(raw, &x), "record")
		count[x.AccountUID]++
		if k := x.AccountKey + "|" + x.Key; x.Key == "" || keys[k] {
			t.Errorf("key %q empty or twice", k)
		} else {
			keys[k] = true
		}
	}
	for _, a := range e.accounts() {
		if want := len(e.fake.Booked(a)); count[a] != want {
			t.Errorf("account %s: %d booked rows, the fake booked %d", a, count[a], want)
		}
	}
	rows := st.ParquetStrings(t, dir, "transactions", "_leftovers", "status", "credit_debit_indicator")
	for _, m := range misfits {
		warns := 0
		for _, l := range r.OfType(protocol.TypeLog) {
			if l.Log.Level == protocol.LevelWarn && strings.Contains(l.Log.Message, m.field) && strings.Contains(l.Log.Message, "kept as sent") {
				warns++
			}
		}
		if warns != 1 {
			t.Errorf("%d WARNs naming %s, want 1", warns, m.field)
		}
		found := false
		for _, row := range rows {
			if l := row["_leftovers"]; l != nil && strings.Contains(*l, `"`+m.field+`":`+m.value) || m.text && row[m.field] != nil && *row[m.field] == m.value {
				found = true
			}
		}
		if !found {
			t.Errorf("no Parquet row keeps %s %s", m.field, m.value)
		}
	}
}

// TestAPIRateLimitOnASessionIsWaitedOut: Enable Banking's own limits are
// not published (the reference, §5: UNCERTAIN), so a 429 without a code on
// a call that does not reach a bank (the session lookup) is the API's, not
// an account's daily limit: it is waited out and retried, and the read
// completes with every row.
func TestAPIRateLimitOnASessionIsWaitedOut(t *testing.T) {
	var served interface{ Load() int32 }
	e := newAttackedEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 10}, false, func(h http.Handler) http.Handler {
		c, n := st.Canned(h, func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/sessions/") }, 1, http.StatusTooManyRequests,
			map[string]string{"Retry-After": "1"}, []byte(`{"code":429,"message":"Too many requests","detail":null}`))
		served = n
		return c
	})
	r := e.read(e.catalog(false, "transactions"))
	if served.Load() != 1 {
		t.Fatalf("the 429 was served %d times", served.Load())
	}
	got := byUID(t, r.Records()["transactions"])
	for _, a := range e.accounts() {
		if len(got[a]) != len(e.fake.Booked(a)) {
			t.Errorf("account %s: %d rows, the fake booked %d", a, len(got[a]), len(e.fake.Booked(a)))
		}
	}
}

// TestTokenSignatureEchoedAloneIsMasked: a front end that refuses a call
// quoting only the token's signature ("invalid signature …"), the part
// of the JWT that is secret (its header and claims are predictable), gets
// it masked in everything the run prints, as the whole token is.
func TestTokenSignatureEchoedAloneIsMasked(t *testing.T) {
	var sigs sync.Map
	e := newAttackedEnv(t, fake.Options{TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isTransactions(r) {
				h.ServeHTTP(w, r)
				return
			}
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			sigs.Store(sig, true)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"message":"invalid signature %s","code":422}`, sig)
		})
	})
	r := e.run(e.catalog(true, "transactions"), nil)
	out := string(r.Stdout) + string(r.Stderr)
	if !strings.Contains(out, "invalid signature") {
		t.Fatalf("the refusal was not reached:\n%s", st.Tail(r.Stdout))
	}
	n := 0
	sigs.Range(func(k, _ any) bool {
		n++
		if strings.Contains(out, k.(string)) {
			t.Errorf("the output holds the token's signature %.12s…", k)
		}
		return true
	})
	if n == 0 {
		t.Fatal("no transactions call was made")
	}
}
