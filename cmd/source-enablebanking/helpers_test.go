package main

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run the built binary as a user would, against the fake
// Enable Banking API on 127.0.0.1, and check every line it prints against
// the official Airbyte protocol schema and every record against its
// stream's schema. The fake verifies every token against the application's
// public key and counts every call, so the tests hold the connector to its
// daily-limit budget.

type env struct {
	t    *testing.T
	bin  string
	fake *fake.Server
	srv  *httptest.Server
	cfg  map[string]any
}

// newEnv starts a fake and a config that reads all its history.
func newEnv(t *testing.T, o fake.Options) *env {
	t.Helper()
	f := fake.New(o)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-enablebanking"), fake: f, srv: srv, cfg: map[string]any{
		"application_id": f.ApplicationID(), "private_key": f.PrivateKeyPEM(), "session_ids": f.SessionIDs(),
		"base_url": srv.URL, "start_date": "2000-01-01", "lookback_days": 7, "include_pending": true,
	}}
}

func (e *env) config(over map[string]any) string { return st.ConfigFile(e.t, e.cfg, over) }

func (e *env) accounts() []string {
	var out []string
	for _, s := range e.fake.SessionIDs() {
		out = append(out, e.fake.AccountUIDs(s)...)
	}
	return out
}

func (e *env) catalog(incremental bool, only ...string) string {
	return st.CatalogFile(e.t, enablebanking.Source{}, e.cfg, incremental, only...)
}

func (e *env) discover() *protocol.Catalog {
	r := st.Run(e.t, e.bin, "discover", "--config", e.config(nil))
	cats := r.OfType(protocol.TypeCatalog)
	if r.Code != 0 || len(cats) != 1 {
		e.t.Fatalf("discover: exit %d, %d catalogs\n%s%s", r.Code, len(cats), r.Stdout, r.Stderr)
	}
	return cats[0].Catalog
}

// run runs a read and checks what holds for every read, failed or not.
func (e *env) run(catalog string, over map[string]any, extra ...string) *st.Result {
	e.t.Helper()
	r := st.RunChecked(e.t, e.bin, e.discover(), append([]string{"read", "--config", e.config(over), "--catalog", catalog}, extra...)...)
	e.noSecrets(r)
	return r
}

// read runs a read that must succeed, with the full lifecycle checks.
func (e *env) read(catalog string, extra ...string) *st.Result {
	e.t.Helper()
	r := e.run(catalog, nil, extra...)
	st.Succeeded(e.t, r)
	return r
}

// jwtPattern is what a signed token looks like (base64url header starting
// {"alg" or {"typ", then two more parts).
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`)

// noSecrets fails when the output holds the private key (any line of its
// body) or a token.
func (e *env) noSecrets(r *st.Result) {
	e.t.Helper()
	for _, out := range [][]byte{r.Stdout, r.Stderr} {
		for _, line := range strings.Split(e.fake.PrivateKeyPEM(), "\n") {
			if len(line) > 20 && strings.Contains(string(out), line) {
				e.t.Fatalf("output contains a line of the private key")
			}
		}
		if m := jwtPattern.Find(out); m != nil {
			e.t.Fatalf("output contains a token %.20q…", m)
		}
	}
}

// without decodes a record and drops the connector's fields, to compare it
// with the row the fake served.
func without(t *testing.T, raw json.RawMessage, added ...string) string {
	t.Helper()
	var m map[string]any
	st.Must(t, json.Unmarshal(raw, &m), "record")
	for _, k := range added {
		delete(m, k)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func canonical(t *testing.T, raw json.RawMessage) string { return without(t, raw) }

var txAdded = []string{"account_key", "account_uid", "session_id", "transaction_key", "signed_amount"}

// txRec is what the tests read of a transaction record.
type txRec struct {
	AccountKey string  `json:"account_key"`
	AccountUID string  `json:"account_uid"`
	Key        string  `json:"transaction_key"`
	PendingKey string  `json:"pending_key"`
	Signed     *string `json:"signed_amount"`
	Indicator  string  `json:"credit_debit_indicator"`
	Amount     struct {
		Amount string `json:"amount"`
	} `json:"transaction_amount"`
}

func decodeTx(t *testing.T, raw json.RawMessage) txRec {
	t.Helper()
	var r txRec
	st.Must(t, json.Unmarshal(raw, &r), "record")
	return r
}

// mergeByKey merges the transactions of reads as a destination does, by
// primary key (account_key|transaction_key), the later read winning.
func mergeByKey(t *testing.T, reads ...*st.Result) map[string]json.RawMessage {
	t.Helper()
	merged := map[string]json.RawMessage{}
	for _, r := range reads {
		for _, raw := range r.Records()["transactions"] {
			x := decodeTx(t, raw)
			merged[x.AccountKey+"|"+x.Key] = raw
		}
	}
	return merged
}

// byUID groups the records of a stream by account uid.
func byUID(t *testing.T, recs []json.RawMessage) map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	for _, raw := range recs {
		x := decodeTx(t, raw)
		out[x.AccountUID] = append(out[x.AccountUID], raw)
	}
	return out
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// extraFields are the fields the fake sends on purpose that no schema
// knows, standing for what banks add: they must pass through, undeclared.
var extraFields = []string{"x_bank_field", "x_bank_extension"}

// checkDeclared fails on any record field, at any depth, that the stream's
// schema does not declare (but extraFields): the schemas must name every
// field of the reference's objects the fake serves.
func checkDeclared(t *testing.T, cat *protocol.Catalog, recs map[string][]json.RawMessage) {
	t.Helper()
	extras := map[string]bool{}
	for _, s := range cat.Streams {
		var schema map[string]any
		st.Must(t, json.Unmarshal(s.JSONSchema, &schema), "schema")
		missing := map[string]bool{}
		for _, raw := range recs[s.Name] {
			var v any
			st.Must(t, json.Unmarshal(raw, &v), "record")
			undeclared(schema, v, s.Name, missing, extras)
		}
		for f := range missing {
			t.Errorf("field %s is not declared in the schema", f)
		}
	}
	for _, f := range extraFields {
		if !extras[f] {
			t.Errorf("the fake's undeclared field %s never reached the output: an unknown field must pass through", f)
		}
	}
}

func undeclared(schema map[string]any, v any, path string, missing, extras map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, child := range x {
			ps, ok := props[k].(map[string]any)
			switch {
			case ok:
				undeclared(ps, child, path+"."+k, missing, extras)
			case slices.Contains(extraFields, k):
				extras[k] = true
			default:
				missing[path+"."+k] = true
			}
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, child := range x {
			undeclared(items, child, path+"[]", missing, extras)
		}
	}
}
