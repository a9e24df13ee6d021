package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run the built binary as a user would, against the fake
// GoCardless API on 127.0.0.1, and check every line it prints against the
// official Airbyte protocol schema and every record against its stream's
// schema. The fake counts every call, so the tests can hold the connector
// to its quota budget.

type env struct {
	t    *testing.T
	bin  string
	fake *fake.Server
	srv  *httptest.Server
	cfg  map[string]any
}

// newEnv starts a fake and a config that reads all of its history:
// start_date lies far back and is clamped to what each institution allows.
func newEnv(t *testing.T, o fake.Options) *env {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith lets wrap stand in front of the fake's handler.
func newEnvWith(t *testing.T, o fake.Options, wrap func(f *fake.Server, h http.Handler) http.Handler) *env {
	t.Helper()
	f := fake.New(o)
	h := f.Handler()
	if wrap != nil {
		h = wrap(f, h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-gocardless-bank-data"), fake: f, srv: srv, cfg: map[string]any{
		"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
		"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01", "lookback_days": 7,
	}}
}

func (e *env) config(over map[string]any) string {
	return st.ConfigFile(e.t, e.cfg, over)
}

func (e *env) accounts() []string {
	var out []string
	for _, r := range e.fake.RequisitionIDs() {
		out = append(out, e.fake.AccountIDs(r)...)
	}
	return out
}

func (e *env) catalog(incremental bool, only ...string) string {
	return st.CatalogFile(e.t, gocardless.Source{}, e.cfg, incremental, only...)
}

func (e *env) discover() *protocol.Catalog {
	r := st.Run(e.t, e.bin, "discover", "--config", e.config(nil))
	cats := r.OfType(protocol.TypeCatalog)
	if r.Code != 0 || len(cats) != 1 {
		e.t.Fatalf("discover: exit %d, %d catalogs\n%s", r.Code, len(cats), r.Stderr)
	}
	return cats[0].Catalog
}

// run runs a read and checks what holds for every read, failed or not.
func (e *env) run(catalog string, over map[string]any, extra ...string) *st.Result {
	e.t.Helper()
	args := append([]string{"read", "--config", e.config(over), "--catalog", catalog}, extra...)
	r := st.Run(e.t, e.bin, args...)
	st.ValidateProtocol(e.t, r)
	st.ValidateRecords(e.t, r, e.discover())
	e.noSecrets(r)
	return r
}

// read runs a read that must succeed, with the full lifecycle checks.
func (e *env) read(catalog string, extra ...string) *st.Result {
	e.t.Helper()
	r := e.run(catalog, nil, extra...)
	if r.Code != 0 {
		e.t.Fatalf("read exited %d: %v\n%s\n%s", r.Code, r.ErrorTraces(), r.Stderr, st.Tail(r.Stdout))
	}
	var names []string
	for name := range r.Statuses() {
		names = append(names, name)
	}
	st.CheckLifecycle(e.t, r, names)
	return r
}

// tokenPattern is what the fake's access and refresh tokens look like.
var tokenPattern = regexp.MustCompile(`(access|refresh)\.[0-9a-f]{48}`)

func (e *env) noSecrets(r *st.Result) {
	e.t.Helper()
	for _, out := range [][]byte{r.Stdout, r.Stderr} {
		for _, s := range []string{e.fake.SecretID(), e.fake.SecretKey()} {
			if strings.Contains(string(out), s) {
				e.t.Fatalf("output contains the secret %q", s)
			}
		}
		if m := tokenPattern.Find(out); m != nil {
			e.t.Fatalf("output contains a token %q", m)
		}
	}
}

// row is what the tests read of a record.
type row struct {
	AccountID      string `json:"account_id"`
	TransactionKey string `json:"transaction_key"`
	PendingKey     string `json:"pending_key"`
	Status         string `json:"status"`
	TransactionID  string `json:"transactionId"`
	InternalID     string `json:"internalTransactionId"`
	Amount         struct {
		Amount string `json:"amount"`
	} `json:"transactionAmount"`
}

func decode(t *testing.T, raw json.RawMessage) row {
	t.Helper()
	var r row
	st.Must(t, json.Unmarshal(raw, &r), "record")
	return r
}

// stripAdded decodes a record without the fields the connector adds, to
// compare it with the row the fake served.
func stripAdded(t *testing.T, raw json.RawMessage, added ...string) map[string]any {
	t.Helper()
	var m map[string]any
	st.Must(t, json.Unmarshal(raw, &m), "record")
	for _, k := range added {
		delete(m, k)
	}
	return m
}

func asMap(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	st.Must(t, json.Unmarshal(raw, &m), "row")
	return m
}

// wantKeys is the documented transaction_key rule, written out again as
// the test's oracle, for the fake's booked rows (which all carry an
// internalTransactionId): the internalTransactionId, trimmed. It maps each
// row's internalTransactionId to its key.
func wantKeys(t *testing.T, booked []json.RawMessage) map[string]string {
	out := map[string]string{}
	for _, raw := range booked {
		r := decode(t, raw)
		if strings.TrimSpace(r.InternalID) == "" {
			t.Fatalf("fake booked row without internalTransactionId: %s", raw)
		}
		out[r.InternalID] = strings.TrimSpace(r.InternalID)
	}
	return out
}

type txState struct {
	Accounts map[string]struct {
		BookedThrough string `json:"booked_through"`
	} `json:"accounts"`
	Quota map[string]struct {
		Remaining int    `json:"remaining"`
		ResetAt   string `json:"reset_at"`
	} `json:"quota"`
}

func decodeTxState(t *testing.T, raw json.RawMessage) txState {
	var s txState
	st.Must(t, json.Unmarshal(raw, &s), "transactions state")
	return s
}

// warned reports a WARN log mentioning every part.
func warned(r *st.Result, parts ...string) bool {
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level != protocol.LevelWarn {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(m.Log.Message, p)
		}
		if all {
			return true
		}
	}
	return false
}

// errorsMention returns the ERROR traces mentioning every part.
func errorsMention(r *st.Result, parts ...string) []*protocol.ErrorTrace {
	var out []*protocol.ErrorTrace
	for _, e := range r.ErrorTraces() {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e.Message, p)
		}
		if all {
			out = append(out, e)
		}
	}
	return out
}

// dataCalls counts the bank-backed calls of a route with a status, or of
// any status when status is 0.
func dataCalls(s fake.Stats, route string, status int) int {
	if status == 0 {
		return s.Count(route)
	}
	return s.Requests[route][status]
}

func TestSpec(t *testing.T) {
	e := newEnv(t, fake.Options{})
	bin := e.bin
	r := st.Run(t, bin, "spec")
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
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Secret  bool `json:"airbyte_secret"`
			Default any  `json:"default"`
		} `json:"properties"`
	}
	st.Must(t, json.Unmarshal(spec.ConnectionSpecification, &s), "spec")
	if !s.Properties["secret_key"].Secret || !s.Properties["secret_id"].Secret {
		t.Error("secret_id and secret_key must be airbyte_secret")
	}
	for name, want := range map[string]any{"lookback_days": 7.0, "include_pending": true, "balances": true, "base_url": gocardless.DefaultBaseURL, "http_timeout_seconds": float64(gocardless.DefaultHTTPTimeout)} {
		if got := s.Properties[name].Default; got != want {
			t.Errorf("%s default %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"secret_id", "secret_key", "requisition_ids", "account_ids", "base_url", "start_date", "lookback_days", "include_pending", "balances", "http_timeout_seconds"} {
		if _, ok := s.Properties[name]; !ok {
			t.Errorf("spec lacks %s", name)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, fake.Options{})
	expired := e.fake.RequisitionIDs()[1]
	e.fake.ExpireRequisition(expired)
	good := e.fake.RequisitionIDs()[:1]
	closed := st.ClosedPort(t)
	for _, c := range []struct {
		name    string
		over    map[string]any
		status  string
		mention []string
	}{
		{"good", map[string]any{"requisition_ids": good}, protocol.StatusSucceeded, nil},
		{"comma string", map[string]any{"requisition_ids": strings.Join(good, " , ")}, protocol.StatusSucceeded, nil},
		{"account subset", map[string]any{"requisition_ids": good, "account_ids": e.fake.AccountIDs(good[0])[:1]}, protocol.StatusSucceeded, nil},
		{"bad key", map[string]any{"secret_key": "wrong-secret-value"}, protocol.StatusFailed, []string{"secret_id/secret_key"}},
		{"expired requisition", nil, protocol.StatusFailed, []string{expired, "Re-link", "EX"}},
		{"unknown requisition", map[string]any{"requisition_ids": []string{"00000000-0000-4000-8000-000000000000"}}, protocol.StatusFailed, []string{"00000000-0000-4000-8000-000000000000", "not found"}},
		{"foreign account", map[string]any{"requisition_ids": good, "account_ids": []string{"00000000-0000-4000-8000-000000000001"}}, protocol.StatusFailed, []string{"config.account_ids", "00000000-0000-4000-8000-000000000001"}},
		{"unreachable", map[string]any{"base_url": "http://127.0.0.1:" + closed + "/api/v2"}, protocol.StatusFailed, []string{"cannot reach"}},
		{"missing requisition_ids", map[string]any{"requisition_ids": nil}, protocol.StatusFailed, []string{"config.requisition_ids"}},
		{"not a uuid", map[string]any{"requisition_ids": []string{"abc"}}, protocol.StatusFailed, []string{"config.requisition_ids.0"}},
		{"bad start_date", map[string]any{"start_date": "2025-13-45"}, protocol.StatusFailed, []string{"config.start_date"}},
		{"plain http", map[string]any{"base_url": "http://bankaccountdata.gocardless.com/api/v2"}, protocol.StatusFailed, []string{"config.base_url"}},
		{"wrong type", map[string]any{"include_pending": "yes"}, protocol.StatusFailed, []string{"config.include_pending"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := st.Run(t, e.bin, "check", "--config", e.config(c.over))
			st.ValidateProtocol(t, r)
			if r.Code != 0 || len(r.Messages) != 1 || r.Messages[0].ConnectionStatus == nil {
				t.Fatalf("check: exit %d, messages %s", r.Code, r.Stdout)
			}
			cs := r.Messages[0].ConnectionStatus
			if cs.Status != c.status {
				t.Fatalf("check = %s %q, want %s", cs.Status, cs.Message, c.status)
			}
			for _, m := range c.mention {
				if !strings.Contains(cs.Message, m) {
					t.Fatalf("check message %q does not mention %q", cs.Message, m)
				}
			}
			e.noSecrets(r)
			if strings.Contains(string(r.Stdout), "wrong-secret-value") {
				t.Fatal("check output contains the wrong secret")
			}
		})
	}
	// A check spends no bank quota and one token at most.
	s := e.fake.Stats()
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		if n := s.Count(route); n != 0 {
			t.Errorf("checks made %d calls to %s", n, route)
		}
	}
}

func TestDiscover(t *testing.T) {
	e := newEnv(t, fake.Options{})
	r := st.Run(t, e.bin, "discover", "--config", e.config(nil))
	st.ValidateProtocol(t, r)
	cat := e.discover()
	st.CheckCatalog(t, cat, map[string]bool{"requisitions": false, "accounts": true, "balances": true, "transactions": true, "pending_transactions": false})
	keys := map[string]string{}
	for _, s := range cat.Streams {
		b, _ := json.Marshal(s.SourceDefinedPrimaryKey)
		keys[s.Name] = string(b)
	}
	for name, want := range map[string]string{
		"requisitions":         `[["id"]]`,
		"accounts":             `[["id"]]`,
		"balances":             `[["account_id"],["balanceType"],["reference_date_key"]]`,
		"transactions":         `[["account_id"],["transaction_key"]]`,
		"pending_transactions": `[["account_id"],["pending_key"]]`,
	} {
		if keys[name] != want {
			t.Errorf("%s primary key %s, want %s", name, keys[name], want)
		}
	}
	if len(e.fake.Stats().Requests) != 0 {
		t.Error("discover called the API")
	}
}

func TestFullReadEqualsFakeData(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 2, TransactionsPerAccount: 120})
	r := e.read(e.catalog(false))
	recs := r.Records()
	accounts := e.accounts()

	if n := len(recs["requisitions"]); n != 2 {
		t.Errorf("%d requisitions", n)
	}
	// Accounts: metadata with details nested and the requisition id.
	for _, raw := range recs["accounts"] {
		var a struct {
			ID            string `json:"id"`
			RequisitionID string `json:"requisition_id"`
			Details       *struct {
				Currency string `json:"currency"`
			} `json:"details"`
		}
		st.Must(t, json.Unmarshal(raw, &a), "account")
		if a.RequisitionID == "" || a.Details == nil || a.Details.Currency == "" {
			t.Errorf("account %s: requisition_id %q, details %v", a.ID, a.RequisitionID, a.Details)
		}
	}
	if len(recs["accounts"]) != len(accounts) {
		t.Errorf("%d account records for %d accounts", len(recs["accounts"]), len(accounts))
	}

	// Booked rows: every row of the fake, once, byte-equal but for the
	// added fields, keyed by the documented rule.
	got := map[string]map[string]json.RawMessage{} // account → internal id → record
	for _, raw := range recs["transactions"] {
		x := decode(t, raw)
		if x.Status != "booked" {
			t.Fatalf("booked row with status %q", x.Status)
		}
		if got[x.AccountID] == nil {
			got[x.AccountID] = map[string]json.RawMessage{}
		}
		if _, dup := got[x.AccountID][x.InternalID]; dup {
			t.Fatalf("row %s of %s emitted twice", x.InternalID, x.AccountID)
		}
		got[x.AccountID][x.InternalID] = raw
	}
	sawQuirks := map[string]bool{}
	for _, a := range accounts {
		booked := e.fake.Booked(a)
		want := wantKeys(t, booked)
		if len(got[a]) != len(booked) {
			t.Fatalf("account %s: %d booked rows, fake has %d", a, len(got[a]), len(booked))
		}
		keys := map[string]bool{}
		for _, served := range booked {
			s := decode(t, served)
			rec, ok := got[a][s.InternalID]
			if !ok {
				t.Fatalf("account %s: row %s missing", a, s.InternalID)
			}
			x := decode(t, rec)
			if x.TransactionKey != want[s.InternalID] {
				t.Errorf("account %s row %s (transactionId %q): key %q, want %q", a, s.InternalID, s.TransactionID, x.TransactionKey, want[s.InternalID])
			}
			if keys[x.TransactionKey] {
				t.Errorf("account %s: key %q twice", a, x.TransactionKey)
			}
			keys[x.TransactionKey] = true
			if x.Amount.Amount != s.Amount.Amount {
				t.Errorf("amount of %s changed: served %q, emitted %q", s.InternalID, s.Amount.Amount, x.Amount.Amount)
			}
			if !equalJSON(stripAdded(t, rec, "account_id", "transaction_key", "status"), asMap(t, served)) {
				t.Errorf("row %s differs from what the fake served:\n%s\n%s", s.InternalID, rec, served)
			}
			switch id := strings.TrimSpace(s.TransactionID); {
			case s.TransactionID != "" && id == "":
				sawQuirks["blank"] = true
			case id == "NOTPROVIDED":
				sawQuirks["NOTPROVIDED"] = true
			case id == "":
				sawQuirks["missing"] = true
			}
		}
	}
	for _, q := range []string{"blank", "NOTPROVIDED", "missing"} {
		if !sawQuirks[q] {
			t.Errorf("the fake served no %s transactionId; the test proves less than it says", q)
		}
	}

	// Pending rows: the fake's, keyed by content.
	pend := map[string][]json.RawMessage{}
	for _, raw := range recs["pending_transactions"] {
		x := decode(t, raw)
		if x.Status != "pending" || !strings.HasPrefix(x.PendingKey, "sha256:") {
			t.Fatalf("pending row: status %q key %q", x.Status, x.PendingKey)
		}
		pend[x.AccountID] = append(pend[x.AccountID], raw)
	}
	for _, a := range accounts {
		served := e.fake.Pending(a)
		if len(pend[a]) != len(served) {
			t.Fatalf("account %s: %d pending rows, fake has %d", a, len(pend[a]), len(served))
		}
		for i := range served {
			if !equalJSON(stripAdded(t, pend[a][i], "account_id", "pending_key", "status"), asMap(t, served[i])) {
				t.Errorf("pending row differs:\n%s\n%s", pend[a][i], served[i])
			}
		}
	}

	// Balances: three per account, amounts as strings.
	if n := len(recs["balances"]); n != 3*len(accounts) {
		t.Errorf("%d balances for %d accounts", n, len(accounts))
	}

	// The call budget: one token, one call per account per endpoint.
	s := e.fake.Stats()
	if s.TokenNew != 1 {
		t.Errorf("token/new called %d times", s.TokenNew)
	}
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		if n := s.Count(route); n != len(accounts) {
			t.Errorf("%s: %d calls for %d accounts", route, n, len(accounts))
		}
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
