package sourcetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// CheckSpecRules asserts the acceptance tests' spec rules (connector
// protocols reference §8.1): secret-sounding properties are airbyte_secret,
// and only strings and numbers are; no forbidden keywords,
// additionalProperties only true, type arrays only [T, "null"], objects
// with properties, array items of one type, oneOf variants with
// properties, distinct enum values, no order twice within a group, group
// only on top-level properties, display_type only beside oneOf. Beyond
// them, what the platform's form needs: every top-level property has a
// title, a description and an order, and its default and examples are
// values it accepts (a default it refuses is a form that cannot be saved
// untouched).
func CheckSpecRules(t testing.TB, raw json.RawMessage) {
	t.Helper()
	var spec map[string]any
	Must(t, json.Unmarshal(raw, &spec), "spec JSON")
	secretNames := map[string]bool{"client_token": true, "access_token": true, "api_token": true, "token": true, "secret": true, "client_secret": true, "password": true, "key": true, "service_account_info": true, "service_account": true, "tenant_id": true, "certificate": true, "jwt": true, "credentials": true, "app_id": true, "appid": true, "refresh_token": true}
	forbidden := []string{"not", "anyOf", "patternProperties", "prefixItems", "allOf", "if", "then", "else", "dependentSchemas", "dependentRequired", "$ref"}
	var walk func(path string, node map[string]any, isPropertiesMap bool)
	walk = func(path string, node map[string]any, isPropertiesMap bool) {
		if isPropertiesMap {
			// No two properties of a group share an order: the form's
			// field order would be undefined.
			orders := map[string]string{}
			for name, v := range node {
				child, _ := v.(map[string]any)
				if secretNames[strings.ToLower(name)] && child["airbyte_secret"] != true {
					t.Errorf("%s.%s must be airbyte_secret", path, name)
				}
				if child["airbyte_secret"] == true && !typeAmong(child["type"], "string", "integer", "number") {
					t.Errorf("%s.%s is airbyte_secret but typed %v: only strings and numbers can be", path, name, child["type"])
				}
				if _, ok := child["group"]; ok && path != "spec" {
					t.Errorf("%s.%s: group is for top-level properties only", path, name)
				}
				if path == "spec" {
					for _, k := range []string{"title", "description", "order"} {
						if _, ok := child[k]; !ok {
							t.Errorf("%s.%s has no %s", path, name, k)
						}
					}
				}
				checkSpecValues(t, path+"."+name, v)
				if o, ok := child["order"]; ok {
					k := fmt.Sprint(child["group"], "/", o)
					if other, dup := orders[k]; dup {
						t.Errorf("%s.%s and %s.%s share order %v", path, name, path, other, o)
					}
					orders[k] = name
				}
				walk(path+"."+name, child, false)
			}
			return
		}
		for _, k := range forbidden {
			if _, ok := node[k]; ok {
				t.Errorf("%s uses forbidden keyword %s", path, k)
			}
		}
		if ap, ok := node["additionalProperties"]; ok && ap != true {
			t.Errorf("%s: additionalProperties must be true", path)
		}
		switch ty := node["type"].(type) {
		case []any:
			if len(ty) != 2 || ty[1] != "null" {
				t.Errorf("%s: type array must be [T, null], got %v", path, ty)
			}
		case string:
			if ty == "object" && node["properties"] == nil && node["oneOf"] == nil {
				t.Errorf("%s: object without properties", path)
			}
		}
		if dt, ok := node["display_type"]; ok && (node["oneOf"] == nil || (dt != "dropdown" && dt != "radio")) {
			t.Errorf("%s: display_type %v, which is only for a oneOf, as dropdown or radio", path, dt)
		}
		if items, ok := node["items"]; ok {
			it, _ := items.(map[string]any)
			if it == nil || it["enum"] == nil && !typeAmong(it["type"], "object", "string", "number", "integer") {
				t.Errorf("%s: items must be one type (object, string, number or integer) or an enum, got %v", path, items)
			}
		}
		if variants, ok := node["oneOf"].([]any); ok {
			for i, v := range variants {
				if vm, _ := v.(map[string]any); vm["properties"] == nil {
					t.Errorf("%s.oneOf[%d] has no properties", path, i)
				}
			}
		}
		if e, ok := node["enum"].([]any); ok {
			seen := map[any]bool{}
			for _, v := range e {
				if seen[v] {
					t.Errorf("%s: duplicate enum value %v", path, v)
				}
				seen[v] = true
			}
		}
		if p, ok := node["properties"].(map[string]any); ok {
			walk(path, p, true)
		}
		if it, ok := node["items"].(map[string]any); ok {
			walk(path+"[]", it, false)
		}
	}
	walk("spec", spec, false)
}

// typeAmong reports whether a schema's type (a string, or [T, "null"]) is
// one of types.
func typeAmong(ty any, types ...string) bool {
	switch ty := ty.(type) {
	case string:
		return slices.Contains(types, ty)
	case []any:
		for _, x := range ty {
			if s, _ := x.(string); s != "null" && !slices.Contains(types, s) {
				return false
			}
		}
		return len(ty) > 0
	}
	return false
}

// checkSpecValues checks that the default and every example of the spec
// property at path are values the property itself accepts.
func checkSpecValues(t testing.TB, path string, prop any) {
	t.Helper()
	m, _ := prop.(map[string]any)
	values := map[string]any{}
	if d, ok := m["default"]; ok {
		values["default"] = d
	}
	if ex, ok := m["examples"].([]any); ok {
		for i, x := range ex {
			values[fmt.Sprintf("examples[%d]", i)] = x
		}
	}
	if len(values) == 0 {
		return
	}
	raw, err := json.Marshal(prop)
	Must(t, err, path)
	sch, err := source.CompileSchema(path, raw)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	for what, v := range values {
		b, err := json.Marshal(v)
		Must(t, err, path)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		Must(t, err, path)
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: its %s %s is not a value it accepts: %s", path, what, b, strings.Join(source.Problems(path, err), "; "))
		}
	}
}

// CheckConfigMatchesSpec asserts what the acceptance tests' spec test does
// of the config the other tests run with: with its keys starting with "_"
// left out, it is valid against the spec's connectionSpecification (the
// form a platform validates it with), formats asserted.
func CheckConfigMatchesSpec(t testing.TB, spec json.RawMessage, cfg map[string]any) {
	t.Helper()
	sch, err := source.CompileSchema("spec", spec)
	Must(t, err, "spec")
	kept := map[string]any{}
	for k, v := range cfg {
		if !strings.HasPrefix(k, "_") {
			kept[k] = v
		}
	}
	b, err := json.Marshal(kept)
	Must(t, err, "config")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	Must(t, err, "config")
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the tests' config does not match the spec: %s", strings.Join(source.Problems("config", err), "; "))
	}
}

// CheckCatalog asserts the acceptance tests' discover rules (§8.3): unique
// names, sync modes starting with full_refresh, draft-07 schemas without
// $ref/allOf/not whose additionalProperties are only true, primary keys
// present and not object or array typed,
// cursors source-defined and in the schema. incremental lists the streams
// that must support incremental; every other stream must not.
func CheckCatalog(t testing.TB, cat *protocol.Catalog, incremental map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range cat.Streams {
		if seen[s.Name] {
			t.Errorf("stream %s twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.SupportedSyncModes) == 0 || s.SupportedSyncModes[0] != protocol.FullRefresh {
			t.Errorf("%s: sync modes %v must start with full_refresh", s.Name, s.SupportedSyncModes)
		}
		if incr, known := incremental[s.Name]; known && incr != (len(s.SupportedSyncModes) == 2) {
			t.Errorf("%s: sync modes %v", s.Name, s.SupportedSyncModes)
		}
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		Must(t, json.Unmarshal(s.JSONSchema, &schema), s.Name)
		if _, err := source.CompileSchema(s.Name, s.JSONSchema); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		for _, kw := range []string{`"$ref"`, `"allOf"`, `"not"`} {
			if bytes.Contains(s.JSONSchema, []byte(kw)) {
				t.Errorf("%s: schema uses %s", s.Name, kw)
			}
		}
		for _, p := range closedObjects(decodeNumbers(t, s.JSONSchema), s.Name) {
			t.Errorf("%s: additionalProperties is not true: a field the API adds would fail its records", p)
		}
		for _, pk := range s.SourceDefinedPrimaryKey {
			var prop struct {
				Type any `json:"type"`
			}
			if err := json.Unmarshal(schema.Properties[pk[0]], &prop); err != nil || prop.Type == nil {
				t.Errorf("%s: primary key %v not in schema", s.Name, pk)
			}
			if ts, _ := json.Marshal(prop.Type); strings.Contains(string(ts), "object") || strings.Contains(string(ts), "array") {
				t.Errorf("%s: primary key %v typed %s", s.Name, pk, ts)
			}
		}
		if s.DefaultCursorField != nil {
			if _, ok := schema.Properties[s.DefaultCursorField[0]]; !ok || !s.SourceDefinedCursor {
				t.Errorf("%s: cursor %v not in schema or not source-defined", s.Name, s.DefaultCursorField)
			}
		}
	}
	for name := range incremental {
		if !seen[name] {
			t.Errorf("stream %s not discovered", name)
		}
	}
}

// closedObjects returns the paths of the schemas in node (through
// properties, items, additionalProperties, oneOf and anyOf) whose
// additionalProperties is there and not true, which the acceptance tests'
// discovery test refuses.
func closedObjects(node any, path string) []string {
	m, _ := node.(map[string]any)
	if m == nil {
		return nil
	}
	var out []string
	if ap, ok := m["additionalProperties"]; ok && ap != true {
		out = append(out, path)
	}
	props, _ := m["properties"].(map[string]any)
	for name, sub := range props {
		out = append(out, closedObjects(sub, path+"."+name)...)
	}
	out = append(out, closedObjects(m["items"], path+"[]")...)
	out = append(out, closedObjects(m["additionalProperties"], path+".*")...)
	for _, kw := range []string{"oneOf", "anyOf"} {
		subs, _ := m[kw].([]any)
		for i, sub := range subs {
			out = append(out, closedObjects(sub, fmt.Sprintf("%s.%s[%d]", path, kw, i))...)
		}
	}
	return out
}

// CheckCatalogFiles keeps catalogs/<name> in step with discover: each file
// must be what source.Configure makes of streams (incremental or not, as
// files says). With update it rewrites them instead; rerun is the command
// that does so, quoted when a file is stale.
func CheckCatalogFiles(t testing.TB, streams []source.Stream, files map[string]bool, update bool, rerun string) {
	t.Helper()
	for name, incremental := range files {
		want, err := json.MarshalIndent(source.Configure(streams, incremental), "", "  ")
		Must(t, err, name)
		want = append(want, '\n')
		path := filepath.Join(RepoRoot(), "catalogs", name)
		if update {
			Must(t, os.WriteFile(path, want, 0o644), name)
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale or missing (%v); run: %s", path, err, rerun)
		}
	}
}

// ConfigFile writes base with over applied (a nil value deletes the key)
// as a config file, and returns its path.
func ConfigFile(t testing.TB, base, over map[string]any) string {
	t.Helper()
	c := map[string]any{}
	for k, v := range base {
		c[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return WriteFile(t, "config.json", c)
}

// CatalogFile writes the configured catalog of src's streams (opened with
// cfg) as source.Configure makes it, keeping only the streams named in
// only when there are any, and returns its path.
func CatalogFile(t testing.TB, src source.Source, cfg map[string]any, incremental bool, only ...string) string {
	t.Helper()
	raw, err := json.Marshal(cfg)
	Must(t, err, "config")
	conn, err := src.Open(context.Background(), raw, source.Env{})
	Must(t, err, "open")
	defer conn.Close()
	cat := source.Configure(conn.Streams(), incremental)
	if len(only) > 0 {
		keep := cat.Streams[:0]
		for _, s := range cat.Streams {
			if slices.Contains(only, s.Stream.Name) {
				keep = append(keep, s)
			}
		}
		cat.Streams = keep
	}
	return WriteFile(t, "catalog.json", cat)
}

// EditCatalog writes a copy of the configured catalog at path as edit
// changes it, and returns the copy's path.
func EditCatalog(t testing.TB, path string, edit func(*protocol.ConfiguredCatalog)) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	Must(t, err, "catalog")
	var cat protocol.ConfiguredCatalog
	Must(t, json.Unmarshal(raw, &cat), "catalog")
	edit(&cat)
	return WriteFile(t, "catalog-edited.json", cat)
}

// StreamStateFile writes a --state file holding one STREAM state, as the
// platform passes it, and returns its path.
func StreamStateFile(t testing.TB, stream string, state any) string {
	t.Helper()
	return WriteFile(t, "state.json", []any{map[string]any{"type": "STREAM", "stream": map[string]any{
		"stream_descriptor": map[string]any{"name": stream},
		"stream_state":      state,
	}}})
}

// StreamStates reads a --state file (an array of STREAM states, as
// Result.StateFile writes one) and returns each stream's state by name.
func StreamStates(t testing.TB, path string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	Must(t, err, "state file")
	var msgs []protocol.State
	Must(t, json.Unmarshal(b, &msgs), "state file")
	out := map[string]json.RawMessage{}
	for _, m := range msgs {
		if m.Stream != nil {
			out[m.Stream.StreamDescriptor.Name] = m.Stream.StreamState
		}
	}
	return out
}

// CheckFutureState asserts what the acceptance tests' abnormal-state test
// does: a read from a state far in the future emits no record of stream
// and still at least one STATE.
func CheckFutureState(t testing.TB, r *Result, stream string) {
	t.Helper()
	if n := len(r.Records()[stream]); n != 0 {
		t.Fatalf("future state read %d %s records", n, stream)
	}
	if len(r.OfType(protocol.TypeState)) < 1 {
		t.Fatal("no STATE after a future state")
	}
}

// ClosedPort returns a loopback port nothing listens on, and that nothing
// else can take until the test ends (see reservePort).
func ClosedPort(t testing.TB) string {
	t.Helper()
	port, release, err := reservePort()
	Must(t, err, "reserving a closed port")
	t.Cleanup(release)
	return strconv.Itoa(port)
}

// RunPlain runs a human-facing command (a demo) and returns its stdout,
// failing the test when it exits non-zero.
func RunPlain(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out)
}

// Tail is the end of a long output, for failure messages.
func Tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// Usage is a command line a usage test runs and what it must answer: the
// exit code, and text that stdout or stderr (From) holds.
type Usage struct {
	Args       []string
	Code       int
	Want, From string
}

// CheckUsage runs bin with prefix and each case's Args, and checks the exit
// code, that From ("stdout" or "stderr") holds Want and flag (the usage was
// printed with the flags), and that a failing command printed nothing on
// stdout.
func CheckUsage(t *testing.T, bin string, prefix []string, flag string, cases []Usage) {
	t.Helper()
	for _, c := range cases {
		stdout, stderr, code := Exec(t, bin, append(slices.Clone(prefix), c.Args...)...)
		got := map[string]string{"stdout": string(stdout), "stderr": string(stderr)}
		if code != c.Code || !strings.Contains(got[c.From], c.Want) || !strings.Contains(got[c.From], flag) {
			t.Errorf("%v: exit %d, want %d with %q and %s on %s\nstdout:\n%s\nstderr:\n%s", c.Args, code, c.Code, c.Want, flag, c.From, stdout, stderr)
		}
		if c.Code != 0 && len(stdout) > 0 {
			t.Errorf("%v printed on stdout:\n%s", c.Args, stdout)
		}
	}
}

// AccountStatesKept checks that, in each of streams, the state after a read
// holds for each of accounts the entry the state before held: a read that
// could not reach those accounts (their consent expired) hands their place
// on as it was, for the re-link to carry over. The accounts stream's
// synced_at is left out of the comparison: it is when a read last emitted
// the account, which that read still does (its kept details beside what
// the provider still serves without the bank), in whatever second it runs.
func AccountStatesKept(t testing.TB, before, after map[string]json.RawMessage, streams, accounts []string) {
	t.Helper()
	entries := func(stream string, raw json.RawMessage) map[string]map[string]json.RawMessage {
		var s struct {
			Accounts map[string]map[string]json.RawMessage `json:"accounts"`
		}
		Must(t, json.Unmarshal(raw, &s), stream+" state")
		if stream == "accounts" {
			for _, e := range s.Accounts {
				delete(e, "synced_at")
			}
		}
		return s.Accounts
	}
	for _, stream := range streams {
		b, a := entries(stream, before[stream]), entries(stream, after[stream])
		for _, key := range accounts {
			bj, _ := json.Marshal(b[key])
			aj, _ := json.Marshal(a[key])
			if b[key] == nil || string(aj) != string(bj) {
				t.Errorf("%s state of account %s: %s after the read, %s before", stream, key, aj, bj)
			}
		}
	}
}

// CheckFullRefreshRepeatable asserts what the acceptance tests' full-refresh
// test asks of two full-refresh reads of cat's streams run one after the
// other: each record of the second was emitted after every record of the
// first (emitted_at is when a record was emitted), and, as that test's
// earlier version asked and a destination overwriting each run relies on,
// both reads hold the same records under the same primary keys (streams
// without one: the same records), each read each key once. volatile names,
// per stream, the top-level fields left out of the comparison: values that
// are the time of the read or the API's count of reads (documented as such).
func CheckFullRefreshRepeatable(t testing.TB, first, second *Result, cat *protocol.Catalog, volatile map[string][]string) {
	t.Helper()
	var last, firstOfSecond int64 = -1, -1
	for _, m := range first.Messages {
		if m.Record != nil && m.Record.EmittedAt > last {
			last = m.Record.EmittedAt
		}
	}
	for _, m := range second.Messages {
		if m.Record != nil && (firstOfSecond < 0 || m.Record.EmittedAt < firstOfSecond) {
			firstOfSecond = m.Record.EmittedAt
		}
	}
	if last < 0 {
		t.Fatal("the first full-refresh read emitted no record")
	}
	if firstOfSecond <= last {
		t.Errorf("the second read emitted a record at %d, not after the first read's last at %d", firstOfSecond, last)
	}
	a, b := first.Records(), second.Records()
	for _, s := range cat.Streams {
		rows := func(records []json.RawMessage) map[string][]string {
			out := map[string][]string{}
			for _, raw := range records {
				var row map[string]json.RawMessage
				Must(t, json.Unmarshal(raw, &row), s.Name, " record")
				key := ""
				if len(s.SourceDefinedPrimaryKey) > 0 {
					key = keyOf(row, s.SourceDefinedPrimaryKey)
				}
				for _, f := range volatile[s.Name] {
					delete(row, f)
				}
				kept, err := json.Marshal(row)
				Must(t, err, s.Name)
				c := string(Canonical(t, kept))
				if key == "" {
					key = c
				}
				out[key] = append(out[key], c)
			}
			return out
		}
		ra, rb := rows(a[s.Name]), rows(b[s.Name])
		if len(ra) == 0 {
			t.Errorf("stream %s: the first full-refresh read emitted no record", s.Name)
		}
		for key, va := range ra {
			vb := rb[key]
			switch {
			case len(s.SourceDefinedPrimaryKey) > 0 && (len(va) != 1 || len(vb) > 1):
				t.Errorf("stream %s: key %s read %d times, then %d times", s.Name, key, len(va), len(vb))
			case len(vb) == 0:
				t.Errorf("stream %s: %s is in the first read only", s.Name, key)
			case len(s.SourceDefinedPrimaryKey) > 0 && va[0] != vb[0]:
				t.Errorf("stream %s: key %s differs between the reads:\n%s\n%s", s.Name, key, truncate([]byte(va[0])), truncate([]byte(vb[0])))
			case len(va) != len(vb):
				t.Errorf("stream %s: %s read %d times, then %d times", s.Name, truncate([]byte(key)), len(va), len(vb))
			}
		}
		for key := range rb {
			if _, ok := ra[key]; !ok {
				t.Errorf("stream %s: %s is in the second read only", s.Name, truncate([]byte(key)))
			}
		}
	}
}

// CheckReReadIdentical asserts of two reads of cat's streams, the second
// resumed from the first's state with nothing changed at the API between
// them, that every record the second emits under a primary key the first
// emitted is the same record, but for volatile (see
// CheckFullRefreshRepeatable): a lookback or a snapshot stream reads rows
// again on purpose, and they may only come back as they were (or newer,
// which an unchanged API has none of). It returns, per stream, how many
// records the second read emitted again.
func CheckReReadIdentical(t testing.TB, first, second *Result, cat *protocol.Catalog, volatile map[string][]string) map[string]int {
	t.Helper()
	again := map[string]int{}
	a, b := first.Records(), second.Records()
	for _, s := range cat.Streams {
		if len(s.SourceDefinedPrimaryKey) == 0 {
			continue
		}
		canon := func(raw json.RawMessage) (key, body string) {
			var row map[string]json.RawMessage
			Must(t, json.Unmarshal(raw, &row), s.Name, " record")
			key = keyOf(row, s.SourceDefinedPrimaryKey)
			for _, f := range volatile[s.Name] {
				delete(row, f)
			}
			kept, err := json.Marshal(row)
			Must(t, err, s.Name)
			return key, string(Canonical(t, kept))
		}
		seen := map[string]string{}
		for _, raw := range a[s.Name] {
			k, body := canon(raw)
			seen[k] = body
		}
		for _, raw := range b[s.Name] {
			k, body := canon(raw)
			old, ok := seen[k]
			if !ok {
				continue
			}
			again[s.Name]++
			if old != body {
				t.Errorf("stream %s: key %s came again from the resumed read with other content, though nothing changed:\n%s\n%s", s.Name, k, truncate([]byte(old)), truncate([]byte(body)))
			}
		}
	}
	return again
}

// CheckTraceOnFailure runs what the acceptance tests' basic-read test
// test_airbyte_trace_message_on_failure runs: a read of a catalog naming a
// stream no source has, in sync modes the protocol does not have. It must
// say why in at least one ERROR trace (a non-zero exit is expected), every
// line valid against the protocol.
func CheckTraceOnFailure(t testing.TB, bin, config string) {
	t.Helper()
	catalog := WriteFile(t, "catalog.json", map[string]any{"streams": []any{map[string]any{
		"stream":    map[string]any{"name": "__AIRBYTE__stream_that_does_not_exist", "json_schema": map[string]any{}, "supported_sync_modes": []string{"full_refresh"}},
		"sync_mode": "INVALID", "destination_sync_mode": "INVALID",
	}}})
	r := Run(t, bin, "read", "--config", config, "--catalog", catalog)
	ValidateProtocol(t, r)
	if len(r.ErrorTraces()) == 0 {
		t.Errorf("a read of a stream that does not exist printed no ERROR trace (exit %d)\n%s", r.Code, Tail(r.Stdout))
	}
}
