package main

import (
	"encoding/json"
	"math/big"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run the built binary as a user would, against the fake Pluggy
// API on 127.0.0.1, and check every line it prints against the official
// Airbyte protocol schema and every record against its stream's schema.

type env struct {
	t    *testing.T
	bin  string
	fake *fake.Server
	srv  *httptest.Server
	cfg  map[string]any
}

func newEnv(t *testing.T, o fake.Options) *env {
	t.Helper()
	f := fake.New(o)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-pluggy"), fake: f, srv: srv, cfg: map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
		"base_url": srv.URL, "requests_per_minute": 0, "lookback_days": 7,
	}}
}

func (e *env) config(over map[string]any) string {
	return st.ConfigFile(e.t, e.cfg, over)
}

func (e *env) catalog(incremental bool, only ...string) string {
	return st.CatalogFile(e.t, pluggy.Source{}, e.cfg, incremental, only...)
}

func (e *env) discover() *protocol.Catalog {
	r := st.Run(e.t, e.bin, "discover", "--config", e.config(nil))
	cats := r.OfType(protocol.TypeCatalog)
	if r.Code != 0 || len(cats) != 1 {
		e.t.Fatalf("discover: exit %d, %d catalogs\n%s", r.Code, len(cats), r.Stderr)
	}
	return cats[0].Catalog
}

// read runs a read and checks everything that holds for every successful one.
func (e *env) read(catalog string, extra ...string) *st.Result {
	e.t.Helper()
	args := append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)
	r := st.Run(e.t, e.bin, args...)
	if r.Code != 0 {
		e.t.Fatalf("read exited %d: %v\n%s\n%s", r.Code, r.ErrorTraces(), r.Stderr, tail(r.Stdout))
	}
	st.ValidateProtocol(e.t, r)
	st.ValidateRecords(e.t, r, e.discover())
	var names []string
	for name := range r.Statuses() {
		names = append(names, name)
	}
	st.CheckLifecycle(e.t, r, names)
	e.noSecrets(r)
	return r
}

func (e *env) noSecrets(r *st.Result) {
	e.t.Helper()
	for _, s := range []string{e.fake.ClientSecret()} {
		if strings.Contains(string(r.Stdout), s) || strings.Contains(string(r.Stderr), s) {
			e.t.Fatalf("output contains the secret %q", s)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func tail(b []byte) string { return st.Tail(b) }

type txRow struct {
	ID        string      `json:"id"`
	AccountID string      `json:"accountId"`
	ItemID    string      `json:"itemId"`
	Amount    json.Number `json:"amount"`
	UpdatedAt string      `json:"updatedAt"`
	CreatedAt string      `json:"createdAt"`
}

func rows(t *testing.T, raws []json.RawMessage) map[string]txRow {
	out := map[string]txRow{}
	for _, r := range raws {
		var x txRow
		if err := json.Unmarshal(r, &x); err != nil {
			t.Fatal(err)
		}
		out[x.ID] = x
	}
	return out
}

// checkResumed fails unless r, a read after the fake added the transactions
// added, read each of them and fewer than half of all: it resumed from a
// kept state, not from start_date.
func checkResumed(t *testing.T, e *env, r *st.Result, added []string) {
	t.Helper()
	got := rows(t, r.Records()["transactions"])
	for _, id := range added {
		if _, ok := got[id]; !ok {
			t.Errorf("new transaction %s not read by the run resuming from the kept state", id)
		}
	}
	if total, _, _ := e.fake.TransactionSummary(); len(got) >= total/2 {
		t.Errorf("the run read %d of %d transactions: it did not resume from the kept state", len(got), total)
	}
}

// sumCents adds decimal amounts exactly.
func sumCents(t *testing.T, rs map[string]txRow) int64 {
	total := new(big.Rat)
	for _, r := range rs {
		v, ok := new(big.Rat).SetString(string(r.Amount))
		if !ok {
			t.Fatalf("amount %q is not a decimal", r.Amount)
		}
		total.Add(total, v)
	}
	total.Mul(total, big.NewRat(100, 1))
	if !total.IsInt() {
		t.Fatalf("sum %s is not a whole number of cents", total.FloatString(4))
	}
	return total.Num().Int64()
}

func TestSpec(t *testing.T) {
	e := newEnv(t, fake.Options{})
	r := st.Run(t, e.bin, "spec")
	st.ValidateProtocol(t, r)
	specs := r.OfType(protocol.TypeSpec)
	if r.Code != 0 || len(specs) != 1 || len(r.Messages) != 1 {
		t.Fatalf("spec: exit %d, %d messages", r.Code, len(r.Messages))
	}
	spec := specs[0].Spec
	if spec.ProtocolVersion == "" {
		t.Error("spec has no protocol_version")
	}
	st.CheckSpecRules(t, spec.ConnectionSpecification)
	// The config every test reads the fake with is one the spec's form
	// accepts, as the acceptance tests check of theirs.
	st.CheckConfigMatchesSpec(t, spec.ConnectionSpecification, e.cfg)
	// Every field that may hold a password is one a platform stores as a
	// secret: webhook_log takes a PostgreSQL URL with one.
	var props struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	st.Must(t, json.Unmarshal(spec.ConnectionSpecification, &props), "spec")
	for _, name := range []string{"client_secret", "webhook_log"} {
		if props.Properties[name]["airbyte_secret"] != true {
			t.Errorf("spec: %s is not marked airbyte_secret", name)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, fake.Options{})
	closed := st.ClosedPort(t)
	for _, c := range []struct {
		name    string
		over    map[string]any
		status  string
		mention string
	}{
		{"good", nil, protocol.StatusSucceeded, ""},
		{"comma string", map[string]any{"item_ids": strings.Join(e.fake.ItemIDs(), ", ")}, protocol.StatusSucceeded, ""},
		{"bad secret", map[string]any{"client_secret": "wrong-secret-value"}, protocol.StatusFailed, "client_secret"},
		{"unknown item", map[string]any{"item_ids": []string{"00000000-0000-4000-8000-000000000000"}}, protocol.StatusFailed, "00000000-0000-4000-8000-000000000000"},
		{"unreachable", map[string]any{"base_url": "http://127.0.0.1:" + closed}, protocol.StatusFailed, "cannot reach"},
		{"missing item_ids", map[string]any{"item_ids": nil}, protocol.StatusFailed, "config.item_ids"},
		{"not a uuid", map[string]any{"item_ids": []string{"abc"}}, protocol.StatusFailed, "config.item_ids.0"},
		{"bad start_date", map[string]any{"start_date": "2025-13-45"}, protocol.StatusFailed, "config.start_date"},
		// A first sync from a future date read nothing and left cursors
		// that skipped the history before it for good.
		{"future start_date", map[string]any{"start_date": "2099-01-01"}, protocol.StatusFailed, "after today"},
		{"plain http", map[string]any{"base_url": "http://api.pluggy.ai"}, protocol.StatusFailed, "config.base_url"},
		{"wrong type", map[string]any{"lookback_days": "seven"}, protocol.StatusFailed, "config.lookback_days"},
		// A webhook_log a read would refuse fails the check, not the read.
		{"missing webhook_log", map[string]any{"webhook_log": filepath.Join(t.TempDir(), "nope")}, protocol.StatusFailed, "config.webhook_log"},
		{"empty webhook_log directory", map[string]any{"webhook_log": t.TempDir()}, protocol.StatusSucceeded, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := st.Run(t, e.bin, "check", "--config", e.config(c.over))
			st.ValidateProtocol(t, r)
			if r.Code != 0 || len(r.Messages) != 1 || r.Messages[0].ConnectionStatus == nil {
				t.Fatalf("check: exit %d, messages %s", r.Code, r.Stdout)
			}
			cs := r.Messages[0].ConnectionStatus
			if cs.Status != c.status || !strings.Contains(cs.Message, c.mention) {
				t.Fatalf("check = %s %q, want %s mentioning %q", cs.Status, cs.Message, c.status, c.mention)
			}
			if strings.Contains(string(r.Stdout), "wrong-secret-value") || strings.Contains(string(r.Stdout), e.fake.ClientSecret()) {
				t.Fatal("check output contains a secret")
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	e := newEnv(t, fake.Options{})
	r := st.Run(t, e.bin, "discover", "--config", e.config(nil))
	st.ValidateProtocol(t, r)
	cat := e.discover()
	want := map[string]bool{"items": false, "accounts": false, "transactions": true, "categories": false,
		"credit_card_bills": false, "investments": false, "investment_transactions": true, "loans": false, "identity": false}
	st.CheckCatalog(t, cat, want)
}

func TestFullRefreshEqualsFakeData(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 150, PageSize: 40})
	r := e.read(e.catalog(false))
	recs := r.Records()
	got := rows(t, recs["transactions"])
	count, ids, cents := e.fake.TransactionSummary()
	if len(recs["transactions"]) != count || len(got) != count {
		t.Fatalf("transactions: %d records (%d distinct), fake has %d", len(recs["transactions"]), len(got), count)
	}
	for id := range ids {
		if _, ok := got[id]; !ok {
			t.Fatalf("transaction %s missing", id)
		}
	}
	if s := sumCents(t, got); s != cents {
		t.Fatalf("sum of amounts = %d cents, fake has %d", s, cents)
	}
	accounts := 0
	for _, item := range e.fake.ItemIDs() {
		accounts += len(e.fake.AccountIDs(item))
	}
	if len(recs["items"]) != 2 || len(recs["accounts"]) != accounts || len(recs["categories"]) == 0 {
		t.Fatalf("items %d accounts %d (want %d) categories %d", len(recs["items"]), len(recs["accounts"]), accounts, len(recs["categories"]))
	}
	for id, row := range got {
		if row.ItemID == "" || row.AccountID == "" {
			t.Fatalf("transaction %s lacks its join ids: %+v", id, row)
		}
	}
	// Amounts pass through byte for byte: the record's amount text equals the fake's.
	served := map[string]string{}
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var x txRow
				_ = json.Unmarshal(raw, &x)
				served[x.ID] = string(x.Amount)
			}
		}
	}
	for id, row := range got {
		if served[id] != string(row.Amount) {
			t.Fatalf("amount of %s changed: served %s, emitted %s", id, served[id], row.Amount)
		}
	}
	// Full refresh never uses v1.
	if n := e.fake.Stats().ByRoute["GET /transactions"]; n != 0 {
		t.Fatalf("%d calls to the deprecated v1 /transactions", n)
	}
}

func TestIncrementalMissesNothing(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 100, PageSize: 25})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	first := rows(t, r1.Records()["transactions"])
	state := r1.StateFile(t)

	added := e.fake.AddNew(5)
	backdated := e.fake.AddBackdated(4, 90*24*time.Hour)
	oldIDs, newIDs := e.fake.PostPending(2)
	updated := e.fake.UpdateInPlace(3)

	r2 := e.read(cat, "--state", state)
	second := rows(t, r2.Records()["transactions"])
	if len(r2.Records()["transactions"]) != len(second) {
		t.Fatalf("second read emitted duplicates: %d records, %d distinct", len(r2.Records()["transactions"]), len(second))
	}
	// A later mutation may remove an earlier one's row (PostPending can
	// re-post a pending row AddNew just made): expect the rows still served.
	served := e.servedIDs()
	for what, ids := range map[string][]string{"new": added, "back-dated": backdated, "re-posted": newIDs, "updated": updated} {
		alive := 0
		for _, id := range ids {
			if !served[id] {
				continue
			}
			alive++
			if _, ok := second[id]; !ok {
				t.Errorf("%s row %s not in the second read", what, id)
			}
		}
		if alive == 0 {
			t.Fatalf("fake serves none of its %s rows", what)
		}
	}
	for _, id := range updated {
		if first[id].UpdatedAt == second[id].UpdatedAt {
			t.Errorf("updated row %s: second read carries the old updatedAt %s", id, first[id].UpdatedAt)
		}
	}
	if len(second) >= len(first) {
		t.Errorf("second read re-read everything: %d rows after %d", len(second), len(first))
	}
	// Every row the fake now serves was emitted by one of the two runs.
	_, ids, _ := e.fake.TransactionSummary()
	for id := range ids {
		_, a := first[id]
		_, b := second[id]
		if !a && !b {
			t.Errorf("row %s lost: in neither run", id)
		}
	}
	_ = oldIDs

}

func (e *env) servedIDs() map[string]bool {
	out := map[string]bool{}
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var x txRow
				_ = json.Unmarshal(raw, &x)
				out[x.ID] = true
			}
		}
	}
	return out
}

// TestUnchangedRunCallBudget: an incremental run in which nothing changed
// costs at most 1 auth + 2 calls per item + 2 calls per account, plus the
// product streams' own: one call per credit card (bills), three per item
// (investments, loans, identity) and one per investment (its movements).
func TestUnchangedRunCallBudget(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, TransactionsPerAccount: 200})
	cat := e.catalog(true)
	r1 := e.read(cat)
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if n, m := len(r2.Records()["transactions"]), len(r1.Records()["transactions"]); n >= m/4 {
		t.Errorf("unchanged run emitted %d of %d rows", n, m)
	}
	items, accounts := len(e.fake.ItemIDs()), 0
	for _, item := range e.fake.ItemIDs() {
		accounts += len(e.fake.AccountIDs(item))
	}
	s := e.fake.Stats()
	t.Logf("unchanged run with %d items, %d accounts: %v", items, accounts, s.ByRoute)
	if got := s.ByRoute["POST /auth"]; got > 1 {
		t.Errorf("%d auth calls", got)
	}
	if got := s.ByRoute["GET /v2/transactions"]; got > 2*accounts {
		t.Errorf("%d transaction calls for %d accounts", got, accounts)
	}
	if got := s.ByRoute["GET /items/{id}"] + s.ByRoute["GET /accounts"]; got > 2*items {
		t.Errorf("%d item and account calls for %d items", got, items)
	}
	cards, investments := 0, len(r1.Records()["investments"])
	for _, a := range joinRows(t, r1.Records()["accounts"]) {
		if a.Type == "CREDIT" {
			cards++
		}
	}
	if got := s.ByRoute["GET /investments/{id}/transactions"]; got > investments {
		t.Errorf("%d investment transaction calls for %d investments", got, investments)
	}
	products := cards + 3*items + investments
	// categories is one more call per run, not per item.
	if budget := 1 + 2*items + 2*accounts + products + s.ByRoute["GET /categories"]; s.Total > budget {
		t.Errorf("%d requests, budget %d", s.Total, budget)
	}
}

func TestFutureStateReadsNothing(t *testing.T) {
	e := newEnv(t, fake.Options{})
	accts := map[string]any{}
	for _, item := range e.fake.ItemIDs() {
		for _, a := range e.fake.AccountIDs(item) {
			accts[a] = map[string]any{"created_at": "2999-01-01T00:00:00.000Z", "synced_at": "2999-01-01T00:00:00Z"}
		}
	}
	state := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": accts})
	r := e.read(e.catalog(true, "transactions"), "--state", state)
	st.CheckFutureState(t, r, "transactions")
	// Nothing read, and no error to say why: a WARN does, per account.
	for a := range accts {
		if !r.Warned(a, "after now") {
			t.Errorf("no WARN that account %s's state is in the future", a)
		}
	}
}

func TestStateFileForms(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	cat := e.catalog(true, "transactions")
	full := len(e.read(cat).Records()["transactions"])
	for name, body := range map[string]string{"empty": "", "null": "null", "empty array": "[]"} {
		t.Run(name, func(t *testing.T) {
			r := e.read(cat, "--state", st.WriteFile(t, "state.json", []byte(body)))
			if n := len(r.Records()["transactions"]); n != full {
				t.Fatalf("%d records, want a first sync's %d", n, full)
			}
		})
	}
	t.Run("legacy object", func(t *testing.T) {
		r1 := e.read(cat)
		sum, _ := source.Summarize(strings.NewReader(string(r1.Stdout)), nil)
		legacy := map[string]json.RawMessage{"transactions": sum.States["transactions"].Stream.StreamState}
		r := e.read(cat, "--state", st.WriteFile(t, "legacy.json", legacy))
		if n := len(r.Records()["transactions"]); n >= full {
			t.Fatalf("legacy state ignored: %d records", n)
		}
	})
}

func TestBadInputsFailClearly(t *testing.T) {
	e := newEnv(t, fake.Options{})
	bogus := st.WriteFile(t, "catalog.json", map[string]any{"streams": []any{map[string]any{
		"stream":    map[string]any{"name": "__AIRBYTE__stream_that_does_not_exist", "json_schema": map[string]any{}, "supported_sync_modes": []string{"full_refresh"}},
		"sync_mode": "INVALID", "destination_sync_mode": "INVALID",
	}}})
	badMode := st.WriteFile(t, "catalog.json", map[string]any{"streams": []any{map[string]any{
		"stream":    map[string]any{"name": "items", "json_schema": map[string]any{}, "supported_sync_modes": []string{"full_refresh"}},
		"sync_mode": "incremental", "destination_sync_mode": "append",
	}}})
	badState := st.WriteFile(t, "state.json", []any{map[string]any{"type": "STREAM", "stream": map[string]any{
		"stream_descriptor": map[string]any{"name": "transactions"},
		"stream_state":      map[string]any{"version": 1, "accounts": map[string]any{"x": map[string]any{"created_at": "yesterday"}}},
	}}})
	for _, c := range []struct {
		name    string
		args    []string
		mention string
	}{
		{"unknown stream", []string{"--catalog", bogus}, "does not exist"},
		{"unsupported mode", []string{"--catalog", badMode}, "catalog.streams[0].sync_mode"},
		{"bad state timestamp", []string{"--catalog", e.catalog(true, "transactions"), "--state", badState}, "created_at"},
		{"missing catalog file", []string{"--catalog", "/nonexistent/catalog.json"}, "--catalog"},
		{"no-records without a sink", []string{"--catalog", e.catalog(false, "items"), "--no-records"}, "--no-records needs --parquet-dir"},
		{"parquet-compression without a dir", []string{"--catalog", e.catalog(false, "items"), "--parquet-compression", "none"}, "--parquet-compression needs --parquet-dir"},
		// "$STATE" with the variable unset: read as no flag, a first sync
		// that re-read every account's history (and with --state-file
		// kept no state for the next run) without a word.
		{"empty --state", []string{"--catalog", e.catalog(true, "transactions"), "--state", ""}, "--state is empty: give the path of the state file"},
		{"empty --state-file", []string{"--catalog", e.catalog(true, "transactions"), "--state-file", ""}, "--state-file is empty: give the path of the file that keeps the state"},
		{"empty --catalog", []string{"--catalog", ""}, "--catalog is empty: give the path of the catalog file"},
		{"empty --config", []string{"--catalog", e.catalog(false, "items"), "--config", ""}, "--config is empty: give the path of the config file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"read"}, c.args...)
			if !slices.Contains(c.args, "--config") {
				args = append(args, "--config", e.config(nil))
			}
			r := st.Run(t, e.bin, args...)
			st.ValidateProtocol(t, r)
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, c.mention) {
				t.Fatalf("exit %d, errors %+v; want exit 1 and a config_error mentioning %q", r.Code, errs, c.mention)
			}
			if len(r.Records()) != 0 {
				t.Fatal("records emitted despite the bad input")
			}
		})
	}
	t.Run("check with an empty --config", func(t *testing.T) {
		cs, _ := st.CheckRun(t, e.bin, "")
		if cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "--config is empty: give the path of the config file") {
			t.Errorf("check: %s %q; want FAILED naming the empty --config", cs.Status, cs.Message)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"read", "--config", e.config(nil)}, {"bogus"}, {"check"}, {"read", "--nope"}, {}} {
			if r := st.Run(t, e.bin, args...); r.Code != 2 || len(r.Stdout) != 0 {
				t.Errorf("%v: exit %d stdout %q, want 2 and nothing on stdout", args, r.Code, r.Stdout)
			}
		}
		// A flag of one value given twice: pflag kept the last, so a
		// script appending its own --state read from it without a word.
		cfg, cat := e.config(nil), e.catalog(false, "items")
		for _, args := range [][]string{
			{"read", "--config", cfg, "--catalog", cat, "--config", cfg},
			{"read", "--config", cfg, "--catalog", cat, "--state", "a.json", "--state=b.json"},
			{"check", "--config", cfg, "--config", cfg},
		} {
			r := st.Run(t, e.bin, args...)
			if r.Code != 2 || len(r.Stdout) != 0 || !strings.Contains(string(r.Stderr), "is given twice; give it once") {
				t.Errorf("%v: exit %d stdout %q stderr %s; want 2 saying a flag is given twice", args, r.Code, r.Stdout, r.Stderr)
			}
		}
		if out := runPlain(t, e.bin, "read", "--help"); !strings.Contains(out, "--catalog") {
			t.Errorf("read --help: %s", out)
		}
		if out := runPlain(t, e.bin, "version"); !strings.HasPrefix(out, "source-pluggy ") {
			t.Errorf("version: %s", out)
		}
	})
}

func TestFlagsInAnyOrder(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	cat := e.catalog(false, "items")
	r := st.Run(t, e.bin, "read", "--catalog="+cat, "--config", e.config(nil))
	if r.Code != 0 || len(r.Records()["items"]) == 0 {
		t.Fatalf("exit %d", r.Code)
	}
}

// TestItemInErrorIsReadWithWarning: an item in each status Pluggy documents
// (pluggy-api.md, item fields; connector guidance: "still read what
// exists") is read. LOGIN_ERROR, OUTDATED and WAITING_* get a WARN naming
// the item and its status; UPDATING and MERGING (a sync in progress, the
// data the previous snapshot) are read without one.
func TestItemInErrorIsReadWithWarning(t *testing.T) {
	for _, c := range []struct {
		status string
		warn   bool
	}{
		{"LOGIN_ERROR", true}, {"OUTDATED", true}, {"WAITING_USER_INPUT", true},
		{"WAITING_USER_ACTION", true}, {"UPDATING", false}, {"MERGING", false},
	} {
		t.Run(c.status, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 2, ItemStatuses: []string{"UPDATED", c.status}, TransactionsPerAccount: 10})
			r := e.read(e.catalog(false, "items", "transactions"))
			bad := e.fake.ItemIDs()[1]
			warned := false
			for _, m := range r.OfType(protocol.TypeLog) {
				if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, bad) && strings.Contains(m.Log.Message, c.status) {
					warned = true
				}
			}
			if warned != c.warn {
				t.Fatalf("a WARN naming the %s item: %v, want %v", c.status, warned, c.warn)
			}
			found := false
			for _, row := range rows(t, r.Records()["transactions"]) {
				found = found || row.ItemID == bad
			}
			if !found {
				t.Fatalf("the %s item's transactions were not read", c.status)
			}
			if it := itemRows(t, r.Records()["items"])[bad]; it.Status != c.status {
				t.Errorf("items record %+v, want status %s as served", it, c.status)
			}
		})
	}
}

func TestCursorAndEnvelopeVariants(t *testing.T) {
	for name, o := range map[string]fake.Options{
		"raw cursor":       {NextStyle: fake.NextRelativeRaw, PageSize: 7, TransactionsPerAccount: 40},
		"absolute next":    {NextStyle: fake.NextAbsolute, PageSize: 7, TransactionsPerAccount: 40},
		"categories array": {CategoriesAsArray: true, TransactionsPerAccount: 5},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, o)
			r := e.read(e.catalog(false, "transactions", "categories"))
			count, _, _ := e.fake.TransactionSummary()
			if n := len(rows(t, r.Records()["transactions"])); n != count {
				t.Fatalf("%d transactions, fake has %d", n, count)
			}
			if len(r.Records()["categories"]) == 0 {
				t.Fatal("no categories")
			}
		})
	}
}
