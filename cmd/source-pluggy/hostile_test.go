package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
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
	srv := st.ServeHostile(t, f.Handler(), tls, wrap)
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

// podLimit is the memory limit of the README's Kubernetes example: a hostile
// or broken server must never push a read past it.
const podLimit = 512 << 20

// TestHugeBodiesStayInBudget: every account's transactions answered with a
// 200 MB page (Content-Length announced or not) or an endless one, at the
// default concurrency: the stream fails with an error naming the endpoint
// and the oversized page (a system_error, or a transient one when the
// bodies read at once passed the process's budget), and the process never
// comes near the pod's memory limit.
func TestHugeBodiesStayInBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int64
		announce bool
	}{
		{"200 MB pages, announced", 200 << 20, true},
		{"200 MB pages, chunked", 200 << 20, false},
		{"endless pages", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAttackedEnv(t, fake.Options{Items: 2, AccountsPerItem: 4}, false, func(h http.Handler) http.Handler {
				return st.Bomb(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, tc.size, tc.announce)
			})
			r := e.readWith(fastRetries, e.catalog(true, "transactions"))
			t.Logf("peak RSS %d MiB", r.MaxRSS>>20)
			if r.MaxRSS > podLimit*3/4 {
				t.Errorf("peak RSS %d MiB; a 512 MiB pod needs headroom", r.MaxRSS>>20)
			}
			if st := r.Statuses()["transactions"]; len(st) == 0 || st[len(st)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", st)
			}
			var named bool
			for _, et := range r.ErrorTraces() {
				if strings.Contains(et.Message, "GET /v2/transactions") && strings.Contains(et.Message, "far larger than any real") && et.FailureType != protocol.ConfigError {
					named = true
				}
			}
			if !named {
				for _, et := range r.ErrorTraces() {
					t.Logf("%s: %s", et.FailureType, et.Message)
				}
				t.Errorf("no system_error names the endpoint and the oversized page")
			}
		})
	}
}

// badUTF8 is what a hostile or Latin-1-confused API puts in text: a lone
// Latin-1 byte, two bytes never valid in UTF-8, a cut-off sequence.
const badUTF8 = "caf\xe9 \xff\xfe \xc3("

// TestInvalidUTF8IsReplacedAndKept: transaction descriptions with invalid
// UTF-8 come out with U+FFFD in their place; every row is kept, every line
// printed is valid UTF-8, and the stream warns once, naming the endpoint.
func TestInvalidUTF8IsReplacedAndKept(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 30, PageSize: 10}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"description":"`), []byte(`"description":"`+badUTF8))
		})
	})
	r := e.read(e.catalog(true, "transactions")) // ValidateProtocol: every line valid UTF-8
	got := rows(t, r.Records()["transactions"])
	if want := e.servedIDs(); len(got) != len(want) {
		t.Fatalf("%d rows emitted, %d served: rows with invalid UTF-8 were dropped", len(got), len(want))
	}
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			Description string `json:"description"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "row")
		if !strings.HasPrefix(x.Description, "caf\uFFFD \uFFFD \uFFFD(") {
			t.Fatalf("description %q: invalid bytes not replaced with U+FFFD", x.Description)
		}
	}
	var warns int
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "not valid UTF-8") {
			warns++
			if !strings.Contains(m.Log.Message, "GET /v2/transactions") {
				t.Errorf("WARN does not name the endpoint: %s", m.Log.Message)
			}
			// Warned from an account's partition: its logger names the
			// stream and the account.
			named := false
			for _, id := range e.fake.AccountIDs(e.fake.ItemIDs()[0]) {
				named = named || strings.Contains(m.Log.Message, " account="+id)
			}
			if !strings.HasPrefix(m.Log.Message, "transactions: ") || !named {
				t.Errorf("WARN does not carry the stream and account attributes: %s", m.Log.Message)
			}
		}
	}
	if warns != 1 {
		t.Errorf("%d WARNs about invalid UTF-8 over %d pages, want one per stream", warns, len(got)/10)
	}
}

// TestInvalidUTF8RowIsNoted: on every page the first transaction's
// description has invalid UTF-8 and the second's a U+FFFD Pluggy sent
// itself. The first is noted (field description, REPLACED,
// SOURCE_INVALID_UTF8) on stdout, in Parquet and in PostgreSQL; the second
// and every other row are not, and every row of the page is there.
func TestInvalidUTF8RowIsNoted(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 30, PageSize: 10}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, st.MarkRows(`"description":"`))
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "transactions"), "--parquet-dir", dir, "--postgres", url)
	if got, want := rows(t, r.Records()["transactions"]), e.servedIDs(); len(got) != len(want) {
		t.Fatalf("%d rows emitted, %d served", len(got), len(want))
	}
	st.CheckReplacedNoted(t, r, "transactions", "description", []string{"id"}, dir, pgtest.Connect(t, url), "pluggy")
}

// TestInvalidUTF8InASharedListIsNoted: items and the accounts and
// investments lists are fetched once a run, by whichever stream asks
// first; here the transactions and investment_transactions streams come
// first in the catalog and items last, so the items, accounts and
// investments streams emit answers another stream fetched. In every list
// the first name has invalid UTF-8 and the second a U+FFFD Pluggy sent
// itself (the items in turn: one, the other, neither): the first is noted
// (REPLACED, SOURCE_INVALID_UTF8) in the stream that emits it, on stdout,
// in Parquet and in PostgreSQL, and no other row, and that stream warns
// once. The note was kept by the stream that fetched the answer, which
// emitted none of those rows, and the rows went out with replaced text
// noted nowhere.
func TestInvalidUTF8InASharedListIsNoted(t *testing.T) {
	lists, items := st.MarkRows(`"name":"`), st.MarkAnswers(`"name":"`)
	e := newAttackedEnv(t, fake.Options{Items: 3, AccountsPerItem: 3, TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
		h = st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/accounts" || r.URL.Path == "/investments" }, lists)
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/items/") }, items)
	})
	catalog := st.EditCatalog(t, e.catalog(true, "items", "accounts", "transactions", "investments", "investment_transactions"), func(c *protocol.ConfiguredCatalog) {
		slices.Reverse(c.Streams) // then investment_transactions, transactions, investments, accounts, items
		c.Streams[1], c.Streams[2] = c.Streams[2], c.Streams[1]
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(catalog, "--parquet-dir", dir, "--postgres", url)
	conn := pgtest.Connect(t, url)
	for stream, field := range map[string]string{"accounts": "name", "investments": "name", "items": "connector.name"} {
		st.CheckReplacedNoted(t, r, stream, field, []string{"id"}, dir, conn, "pluggy")
	}
	warns := st.InvalidUTF8Warns(r)
	if warns["accounts"] != 1 || warns["investments"] != 1 || warns["items"] != 1 {
		t.Errorf("WARNs about invalid UTF-8 per stream: %v, want one of each of items, accounts and investments, which emit the rows", warns)
	}
}

// TestInvalidUTF8SingerWarningNamesNoNote: in the Singer mode the rows
// with replaced bytes are kept as in read, and the WARNING says a Singer
// RECORD cannot note which they are, where it said each row noted the
// field in meta.source_changes on stdout, which a Singer RECORD does not
// have (docs/real-world.md: "Singer: none").
func TestInvalidUTF8SingerWarningNamesNoNote(t *testing.T) {
	e := newAttackedEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 30, PageSize: 10}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, st.MarkRows(`"description":"`))
	})
	bin, config := tapBin(t), e.config(nil)
	r := e.sync(bin, "--config", config, "--catalog", e.transactionsOnly(bin, config))
	if got, want := len(r.records()["transactions"]), len(e.servedIDs()); got != want {
		t.Fatalf("%d rows emitted, %d served", got, want)
	}
	var warnings []string
	for line := range strings.Lines(string(r.stderr)) {
		if strings.Contains(line, "not valid UTF-8") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "a Singer RECORD has no place to note which rows hold replaced text") || strings.Contains(warnings[0], "on stdout") {
		t.Errorf("want one WARNING saying a Singer RECORD cannot note the rows, got %q", warnings)
	}
}

// TestHostileInputsFailClearly: FIFOs, trailing data, an invalid
// destination_sync_mode, a stream twice in a state, GLOBAL mixed with
// STREAM: each a config_error naming the input, never a hang.
func TestHostileInputsFailClearly(t *testing.T) {
	e := newEnv(t, fake.Options{})
	st.CheckHostileInputs(t, e.bin, e.config(nil), e.catalog(true, "transactions"), "transactions")
}

// TestRepeatedRowKeysAreRefused: a transaction whose "id" or "accountId"
// appears twice is read differently by different JSON readers (Go and
// Python keep the last, others the first), so a destination could key it
// apart from the connector. The account fails with a system_error naming
// the page, the row and the key, and its cursor does not move past it.
func TestRepeatedRowKeysAreRefused(t *testing.T) {
	for _, key := range []string{"id", "accountId"} {
		t.Run(key, func(t *testing.T) {
			e := newAttackedEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 5}, false, func(h http.Handler) http.Handler {
				return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
					k := []byte(`"` + key + `":"`)
					return bytes.Replace(b, k, append([]byte(`"`+key+`":"forged",`), k...), 1)
				})
			})
			r := e.readWith(fastRetries, e.catalog(true, "transactions"))
			if st := r.Statuses()["transactions"]; len(st) == 0 || st[len(st)-1] != protocol.Incomplete {
				t.Errorf("transactions ended %v, want INCOMPLETE", st)
			}
			var named bool
			for _, et := range r.ErrorTraces() {
				named = named || et.FailureType == protocol.SystemError && strings.Contains(et.Message, "row 0") && strings.Contains(et.Message, `"`+key+`" appears twice`)
			}
			if !named {
				t.Errorf("no system_error names the row and the repeated key: %+v", r.ErrorTraces())
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
					t.Errorf("the account's cursor moved past the refused row: %s", m.State.Stream.StreamState)
				}
			}
		})
	}
}

// TestParquetFilesArePrivate: the folders and files --parquet-dir creates
// hold bank data and are the user's only (0700, 0600).
func TestParquetFilesArePrivate(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 20})
	dir := filepath.Join(t.TempDir(), "out")
	e.read(e.catalog(true, "accounts", "transactions"), "--parquet-dir", dir)
	if n := st.CheckPrivate(t, dir); n == 0 {
		t.Fatal("no Parquet file written")
	}
}
