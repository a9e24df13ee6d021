package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/singer"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run the built binary as a Singer tap: through a symlink named
// tap-pluggy (and as `source-pluggy singer`), against the fake Pluggy API,
// and compare what it emits with the Airbyte mode's output for the same data.

// tapBin is a symlink named tap-pluggy to the built source-pluggy.
func tapBin(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "tap-pluggy")
	st.Must(t, os.Symlink(st.Build(t, "source-pluggy"), link), "symlink")
	return link
}

type singerMsg struct {
	Type               string          `json:"type"`
	Stream             string          `json:"stream"`
	Schema             json.RawMessage `json:"schema"`
	KeyProperties      []string        `json:"key_properties"`
	BookmarkProperties []string        `json:"bookmark_properties"`
	Record             json.RawMessage `json:"record"`
	TimeExtracted      string          `json:"time_extracted"`
	Value              json.RawMessage `json:"value"`
	Version            *int64          `json:"version"`
}

type singerRun struct {
	code           int
	stdout, stderr []byte
	msgs           []singerMsg
}

// runSinger runs bin; with parse it fails the test on any stdout line that is
// not a Singer message.
func runSinger(t *testing.T, parse bool, bin string, args ...string) *singerRun {
	t.Helper()
	r := &singerRun{}
	r.stdout, r.stderr, r.code = st.Exec(t, bin, args...)
	if !parse {
		return r
	}
	sc := bufio.NewScanner(bytes.NewReader(r.stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m singerMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Type == "" {
			t.Fatalf("stdout line is not a Singer message: %.300s", sc.Text())
		}
		r.msgs = append(r.msgs, m)
	}
	return r
}

func (r *singerRun) records() map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	for _, m := range r.msgs {
		if m.Type == "RECORD" {
			out[m.Stream] = append(out[m.Stream], m.Record)
		}
	}
	return out
}

func (r *singerRun) states() []json.RawMessage {
	var out []json.RawMessage
	for _, m := range r.msgs {
		if m.Type == "STATE" {
			out = append(out, m.Value)
		}
	}
	return out
}

// bookmarks is the last STATE value's bookmarks.
func (r *singerRun) bookmarks(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	states := r.states()
	if len(states) == 0 {
		t.Fatal("no STATE")
	}
	var v struct {
		Bookmarks map[string]json.RawMessage `json:"bookmarks"`
	}
	st.Must(t, json.Unmarshal(states[len(states)-1], &v), "STATE value")
	return v.Bookmarks
}

// sync runs a Singer sync and checks what holds for every successful one:
// exit 0; SCHEMA before a stream's first RECORD, with key_properties and
// bookmark_properties; every record valid against that SCHEMA (so a
// deselected field is gone from both), with no member the SCHEMA does not
// declare; time_extracted RFC 3339 UTC; no secret and no CRITICAL on
// stderr.
func (e *env) sync(bin string, args ...string) *singerRun {
	e.t.Helper()
	r := runSinger(e.t, true, bin, args...)
	if r.code != 0 {
		e.t.Fatalf("sync exited %d:\n%s", r.code, r.stderr)
	}
	schemas := map[string]*jsonschema.Schema{}
	declared := map[string]map[string]json.RawMessage{}
	for i, m := range r.msgs {
		switch m.Type {
		case "SCHEMA":
			if m.KeyProperties == nil || m.BookmarkProperties == nil {
				e.t.Errorf("SCHEMA of %s without key_properties or bookmark_properties", m.Stream)
			}
			sch, err := source.CompileSchema(m.Stream, m.Schema)
			st.Must(e.t, err, "SCHEMA of ", m.Stream)
			schemas[m.Stream] = sch
			var decl struct {
				Properties map[string]json.RawMessage `json:"properties"`
			}
			st.Must(e.t, json.Unmarshal(m.Schema, &decl), "SCHEMA of ", m.Stream)
			declared[m.Stream] = decl.Properties
		case "RECORD":
			sch := schemas[m.Stream]
			if sch == nil {
				e.t.Fatalf("line %d: RECORD of %s before its SCHEMA", i+1, m.Stream)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Record))
			st.Must(e.t, err, "record JSON")
			if err := sch.Validate(inst); err != nil {
				e.t.Errorf("%s record does not match its SCHEMA: %s", m.Stream, strings.Join(source.Problems("record", err), "; "))
			}
			// A target builds its columns from the SCHEMA: target-csv fails on
			// a member it does not declare, target-postgres drops it.
			var members map[string]json.RawMessage
			st.Must(e.t, json.Unmarshal(m.Record, &members), "record")
			for name := range members {
				if _, ok := declared[m.Stream][name]; !ok {
					e.t.Fatalf("line %d: a %s record has %q, which its SCHEMA does not declare: %.300s", i+1, m.Stream, name, m.Record)
				}
			}
			if ts, err := time.Parse(time.RFC3339Nano, m.TimeExtracted); err != nil || !strings.HasSuffix(m.TimeExtracted, "Z") || time.Since(ts) > 5*time.Minute {
				e.t.Errorf("time_extracted %q is not a recent RFC 3339 UTC time", m.TimeExtracted)
			}
		case "STATE":
		case "ACTIVATE_VERSION":
			if schemas[m.Stream] == nil {
				e.t.Fatalf("line %d: ACTIVATE_VERSION of %s before its SCHEMA", i+1, m.Stream)
			}
		default:
			e.t.Errorf("unexpected %s message", m.Type)
		}
	}
	for _, out := range [][]byte{r.stdout, r.stderr} {
		if bytes.Contains(out, []byte(e.fake.ClientSecret())) {
			e.t.Fatal("output contains the client secret")
		}
	}
	if bytes.Contains(r.stderr, []byte("CRITICAL")) {
		e.t.Errorf("a successful sync logged CRITICAL:\n%s", r.stderr)
	}
	return r
}

func (e *env) singerCatalog(bin, config string) singer.Catalog {
	e.t.Helper()
	r := runSinger(e.t, false, bin, "--config", config, "--discover")
	if r.code != 0 {
		e.t.Fatalf("--discover exited %d:\n%s", r.code, r.stderr)
	}
	var cat singer.Catalog
	st.Must(e.t, json.Unmarshal(r.stdout, &cat), "--discover output")
	return cat
}

func TestSingerAbout(t *testing.T) {
	bin := tapBin(t)
	text := runSinger(t, false, bin, "--about")
	for _, want := range []string{"Name: tap-pluggy", "Capabilities: about, activate-version, catalog, discover, state", "client_secret (string, required, secret)", "item_ids (array, required)"} {
		if text.code != 0 || !strings.Contains(string(text.stdout), want) {
			t.Errorf("--about lacks %q:\n%s", want, text.stdout)
		}
	}
	for _, args := range [][]string{{bin, "--about", "--format=json"}, {st.Build(t, "source-pluggy"), "singer", "--about", "--format", "json"}} {
		r := runSinger(t, false, args[0], args[1:]...)
		var about struct {
			Name         string   `json:"name"`
			Version      string   `json:"version"`
			Capabilities []string `json:"capabilities"`
			Settings     struct {
				Required   []string `json:"required"`
				Properties map[string]struct {
					Secret bool `json:"secret"`
				} `json:"properties"`
			} `json:"settings"`
		}
		if r.code != 0 || json.Unmarshal(r.stdout, &about) != nil {
			t.Fatalf("%v: exit %d %s", args[1:], r.code, r.stdout)
		}
		if about.Name != "tap-pluggy" || about.Version != source.Version || !reflect.DeepEqual(about.Capabilities, []string{"about", "activate-version", "catalog", "discover", "state"}) {
			t.Errorf("about: %+v", about)
		}
		if !about.Settings.Properties["client_secret"].Secret || about.Settings.Properties["client_id"].Secret || !reflect.DeepEqual(about.Settings.Required, []string{"client_id", "client_secret", "item_ids"}) {
			t.Errorf("about settings: %+v", about.Settings)
		}
	}
}

func TestSingerDiscover(t *testing.T) {
	e := newEnv(t, fake.Options{})
	bin := tapBin(t)
	cat := e.singerCatalog(bin, e.config(nil))
	airbyte := e.discover()
	if len(cat.Streams) != len(airbyte.Streams) {
		t.Fatalf("%d Singer streams, %d Airbyte streams", len(cat.Streams), len(airbyte.Streams))
	}
	for i, s := range cat.Streams {
		a := airbyte.Streams[i]
		// The Singer schema is the Airbyte one plus the members Singer mode
		// adds (TestSingerDiscoverDeclaresSchemaFields).
		var singerSchema map[string]any
		st.Must(t, json.Unmarshal(s.Schema, &singerSchema), "schema")
		added := 0
		if props, ok := singerSchema["properties"].(map[string]any); ok {
			for _, name := range []string{"_leftovers", "_sdc_deleted_at"} {
				if _, ok := props[name]; ok {
					delete(props, name)
					added++
				}
			}
		}
		withoutAdded, _ := json.Marshal(singerSchema)
		if s.TapStreamID != a.Name || s.Stream != a.Name || !sameJSON(t, withoutAdded, a.JSONSchema) {
			t.Errorf("stream %d: %s vs Airbyte %s (or its schema differs)", i, s.TapStreamID, a.Name)
		}
		var root map[string]any
		fields := map[string]string{}
		for _, m := range s.Metadata {
			switch {
			case len(m.Breadcrumb) == 0:
				root = m.Metadata
			case len(m.Breadcrumb) == 2 && m.Breadcrumb[0] == "properties":
				fields[m.Breadcrumb[1]], _ = m.Metadata["inclusion"].(string)
			default:
				t.Errorf("%s: unexpected breadcrumb %v", s.TapStreamID, m.Breadcrumb)
			}
		}
		if root == nil || root["inclusion"] != "available" || root["selected-by-default"] != true {
			t.Errorf("%s: stream metadata %v", s.TapStreamID, root)
		}
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		st.Must(t, json.Unmarshal(a.JSONSchema, &schema), "schema")
		if len(fields) != len(schema.Properties)+added || fields["_leftovers"] != "automatic" {
			t.Errorf("%s: %d field breadcrumbs for %d properties and %d added by Singer mode; _leftovers %q", s.TapStreamID, len(fields), len(schema.Properties), added, fields["_leftovers"])
		}
		if fields["id"] != "automatic" || !reflect.DeepEqual(s.KeyProperties, []string{"id"}) {
			t.Errorf("%s: id is %q, key_properties %v", s.TapStreamID, fields["id"], s.KeyProperties)
		}
		if a.SourceDefinedCursor {
			cursor := a.DefaultCursorField[0]
			if s.ReplicationKey != cursor || s.ReplicationMethod != "INCREMENTAL" || fields[cursor] != "automatic" || !reflect.DeepEqual(root["valid-replication-keys"], []any{cursor}) {
				t.Errorf("%s: replication %s %s, cursor inclusion %q, metadata %v", s.TapStreamID, s.ReplicationMethod, s.ReplicationKey, fields[cursor], root)
			}
		} else if s.ReplicationMethod != "FULL_TABLE" || root["forced-replication-method"] != "FULL_TABLE" {
			t.Errorf("%s: replication %s, metadata %v", s.TapStreamID, s.ReplicationMethod, root)
		}
	}
	if e.singerEntry(cat, "transactions").ReplicationKey != "createdAt" {
		t.Error("transactions does not replicate on createdAt")
	}
}

func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	var x, y any
	st.Must(t, json.Unmarshal(a, &x), "JSON")
	st.Must(t, json.Unmarshal(b, &y), "JSON")
	return reflect.DeepEqual(x, y)
}

func (e *env) singerEntry(cat singer.Catalog, name string) *singer.CatalogEntry {
	for i := range cat.Streams {
		if cat.Streams[i].TapStreamID == name {
			return &cat.Streams[i]
		}
	}
	e.t.Fatalf("no stream %s in the Singer catalog", name)
	return nil
}

func setSelected(entry *singer.CatalogEntry, selected bool, breadcrumb ...string) {
	setMetadata(entry, "selected", selected, breadcrumb...)
}

// setMetadata sets key to value in the entry's metadata at breadcrumb (the
// stream's [] when none), adding the breadcrumb if the entry lacks it.
func setMetadata(entry *singer.CatalogEntry, key string, value any, breadcrumb ...string) {
	if breadcrumb == nil {
		breadcrumb = []string{}
	}
	for _, m := range entry.Metadata {
		if reflect.DeepEqual(m.Breadcrumb, breadcrumb) {
			m.Metadata[key] = value
			return
		}
	}
	entry.Metadata = append(entry.Metadata, singer.Metadata{Breadcrumb: breadcrumb, Metadata: map[string]any{key: value}})
}

func TestSingerSyncWithSelection(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	bin := tapBin(t)
	config := e.config(nil)
	cat := e.singerCatalog(bin, config)
	setSelected(e.singerEntry(cat, "categories"), false)
	tx := e.singerEntry(cat, "transactions")
	setSelected(tx, false, "properties", "description")
	setSelected(tx, false, "properties", "accountId") // required in the schema: must leave "required" too
	setSelected(tx, false, "properties", "id")        // automatic: kept anyway
	catalog := st.WriteFile(t, "catalog.json", cat)

	r := e.sync(bin, "--config", config, "--catalog", catalog)
	recs := r.records()
	if len(recs["categories"]) != 0 {
		t.Errorf("deselected categories emitted %d records", len(recs["categories"]))
	}
	for _, m := range r.msgs {
		if m.Stream == "categories" {
			t.Fatalf("deselected categories emitted a %s", m.Type)
		}
	}
	count, _, _ := e.fake.TransactionSummary()
	if len(recs["transactions"]) != count || len(recs["items"]) == 0 || len(recs["accounts"]) == 0 {
		t.Fatalf("transactions %d (fake has %d), items %d, accounts %d", len(recs["transactions"]), count, len(recs["items"]), len(recs["accounts"]))
	}
	for _, raw := range recs["transactions"] {
		var row map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &row), "record")
		_, desc := row["description"]
		_, acct := row["accountId"]
		_, id := row["id"]
		_, amount := row["amount"]
		if desc || acct || !id || !amount {
			t.Fatalf("transaction fields: description %v accountId %v id %v amount %v", desc, acct, id, amount)
		}
	}
	for _, m := range r.msgs {
		if m.Type != "SCHEMA" {
			continue
		}
		want := []string{}
		if entry := e.singerEntry(cat, m.Stream); entry.ReplicationMethod == "INCREMENTAL" {
			want = []string{entry.ReplicationKey}
		}
		if m.Stream == "transactions" {
			var schema struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			st.Must(t, json.Unmarshal(m.Schema, &schema), "SCHEMA")
			_, desc := schema.Properties["description"]
			_, acct := schema.Properties["accountId"]
			if desc || acct || !reflect.DeepEqual(schema.Required, []string{"id"}) {
				t.Errorf("transactions SCHEMA keeps a deselected field: description %v, accountId %v, required %v", desc, acct, schema.Required)
			}
		}
		if !reflect.DeepEqual(m.KeyProperties, []string{"id"}) || !reflect.DeepEqual(m.BookmarkProperties, want) {
			t.Errorf("SCHEMA %s: key_properties %v bookmark_properties %v", m.Stream, m.KeyProperties, m.BookmarkProperties)
		}
	}
	bm := r.bookmarks(t)
	if _, ok := bm["categories"]; ok {
		t.Error("a bookmark for the deselected categories")
	}
	var txState struct {
		Version  int                        `json:"version"`
		Accounts map[string]json.RawMessage `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(bm["transactions"], &txState), "transactions bookmark")
	if txState.Version != 1 || len(txState.Accounts) == 0 {
		t.Errorf("transactions bookmark %s", bm["transactions"])
	}
	// stderr has the logs, with one record_count metric per synced stream.
	if n := bytes.Count(r.stderr, []byte("METRIC: ")); n != len(cat.Streams)-1 {
		t.Errorf("%d record_count metrics for %d streams:\n%s", n, len(cat.Streams)-1, r.stderr)
	}
}

func TestSingerStateRoundTrip(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 60, PageSize: 25})
	bin := tapBin(t)
	e.cfg["lookback_days"] = 0 // both modes: no re-read by date, so a resumed run reads only new rows
	e.cfg["credit_lookback_days"] = 0
	config := e.config(nil)
	catalog := e.transactionsOnly(bin, config)

	first := e.sync(bin, "--config", config, "--catalog", catalog)
	n1 := len(first.records()["transactions"])
	states := first.states()
	state := st.WriteFile(t, "state.json", []byte(states[len(states)-1])) // what a target hands back

	added := e.fake.AddNew(4)
	second := e.sync(bin, "--config", config, "--catalog", catalog, "--state", state)
	got := rows(t, second.records()["transactions"])
	for _, id := range added {
		if _, ok := got[id]; !ok {
			t.Errorf("new row %s not in the second run", id)
		}
	}
	// Only the new rows, and at most the rows of the one-hour createdAt overlap.
	if len(got) < len(added) || len(got) >= n1/2 {
		t.Errorf("second run read %d rows after a first run of %d and %d new", len(got), n1, len(added))
	}
	// The Airbyte mode, from the same bookmarks as an Airbyte state, reads the same rows.
	airbyteState := []protocol.State{{Type: protocol.StateStream, Stream: &protocol.StreamState{
		StreamDescriptor: protocol.StreamDescriptor{Name: "transactions"}, StreamState: first.bookmarks(t)["transactions"],
	}}}
	ab := e.read(e.catalog(true, "transactions"), "--state", st.WriteFile(t, "ab_state.json", airbyteState))
	if abRows := rows(t, ab.Records()["transactions"]); !sameKeys(abRows, got) {
		t.Errorf("from the same state, Airbyte read %d rows, Singer %d", len(abRows), len(got))
	}
	// And the Singer mode takes that Airbyte state file as well.
	viaAirbyte := e.sync(bin, "--config", config, "--catalog", catalog, "--state", st.WriteFile(t, "ab_state.json", airbyteState))
	if r := rows(t, viaAirbyte.records()["transactions"]); !sameKeys(r, got) {
		t.Errorf("from the Airbyte state file, Singer read %d rows, want %d", len(r), len(got))
	}
	// The final bookmark of the second run resumes a third with nothing new: only the overlap.
	third := e.sync(bin, "--config", config, "--catalog", catalog, "--state", st.WriteFile(t, "state2.json", []byte(second.states()[len(second.states())-1])))
	if n := len(third.records()["transactions"]); n > len(got) {
		t.Errorf("an unchanged third run read %d rows, more than the second's %d", n, len(got))
	}
}

// transactionsOnly is the tap's discovered catalog with only transactions
// selected, written to a file.
func (e *env) transactionsOnly(bin, config string) string {
	cat := e.singerCatalog(bin, config)
	for i := range cat.Streams {
		setSelected(&cat.Streams[i], cat.Streams[i].TapStreamID == "transactions")
	}
	return st.WriteFile(e.t, "catalog.json", cat)
}

func sameKeys(a, b map[string]txRow) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// TestSingerMatchesAirbyte reads the same fake data in both modes: the same
// records per stream (as JSON values), the same number of checkpoints, and
// final bookmarks equal to the Airbyte final stream states.
func TestSingerMatchesAirbyte(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 80, PageSize: 30})
	bin := tapBin(t)
	config := e.config(nil)

	ab := e.read(e.catalog(true))
	sg := e.sync(st.Build(t, "source-pluggy"), "singer", "--config", config) // no catalog: every stream, incremental where it can be

	abRecs, sgRecs := ab.Records(), sg.records()
	if len(abRecs) == 0 || len(abRecs["transactions"]) == 0 {
		t.Fatal("the Airbyte read emitted no transactions")
	}
	for _, name := range unionKeys(abRecs, sgRecs) {
		a, s := canonical(t, abRecs[name]), canonical(t, sgRecs[name])
		if !reflect.DeepEqual(a, s) {
			t.Errorf("stream %s: Airbyte %d records, Singer %d, or they differ", name, len(a), len(s))
		}
	}
	abStates := ab.OfType(protocol.TypeState)
	if len(sg.states()) != len(abStates) {
		t.Errorf("%d Singer STATEs, %d Airbyte STATEs: checkpoints differ", len(sg.states()), len(abStates))
	}
	final := map[string]json.RawMessage{}
	for _, m := range abStates {
		final[m.State.Stream.StreamDescriptor.Name] = m.State.Stream.StreamState
	}
	bm := sg.bookmarks(t)
	if len(bm) != len(final) {
		t.Errorf("bookmarks for %d streams, Airbyte states for %d", len(bm), len(final))
	}
	for name, want := range final {
		if got := withoutSyncedAt(t, bm[name]); got != withoutSyncedAt(t, want) {
			t.Errorf("%s: bookmark %s, Airbyte state %s", name, got, want)
		}
	}
	// The same binary as tap-pluggy is the same tap.
	viaLink := e.sync(bin, "--config", config)
	if !reflect.DeepEqual(canonical(t, viaLink.records()["transactions"]), canonical(t, sgRecs["transactions"])) {
		t.Error("tap-pluggy and source-pluggy singer emit different transactions")
	}
}

func unionKeys(a, b map[string][]json.RawMessage) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// canonical returns the records as sorted canonical JSON texts.
func canonical(t *testing.T, recs []json.RawMessage) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		var v any
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		st.Must(t, dec.Decode(&v), "record")
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// withoutSyncedAt drops every synced_at (the run's start time, which
// differs between two runs) from a state.
func withoutSyncedAt(t *testing.T, raw json.RawMessage) string {
	var v any
	st.Must(t, json.Unmarshal(raw, &v), "state")
	var walk func(v any)
	walk = func(v any) {
		if m, ok := v.(map[string]any); ok {
			delete(m, "synced_at")
			for _, c := range m {
				walk(c)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSingerFailureIsCritical(t *testing.T) {
	e := newEnv(t, fake.Options{})
	bin := tapBin(t)
	for name, c := range map[string]struct {
		args    []string
		code    int
		mention string
	}{
		"bad secret":   {[]string{"--config", e.config(map[string]any{"client_secret": "wrong-secret-value"})}, 1, "client_secret"},
		"bad config":   {[]string{"--config", e.config(map[string]any{"item_ids": nil}), "--discover"}, 1, "config.item_ids"},
		"no config":    {[]string{"--discover"}, 2, "--config is required"},
		"unknown flag": {[]string{"--config", e.config(nil), "--bogus"}, 2, "bogus"},
		"state twice":  {[]string{"--config", e.config(nil), "--state", "a.json", "--state", "b.json"}, 2, "--state is given twice; give it once"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runSinger(t, true, bin, c.args...)
			lines := strings.Split(strings.TrimSpace(string(r.stderr)), "\n")
			critical := false
			for _, l := range lines {
				critical = critical || (strings.HasPrefix(l, "CRITICAL") && strings.Contains(l, c.mention))
			}
			if r.code != c.code || !critical {
				t.Errorf("exit %d (want %d); stderr:\n%s", r.code, c.code, r.stderr)
			}
			for _, m := range r.msgs {
				if m.Type == "RECORD" {
					t.Fatal("records despite the failure")
				}
			}
			if bytes.Contains(r.stdout, []byte("wrong-secret-value")) || bytes.Contains(r.stderr, []byte("wrong-secret-value")) {
				t.Fatal("the secret leaked")
			}
		})
	}
}

// TestSingerFlagsWithoutTheTapName: the Singer command line given to the
// binary under its own name (Meltano's executable pointed at
// source-pluggy, with no tap-pluggy link) is a usage error that says the
// flags are the tap's and how to run it: as tap-pluggy, the link to make,
// or as source-pluggy singer. It said only: unknown command "--config".
func TestSingerFlagsWithoutTheTapName(t *testing.T) {
	e := newEnv(t, fake.Options{})
	config := e.config(nil)
	for _, args := range [][]string{
		{"--config", config, "--discover"},
		{"--config", config, "--catalog", "catalog.json", "--state", "state.json"},
		{"--about", "--format=json"},
	} {
		out, stderr, code := st.Exec(t, e.bin, args...)
		for _, want := range []string{`unknown command "` + args[0] + `"`, "ln -s source-pluggy tap-pluggy", "source-pluggy singer " + args[0]} {
			if !strings.Contains(string(stderr), want) {
				t.Errorf("source-pluggy %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, stderr)
			}
		}
		if code != source.ExitUsage || len(out) != 0 {
			t.Errorf("source-pluggy %s: exit %d, stdout %q; want %d and nothing on stdout", strings.Join(args, " "), code, out, source.ExitUsage)
		}
	}
	// A protocol command after its flags is no Singer command line: the
	// hint is to put the command first.
	_, stderr, code := st.Exec(t, e.bin, "--config", config, "read")
	if code != source.ExitUsage || strings.Contains(string(stderr), "ln -s") || !strings.Contains(string(stderr), "source-pluggy read --config") {
		t.Errorf("--config before read: exit %d, want a usage error saying to put read first:\n%s", code, stderr)
	}
	// A flag and its value in one argument (quoted so in a config) are
	// quoted by the flag's name alone: the hint printed a password in
	// clear. "-" and "--" are no flags, and get no Singer hint.
	for _, arg := range []string{"--config postgres://u:Secr3tPw@h/db", "--config\tpostgres://u:Secr3tPw@h/db"} {
		_, stderr, code := st.Exec(t, e.bin, arg, "--discover")
		if code != source.ExitUsage || strings.Contains(string(stderr), "Secr3tPw") || !strings.Contains(string(stderr), "source-pluggy singer --config ...") {
			t.Errorf("%q: exit %d, want a usage error naming --config alone, no password:\n%s", arg, code, stderr)
		}
	}
	for _, arg := range []string{"-", "--"} {
		_, stderr, code := st.Exec(t, e.bin, arg)
		if code != source.ExitUsage || strings.Contains(string(stderr), "Singer tap's command line") {
			t.Errorf("%q: exit %d, want a usage error without the Singer hint:\n%s", arg, code, stderr)
		}
	}
}

// TestSingerTombstonesCarrySDCDeletedAt: in Singer mode a tombstone carries
// _sdc_deleted_at, the field Singer targets act on (the Meltano SDK's
// hard_delete), beside _ab_cdc_deleted_at and with the same time, and the
// SCHEMA declares it; without it, a target would take the tombstone for an
// update of the row, with its fields emptied.
func TestSingerTombstonesCarrySDCDeletedAt(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 120})
	e.cfg["lookback_days"], e.cfg["credit_lookback_days"] = 30, 30
	bin := tapBin(t)
	config := e.config(nil)
	catalog := e.transactionsOnly(bin, config)
	first := e.sync(bin, "--config", config, "--catalog", catalog)
	state := st.WriteFile(t, "state.json", []byte(first.states()[len(first.states())-1]))
	if len(e.fake.Delete(4)) == 0 {
		t.Fatal("the fake deleted nothing")
	}
	second := e.sync(bin, "--config", config, "--catalog", catalog, "--state", state)
	tombstones := 0
	for _, raw := range second.records()["transactions"] {
		var r struct {
			AB  *string `json:"_ab_cdc_deleted_at"`
			SDC *string `json:"_sdc_deleted_at"`
		}
		st.Must(t, json.Unmarshal(raw, &r), "record")
		switch {
		case r.AB == nil && r.SDC == nil:
		case r.AB == nil || r.SDC == nil || *r.AB != *r.SDC:
			t.Errorf("tombstone %s: _sdc_deleted_at must be _ab_cdc_deleted_at's time", raw)
		default:
			tombstones++
		}
	}
	if tombstones == 0 {
		t.Fatal("no tombstone in the second sync")
	}
	for _, m := range second.msgs {
		if m.Type == "SCHEMA" && m.Stream == "transactions" && !bytes.Contains(m.Schema, []byte(`"_sdc_deleted_at"`)) {
			t.Error("the transactions SCHEMA does not declare _sdc_deleted_at")
		}
	}

	// A Meltano user who deselects Airbyte's column (select
	// "!transactions._ab_cdc_deleted_at") still gets Singer's: the
	// tombstones carry _sdc_deleted_at and the SCHEMA declares it (sync
	// checks every member is declared), or a target would drop it and keep
	// each tombstone as a live row with its fields emptied.
	cat := e.singerCatalog(bin, config)
	for i := range cat.Streams {
		setSelected(&cat.Streams[i], cat.Streams[i].TapStreamID == "transactions")
	}
	setSelected(e.singerEntry(cat, "transactions"), false, "properties", "_ab_cdc_deleted_at")
	noAB := st.WriteFile(t, "catalog_no_ab.json", cat)
	state = st.WriteFile(t, "state2.json", []byte(second.states()[len(second.states())-1]))
	if len(e.fake.Delete(3)) == 0 {
		t.Fatal("the fake deleted nothing")
	}
	third := e.sync(bin, "--config", config, "--catalog", noAB, "--state", state)
	tombstones = 0
	for _, raw := range third.records()["transactions"] {
		var r map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &r), "record")
		if _, ok := r["_ab_cdc_deleted_at"]; ok {
			t.Fatalf("the deselected _ab_cdc_deleted_at is in a record: %s", raw)
		}
		if _, ok := r["_sdc_deleted_at"]; ok {
			tombstones++
		}
	}
	if tombstones == 0 {
		t.Fatal("no tombstone in the third sync")
	}
}

// TestSingerActivateVersion: with emit_activate_version_messages, every
// full-table stream that completed ends with ACTIVATE_VERSION, after all
// its records, which carry that version; the incremental streams carry
// none; a stream that failed (an item the fake refuses) gets none,
// since a target would drop the rows the failure left out.
func TestSingerActivateVersion(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	bin := tapBin(t)
	r := e.sync(bin, "--config", e.config(map[string]any{singer.ActivateVersionSetting: true}))
	activated := map[string]int64{}
	incremental := map[string]bool{} // a SCHEMA with a bookmark
	for _, m := range r.msgs {
		switch {
		case m.Type == "SCHEMA":
			incremental[m.Stream] = len(m.BookmarkProperties) > 0
		case m.Type == "ACTIVATE_VERSION":
			activated[m.Stream] = *m.Version
		case m.Type == "RECORD" && incremental[m.Stream]:
			if m.Version != nil {
				t.Fatalf("an incremental %s record carries a version: %s", m.Stream, m.Record)
			}
		case m.Type == "RECORD":
			if m.Version == nil || activated[m.Stream] != 0 {
				t.Fatalf("a %s record without its version, or after its ACTIVATE_VERSION", m.Stream)
			}
		}
	}
	for _, name := range []string{"items", "accounts", "categories", "credit_card_bills", "investments", "loans", "identity"} {
		if activated[name] == 0 {
			t.Errorf("no ACTIVATE_VERSION for the full-table stream %s: %v", name, activated)
		}
	}
	for _, name := range []string{"transactions", "investment_transactions"} {
		if _, ok := activated[name]; ok || !incremental[name] {
			t.Errorf("ACTIVATE_VERSION for the incremental %s", name)
		}
	}
	if bytes.Contains(r.stderr, []byte(singer.ActivateVersionSetting)) {
		t.Errorf("the setting was warned about:\n%s", r.stderr)
	}

	// Accounts the API refuses (a 500 every time) fail the stream: no
	// activation.
	e.fake.SetFaults(fake.Faults{Status: map[string]int{"GET /accounts": 500}})
	f := runSinger(t, true, bin, "--config", e.config(map[string]any{singer.ActivateVersionSetting: true}))
	if f.code != 1 {
		t.Fatalf("a refused item: exit %d", f.code)
	}
	for _, m := range f.msgs {
		if m.Type == "ACTIVATE_VERSION" && m.Stream == "accounts" {
			t.Errorf("ACTIVATE_VERSION of accounts after it failed")
		}
	}
}

// TestSingerTableVersionsAfterTheClockSteppedBack runs a sync with
// ACTIVATE_VERSION, then another from its state by a binary whose clock is
// an hour behind (a clock stepped back, a VM restored from a snapshot,
// another machine running the pipeline): each full-table stream's version
// must still be greater than the first run's, since a target that honours
// ACTIVATE_VERSION (the Meltano SDK's) drops the rows of lower versions and
// keeps those of higher ones: with the clock's time, an hour below the
// first run's, the first run's rows stayed live for good, a row the bank
// deleted since among them. The second run says so in one WARNING naming
// each stream, its version and the clock's time; its STATEs hold the
// versions, the first before any versioned record; the Airbyte mode takes
// that state, and the tap an Airbyte one (no versions: the clock's).
func TestSingerTableVersionsAfterTheClockSteppedBack(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	bin := tapBin(t)
	behind := filepath.Join(t.TempDir(), "tap-pluggy")
	st.Must(t, os.Symlink(st.BuildWithClock(t, "source-pluggy", "-1h"), behind), "symlink")
	config := e.config(map[string]any{singer.ActivateVersionSetting: true})
	activated := func(r *singerRun) map[string]int64 {
		out := map[string]int64{}
		for _, m := range r.msgs {
			if m.Type == "ACTIVATE_VERSION" {
				out[m.Stream] = *m.Version
			}
		}
		return out
	}
	tableVersions := func(state json.RawMessage) map[string]int64 {
		var v struct {
			TableVersions map[string]int64 `json:"table_versions"`
		}
		st.Must(t, json.Unmarshal(state, &v), "STATE value")
		return v.TableVersions
	}
	lastState := func(r *singerRun, name string) string {
		states := r.states()
		return st.WriteFile(t, name, []byte(states[len(states)-1]))
	}

	first := e.sync(bin, "--config", config)
	v1 := activated(first)
	if len(v1) == 0 {
		t.Fatal("the first run activated no version")
	}
	if got := tableVersions(first.states()[len(first.states())-1]); !reflect.DeepEqual(got, v1) {
		t.Fatalf("the first run's last STATE holds table_versions %v; want the versions it activated, %v", got, v1)
	}
	if bytes.Contains(first.stderr, []byte("the clock")) {
		t.Errorf("a first run without state warned of the clock:\n%s", first.stderr)
	}

	start := time.Now()
	second := e.sync(behind, "--config", config, "--state", lastState(first, "state1.json"))
	v2 := activated(second)
	for name, v := range v1 {
		if v2[name] <= v {
			t.Errorf("stream %s: the second run, its clock an hour behind, activated version %d, not after the first run's %d", name, v2[name], v)
		}
	}
	stated := false
	for _, m := range second.msgs {
		switch {
		case m.Type == "STATE":
			for name, v := range v2 {
				if tableVersions(m.Value)[name] != v {
					t.Fatalf("a STATE of the second run holds table_versions %s; want %v", m.Value, v2)
				}
			}
			stated = true
		case m.Type == "RECORD" && m.Version != nil:
			if !stated {
				t.Fatalf("a versioned %s record before any STATE holding its version", m.Stream)
			}
			if *m.Version != v2[m.Stream] {
				t.Fatalf("a %s record of version %d, where the stream activated %d", m.Stream, *m.Version, v2[m.Stream])
			}
		}
	}
	var warned []string
	for _, line := range strings.Split(string(second.stderr), "\n") {
		if strings.HasPrefix(line, "WARNING the clock (") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 {
		t.Fatalf("%d WARNINGs of the clock, want one:\n%s", len(warned), second.stderr)
	}
	clock, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(warned[0], "WARNING the clock (")[:len("2006-01-02T15:04:05")]+"Z")
	if err != nil || clock.Before(start.Add(-61*time.Minute)) || clock.After(start.Add(-59*time.Minute)) {
		t.Errorf("the WARNING names the clock %v (%v), not about an hour before %v: %s", clock, err, start, warned[0])
	}
	for name, v := range v2 {
		if !strings.Contains(warned[0], fmt.Sprintf("stream '%s' version %d", name, v)) {
			t.Errorf("the WARNING does not name stream %s and its version %d: %s", name, v, warned[0])
		}
	}
	t.Log(warned[0])

	// Behind again: after the second run's.
	third := e.sync(behind, "--config", config, "--state", lastState(second, "state2.json"))
	for name, v := range activated(third) {
		if v <= v2[name] {
			t.Errorf("stream %s: the third run activated version %d, not after the second run's %d", name, v, v2[name])
		}
	}

	// The Airbyte mode takes the tap's state, table_versions and all; the
	// tap takes the Airbyte mode's, which has none: the clock's versions,
	// without a WARNING.
	e.read(e.catalog(true), "--state", lastState(second, "state3.json"))
	airbyteState := []protocol.State{{Type: protocol.StateStream, Stream: &protocol.StreamState{
		StreamDescriptor: protocol.StreamDescriptor{Name: "transactions"}, StreamState: second.bookmarks(t)["transactions"],
	}}}
	fromAirbyte := e.sync(bin, "--config", config, "--state", st.WriteFile(t, "ab_state.json", airbyteState))
	for name, v := range activated(fromAirbyte) {
		if time.Since(time.UnixMilli(v)).Abs() > 5*time.Minute {
			t.Errorf("stream %s: version %d from a state without versions, not the clock's", name, v)
		}
	}
	if bytes.Contains(fromAirbyte.stderr, []byte("WARNING the clock")) {
		t.Errorf("a state without versions warned of the clock:\n%s", fromAirbyte.stderr)
	}
}

// TestConfigKeysOutsideTheSpec: read names a key it does not know (a typo
// of start_date) as no setting, with the known fields; and the Singer
// tap's emit_activate_version_messages as the tap's, which read ignores,
// rather than calling it no setting at all. The tap does not warn about
// its own key (TestSingerActivateVersion).
func TestConfigKeysOutsideTheSpec(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 2})
	r := e.readWith(map[string]any{"start_dat": "2024-01-01", singer.ActivateVersionSetting: true}, e.catalog(false, "items"))
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v", r.Code, r.ErrorTraces())
	}
	if !r.Warned(`config field "start_dat" is not a setting of this connector`, "known fields:", "start_date") {
		t.Errorf("no WARN naming the unknown key and the known fields:\n%s", r.Stdout)
	}
	if !r.Warned(`config field "emit_activate_version_messages" is read by the Singer tap tap-pluggy only; this command ignores it`) {
		t.Errorf("no WARN saying the Singer setting is the tap's:\n%s", r.Stdout)
	}

	// check prints one message: the typo joins its SUCCEEDED status.
	cs, _ := st.CheckRun(t, e.bin, e.config(map[string]any{"start_dat": "2024-01-01"}))
	if cs.Status != protocol.StatusSucceeded || !strings.Contains(cs.Message, `config field "start_dat" is not a setting`) || !strings.Contains(cs.Message, "did you mean start_date?") {
		t.Errorf("check with a typo: %s %q, want SUCCEEDED naming the typo and the field", cs.Status, cs.Message)
	}
	if cs, _ := st.CheckRun(t, e.bin, e.config(nil)); cs.Status != protocol.StatusSucceeded || strings.Contains(cs.Message, "not a setting") {
		t.Errorf("check of a clean config: %s %q, want SUCCEEDED without a config notice", cs.Status, cs.Message)
	}
}

// TestSingerDiscoverDeclaresSchemaFields: --discover lists what the SCHEMA
// messages declare, _leftovers and transactions' _sdc_deleted_at included,
// as automatic fields, so a Meltano user sees every column a target makes.
func TestSingerDiscoverDeclaresSchemaFields(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	st.CheckSingerDiscoverMatchesSchema(t, tapBin(t), e.config(nil))
}

// TestNullStatesResetInBothModes: the forms of "no state" for a stream
// (Airbyte's STREAM state without stream_state, as the platform sends after
// a stream reset; a Singer bookmark of null; an empty state {}, which
// Airbyte's CDK and the Meltano SDK read as none; a Singer STATE whose
// value is null; Meltano's {"singer_state": null}) are taken alike by read --state
// and the tap's --state: transactions starts from scratch, with an INFO
// saying the state resets it, not a WARN that the state lacks it. A value
// that is no state at all is still refused by both.
func TestNullStatesResetInBothModes(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	bin := tapBin(t)
	config := e.config(nil)
	catalog := e.transactionsOnly(bin, config)
	count, _, _ := e.fake.TransactionSummary()
	const reset = `the input state resets stream "transactions" (its state is null): it is read from start_date`
	for name, body := range map[string]string{
		"airbyte stream reset":  `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"}}}]`,
		"airbyte null state":    `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":null}}]`,
		"singer null bookmark":  `{"bookmarks":{"transactions":null}}`,
		"airbyte empty state":   `[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{}}}]`,
		"singer empty bookmark": `{"bookmarks":{"transactions":{ }}}`,
		"singer null value":     `{"type":"STATE","value":null}`,
		"singer null lines":     "{\"type\":\"STATE\",\"value\":null}\n{\"type\":\"STATE\",\"value\":null}\n",
		"meltano null":          `{"singer_state":null}`,
		"meltano null bookmark": `{"singer_state":{"bookmarks":{"transactions":null}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			state := st.WriteFile(t, "state.json", []byte(body))
			ab := e.read(e.catalog(true, "transactions"), "--state", state)
			logged := false
			for _, m := range ab.OfType(protocol.TypeLog) {
				logged = logged || m.Log.Level == protocol.LevelInfo && strings.Contains(m.Log.Message, reset)
			}
			if !logged || ab.Warned(`no state for stream "transactions"`) || len(ab.Records()["transactions"]) != count {
				t.Errorf("read --state: %d of %d transactions, INFO %v, WARN %v", len(ab.Records()["transactions"]), count, logged, ab.Warned(`no state for stream "transactions"`))
			}
			sg := e.sync(bin, "--config", config, "--catalog", catalog, "--state", state)
			if !strings.Contains(string(sg.stderr), "INFO "+reset) || strings.Contains(string(sg.stderr), `no state for stream "transactions"`) || len(sg.records()["transactions"]) != count {
				t.Errorf("tap --state: %d of %d transactions; stderr:\n%s", len(sg.records()["transactions"]), count, sg.stderr)
			}
		})
	}
	for name, body := range map[string]string{
		"value a string":  `{"type":"STATE","value":"x"}`,
		"value a list":    `{"type":"STATE","value":[]}`,
		"bookmark a list": `{"bookmarks":{"transactions":[]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			state := st.WriteFile(t, "state.json", []byte(body))
			ab := st.Run(t, e.bin, "read", "--config", config, "--catalog", e.catalog(true, "transactions"), "--state", state)
			sg := runSinger(t, true, bin, "--config", config, "--catalog", catalog, "--state", state)
			if ab.Code != 1 || len(ab.ErrorsMentioning("state", "must be a JSON object")) == 0 || sg.code != 1 || !strings.Contains(string(sg.stderr), "must be a JSON object") {
				t.Errorf("read exit %d %v; tap exit %d %s", ab.Code, ab.ErrorTraces(), sg.code, sg.stderr)
			}
		})
	}
}

// setStreamMeta sets key in the stream's [] metadata, as Meltano's
// metadata: extra does (it also sets the top-level key_properties-style
// member, which top does here).
func setStreamMeta(entry *singer.CatalogEntry, key string, value any) {
	for _, m := range entry.Metadata {
		if len(m.Breadcrumb) == 0 {
			m.Metadata[key] = value
			return
		}
	}
}

// TestSingerCatalogKeyOverrides: a catalog's key and replication key
// overrides (meltano.yml metadata: table-key-properties, replication-key,
// ...) are honoured or refused with a config_error naming the stream, the
// value and why, never ignored: a key on a stream without tombstones is
// the SCHEMA's key_properties (and its fields are kept when deselected);
// on transactions, whose tombstones carry only the key, it is refused; a
// replication key other than the cursor is refused whatever the method.
func TestSingerCatalogKeyOverrides(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	bin := tapBin(t)
	config := e.config(nil)
	schemaOf := func(r *singerRun, stream string) *singerMsg {
		for i := range r.msgs {
			if r.msgs[i].Type == "SCHEMA" && r.msgs[i].Stream == stream {
				return &r.msgs[i]
			}
		}
		t.Fatalf("no SCHEMA for %s", stream)
		return nil
	}

	// Honoured: accounts keyed on [itemId, number], number deselected.
	for _, where := range []string{"metadata", "key_properties"} {
		cat := e.singerCatalog(bin, config)
		acc := e.singerEntry(cat, "accounts")
		if where == "metadata" {
			setStreamMeta(acc, "table-key-properties", []string{"itemId", "number"})
		} else {
			acc.KeyProperties = []string{"itemId", "number"}
		}
		setSelected(acc, false, "properties", "number")
		r := e.sync(bin, "--config", config, "--catalog", st.WriteFile(t, "catalog.json", cat))
		if got := schemaOf(r, "accounts").KeyProperties; !reflect.DeepEqual(got, []string{"itemId", "number"}) {
			t.Errorf("%s override: accounts key_properties %v, want [itemId number]", where, got)
		}
		if got := schemaOf(r, "transactions").KeyProperties; !reflect.DeepEqual(got, []string{"id"}) {
			t.Errorf("%s override: transactions key_properties %v", where, got)
		}
		for _, raw := range r.records()["accounts"] {
			if !bytes.Contains(raw, []byte(`"number":`)) {
				t.Fatalf("a key field deselected was dropped: %s", raw)
			}
		}
		if !strings.Contains(string(r.stderr), `WARNING accounts: key property "number"`) {
			t.Errorf("no WARN that number is not in every record:\n%s", r.stderr)
		}
	}

	for name, c := range map[string]struct {
		edit    func(cat singer.Catalog)
		mention []string
	}{
		"key of a stream with tombstones": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "transactions"), "table-key-properties", []string{"accountId", "description"})
		}, []string{`stream "transactions"`, `["accountId","description"]`, "tombstones", `keep the stream's key, ["id"]`}},
		"two different keys": {func(cat singer.Catalog) {
			acc := e.singerEntry(cat, "accounts")
			setStreamMeta(acc, "table-key-properties", []string{"number"})
			acc.KeyProperties = []string{"name"}
		}, []string{`stream "accounts"`, `key_properties ["name"]`, `"table-key-properties" ["number"]`}},
		"no key": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "accounts"), "table-key-properties", []string{})
		}, []string{`stream "accounts"`, "duplicated"}},
		"a field the stream lacks": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "accounts"), "table-key-properties", []string{"_leftovers"})
		}, []string{`stream "accounts"`, `"_leftovers" is not a top-level field`}},
		"replication key of a full-table stream": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "accounts"), "replication-key", "updatedAt")
		}, []string{`stream "accounts" has replication-key "updatedAt"`, "FULL_TABLE only"}},
		"another replication key, full table": {func(cat singer.Catalog) {
			tx := e.singerEntry(cat, "transactions")
			setStreamMeta(tx, "replication-method", "FULL_TABLE")
			tx.ReplicationKey = "date"
		}, []string{`stream "transactions" has replication_key "date"`, `only valid replication key is "createdAt"`}},
		"valid-replication-keys": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "transactions"), "valid-replication-keys", []string{"date"})
		}, []string{`stream "transactions"`, `"valid-replication-keys" is ["date"]`, "not a setting"}},
		"forced method against the method": {func(cat singer.Catalog) {
			setStreamMeta(e.singerEntry(cat, "transactions"), "forced-replication-method", "FULL_TABLE")
		}, []string{`stream "transactions"`, `"forced-replication-method" "FULL_TABLE"`}},
	} {
		t.Run(name, func(t *testing.T) {
			cat := e.singerCatalog(bin, config)
			c.edit(cat)
			r := runSinger(t, true, bin, "--config", config, "--catalog", st.WriteFile(t, "catalog.json", cat))
			lines := strings.Split(strings.TrimSpace(string(r.stderr)), "\n")
			last := lines[len(lines)-1]
			if r.code != 1 || len(r.msgs) != 0 || !strings.HasPrefix(last, "CRITICAL") || !strings.HasSuffix(last, "[config_error]") {
				t.Fatalf("exit %d, %d messages; want exit 1, no message, a CRITICAL config_error:\n%s", r.code, len(r.msgs), r.stderr)
			}
			for _, m := range c.mention {
				if !strings.Contains(last, m) {
					t.Errorf("the error does not mention %s:\n%s", m, last)
				}
			}
		})
	}
}

// TestSingerSDKOnlySettings: the Meltano SDK's stream_maps and
// flattening_enabled, which this tap does not implement, are a config_error
// naming the setting and the mapper to use, where they were a warning
// about an unknown key and the records reached the target unmapped (a
// field meant to be hashed or removed sent as it is). Off, they pass
// without a word.
func TestSingerSDKOnlySettings(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 2})
	bin := tapBin(t)
	for name, c := range map[string]struct {
		set     map[string]any
		mention string
	}{
		"stream maps": {map[string]any{"stream_maps": map[string]any{"identity": map[string]any{"document": "md5(document)"}}}, "config.stream_maps: this tap does not apply the Meltano SDK's stream maps"},
		"flattening":  {map[string]any{"flattening_enabled": true}, "config.flattening_enabled: this tap does not flatten records"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runSinger(t, true, bin, "--config", e.config(c.set))
			if r.code != 1 || len(r.msgs) != 0 || !strings.Contains(string(r.stderr), c.mention) || !strings.Contains(string(r.stderr), "meltano-map-transformer") || !strings.Contains(string(r.stderr), "[config_error]") {
				t.Errorf("exit %d, %d messages; want exit 1, no message, a config_error:\n%s", r.code, len(r.msgs), r.stderr)
			}
		})
	}
	r := e.sync(bin, "--config", e.config(map[string]any{"stream_maps": map[string]any{}, "flattening_enabled": false}))
	if bytes.Contains(r.stderr, []byte("stream_maps")) || bytes.Contains(r.stderr, []byte("flattening_enabled")) {
		t.Errorf("settings that ask for nothing were warned about:\n%s", r.stderr)
	}
}

// TestSingerCatalogSchemaOverrideWarned: a catalog schema changed from the
// discovered one (Meltano's schema: extra: a type changed, a field added)
// is not applied, since the tap sends its own schema and records as they
// are, and a WARNING names the fields, where it was dropped without a
// word. The discovered catalog passed back gets no such WARNING.
func TestSingerCatalogSchemaOverrideWarned(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 3})
	bin := tapBin(t)
	config := e.config(nil)
	cat := e.singerCatalog(bin, config)
	const warned = "the catalog's schema differs from the stream's"
	if r := e.sync(bin, "--config", config, "--catalog", st.WriteFile(t, "catalog.json", cat)); bytes.Contains(r.stderr, []byte(warned)) {
		t.Errorf("the discovered catalog was warned about:\n%s", r.stderr)
	}
	tx := e.singerEntry(cat, "transactions")
	var schema map[string]any
	st.Must(t, json.Unmarshal(tx.Schema, &schema), "schema")
	props := schema["properties"].(map[string]any)
	props["amount"] = map[string]any{"type": []string{"string", "null"}}
	props["memo"] = map[string]any{"type": "string"}
	tx.Schema, _ = json.Marshal(schema)
	r := e.sync(bin, "--config", config, "--catalog", st.WriteFile(t, "catalog.json", cat))
	if !strings.Contains(string(r.stderr), `WARNING transactions: `+warned+` for "amount", "memo": the tap declares and sends its own`) {
		t.Errorf("no WARNING naming the changed fields:\n%s", r.stderr)
	}
	for _, m := range r.msgs {
		if m.Type == "SCHEMA" && m.Stream == "transactions" && (bytes.Contains(m.Schema, []byte(`"memo"`)) || !bytes.Contains(m.Schema, []byte(`"amount":{"description"`))) {
			t.Errorf("the SCHEMA took the catalog's change: %.300s", m.Schema)
		}
	}
}

// TestSingerLegacyTopLevelSelected: a stream entry's top-level "selected"
// (singer-python's CatalogEntry.selected, which Meltano also writes) counts
// when the metadata has none: false leaves the stream out, where the
// discovered selected-by-default synced it anyway; a value that is not a
// boolean is a config_error.
func TestSingerLegacyTopLevelSelected(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 3})
	bin := tapBin(t)
	config := e.config(nil)
	withTop := func(values map[string]any) string {
		raw, err := json.Marshal(e.singerCatalog(bin, config))
		st.Must(t, err, "catalog")
		var cat map[string]any
		st.Must(t, json.Unmarshal(raw, &cat), "catalog")
		for _, s := range cat["streams"].([]any) {
			entry := s.(map[string]any)
			if v, ok := values[entry["tap_stream_id"].(string)]; ok {
				entry["selected"] = v
			}
		}
		return st.WriteFile(t, "catalog.json", cat)
	}
	r := e.sync(bin, "--config", config, "--catalog", withTop(map[string]any{"categories": false, "identity": false}))
	recs := r.records()
	if len(recs["categories"]) != 0 || len(recs["identity"]) != 0 || len(recs["transactions"]) == 0 {
		t.Errorf("top-level selected false: %d categories, %d identity, %d transactions; want 0, 0, some", len(recs["categories"]), len(recs["identity"]), len(recs["transactions"]))
	}
	bad := runSinger(t, true, bin, "--config", config, "--catalog", withTop(map[string]any{"categories": "no"}))
	if bad.code != 1 || !strings.Contains(string(bad.stderr), `stream "categories": "selected" is no, which is not a boolean`) {
		t.Errorf("selected \"no\": exit %d\n%s", bad.code, bad.stderr)
	}
}

// TestSDKBookmarkRefusedWithTheFix: a Meltano SDK bookmark
// ({"replication_key", "replication_key_value"}, what `meltano state set`
// is used to write to start an SDK tap from a date) is refused by the tap
// and by read with a config_error saying what it is and how to start from a
// date, where the error spoke of a state "version 0".
func TestSDKBookmarkRefusedWithTheFix(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 3})
	bin := tapBin(t)
	config := e.config(nil)
	state := st.WriteFile(t, "state.json", []byte(`{"singer_state":{"bookmarks":{"transactions":{"replication_key":"createdAt","replication_key_value":"2024-01-01T00:00:00Z"}}}}`))
	const want = `state for stream "transactions" is a Meltano SDK bookmark (replication_key_value), which this connector does not take`
	sg := runSinger(t, true, bin, "--config", config, "--state", state)
	if sg.code != 1 || !strings.Contains(string(sg.stderr), want) || !strings.Contains(string(sg.stderr), "start_date") || strings.Contains(string(sg.stderr), "version 0") {
		t.Errorf("tap: exit %d\n%s", sg.code, sg.stderr)
	}
	ab := st.Run(t, e.bin, "read", "--config", config, "--catalog", e.catalog(true, "transactions"), "--state", state)
	if errs := ab.ErrorsMentioning(want); ab.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError {
		t.Errorf("read: exit %d, %v", ab.Code, ab.ErrorTraces())
	}
}

// TestEmptyStatesAreNoState: a state that names no stream (an empty file,
// [], a whole {}, the tap's {"bookmarks": {}}) is no state, as docs/incremental.md
// lists it, in read --state and the tap's --state alike: transactions is
// read from start_date with the INFO a read without --state logs, not the
// WARN meant for a state that holds full-refresh streams' end markers only.
func TestEmptyStatesAreNoState(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	bin := tapBin(t)
	config := e.config(nil)
	catalog := e.transactionsOnly(bin, config)
	count, _, _ := e.fake.TransactionSummary()
	const info = `no state for stream "transactions": it is read from start_date, as on a first sync`
	for name, body := range map[string]string{
		"empty file":      "",
		"empty array":     "[]\n",
		"empty object":    "{}",
		"empty bookmarks": `{"bookmarks":{}}`,
		"empty lines":     "\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			state := st.WriteFile(t, "state.json", []byte(body))
			ab := e.read(e.catalog(true, "transactions"), "--state", state)
			logged := false
			for _, m := range ab.OfType(protocol.TypeLog) {
				logged = logged || m.Log.Level == protocol.LevelInfo && m.Log.Message == info
			}
			if !logged || ab.Warned("no state for") || len(ab.Records()["transactions"]) != count {
				t.Errorf("read --state: %d of %d transactions, INFO %v, WARN %v:\n%s", len(ab.Records()["transactions"]), count, logged, ab.Warned("no state for"), ab.Stdout)
			}
			sg := e.sync(bin, "--config", config, "--catalog", catalog, "--state", state)
			if !strings.Contains(string(sg.stderr), "INFO "+info) || strings.Contains(string(sg.stderr), "WARNING no state for") || len(sg.records()["transactions"]) != count {
				t.Errorf("tap --state: %d of %d transactions; stderr:\n%s", len(sg.records()["transactions"]), count, sg.stderr)
			}
		})
	}
}

// TestSingerInclusionOnInput: a catalog's "inclusion" decides before its
// "selected", as the Meltano SDK reads it: a stream or field marked
// "unsupported" is not synced though selected, one marked "automatic" is
// synced though deselected; the tap's own automatic key stays whatever
// the catalog says of it.
func TestSingerInclusionOnInput(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 3})
	bin := tapBin(t)
	config := e.config(nil)
	cat := e.singerCatalog(bin, config)
	setInclusion := func(entry *singer.CatalogEntry, in string, breadcrumb ...string) {
		setMetadata(entry, "inclusion", in, breadcrumb...)
	}
	categories, identity, tx := e.singerEntry(cat, "categories"), e.singerEntry(cat, "identity"), e.singerEntry(cat, "transactions")
	setSelected(categories, true)
	setInclusion(categories, "unsupported")
	setSelected(identity, false)
	setInclusion(identity, "automatic")
	setSelected(tx, true, "properties", "category")
	setInclusion(tx, "unsupported", "properties", "category")
	setSelected(tx, false, "properties", "description")
	setInclusion(tx, "automatic", "properties", "description")
	setInclusion(tx, "unsupported", "properties", "id") // the key: emitted anyway
	r := e.sync(bin, "--config", config, "--catalog", st.WriteFile(t, "catalog.json", cat))
	recs := r.records()
	if len(recs["categories"]) != 0 || len(recs["identity"]) == 0 || len(recs["transactions"]) == 0 {
		t.Fatalf("%d categories (unsupported), %d identity (automatic, deselected), %d transactions; want 0, some, some", len(recs["categories"]), len(recs["identity"]), len(recs["transactions"]))
	}
	for _, raw := range recs["transactions"] {
		var row map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &row), "record")
		_, category := row["category"]
		_, desc := row["description"]
		_, id := row["id"]
		if category || !desc || !id {
			t.Fatalf("transaction fields: category (unsupported) %v, description (automatic, deselected) %v, id %v:\n%s", category, desc, id, raw)
		}
	}
}
