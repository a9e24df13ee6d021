package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestParquetDir writes every stream to Parquet through the binary: the
// schemas' decimals, dates and timestamps must convert for every row the
// fake serves (a row that does not fails the write and the read).
func TestParquetDir(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	dir := t.TempDir()
	r := e.read(e.catalog(true), "--parquet-dir", dir)
	for name, recs := range r.Records() {
		files, _ := filepath.Glob(filepath.Join(dir, name, "*.parquet"))
		if len(recs) > 0 && len(files) == 0 {
			t.Errorf("stream %s: %d records, no Parquet file", name, len(recs))
		}
	}
}

// TestParquetEmptySnapshotReplacesTheLast: pending_transactions is a
// snapshot, read from Parquet as its newest run's files. When every pending
// row has booked, that run must still commit a file (with no row): without
// it the previous run's file stays the newest, and the rows the bank no
// longer has as pending look current.
func TestParquetEmptySnapshotReplacesTheLast(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	cat := e.catalog(true)
	if r := e.read(cat, "--parquet-dir", dir, "--state-file", state); len(r.Records()["pending_transactions"]) == 0 {
		t.Fatal("the fake served no pending row")
	}
	admin := e.fake.AdminHandler()
	for _, uid := range e.accounts() {
		for { // book every pending row
			w := httptest.NewRecorder()
			admin.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/__fake/book-pending?uid="+uid, nil))
			if w.Code != http.StatusOK {
				break
			}
		}
	}
	if r := e.read(cat, "--parquet-dir", dir, "--state-file", state); len(r.Records()["pending_transactions"]) != 0 {
		t.Fatalf("%d pending rows after every one booked", len(r.Records()["pending_transactions"]))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "pending_transactions", "*.parquet"))
	slices.Sort(files) // run start, then sequence
	if len(files) != 2 {
		t.Fatalf("pending_transactions files %v, want one per run", files)
	}
	pf, err := file.OpenParquetFile(files[1], false)
	st.Must(t, err, files[1])
	defer pf.Close()
	if n := pf.NumRows(); n != 0 {
		t.Errorf("the second run's snapshot file has %d rows, want 0", n)
	}
}

// TestSingerTap runs the binary as tap-enablebanking: the same records as
// the Airbyte read, SCHEMA before RECORD, no record member its SCHEMA does
// not declare (the fake sends x_bank_field, which MeltanoLabs' target-csv
// would fail on: it is kept in _leftovers), and bookmarks at the end.
func TestSingerTap(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	tap := st.TapLink(t, e.bin, "tap-enablebanking")
	config := e.config(nil)

	out, stderr, code := st.Exec(t, tap, "--discover", "--config", config)
	var cat struct {
		Streams []struct {
			Stream string `json:"tap_stream_id"`
		} `json:"streams"`
	}
	if code != 0 || json.Unmarshal(out, &cat) != nil || len(cat.Streams) != 5 {
		t.Fatalf("--discover: exit %d, %s %s", code, out, stderr)
	}

	ab := e.read(e.catalog(true))
	out, stderr, code = st.Exec(t, tap, "--config", config)
	if code != 0 {
		t.Fatalf("tap exited %d: %s", code, stderr)
	}
	records := map[string]int{}
	schemas := map[string]map[string]json.RawMessage{}
	var lastState json.RawMessage
	keptExtra := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			Type   string `json:"type"`
			Stream string `json:"stream"`
			Schema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schema"`
			Record map[string]json.RawMessage `json:"record"`
			Value  json.RawMessage            `json:"value"`
		}
		st.Must(t, json.Unmarshal(sc.Bytes(), &m), "singer line")
		switch m.Type {
		case "SCHEMA":
			schemas[m.Stream] = m.Schema.Properties
		case "RECORD":
			declared, ok := schemas[m.Stream]
			if !ok {
				t.Fatalf("RECORD of %s before its SCHEMA", m.Stream)
			}
			for field := range m.Record {
				if _, ok := declared[field]; !ok {
					t.Errorf("a %s RECORD has %q, which its SCHEMA does not declare", m.Stream, field)
				}
			}
			if bytes.Contains(m.Record["_leftovers"], []byte(`"x_bank_field":`)) {
				keptExtra = true
			}
			records[m.Stream]++
		case "STATE":
			lastState = m.Value
		}
	}
	for name, recs := range ab.Records() {
		if records[name] != len(recs) {
			t.Errorf("stream %s: Singer %d records, Airbyte %d", name, records[name], len(recs))
		}
	}
	if !bytes.Contains(lastState, []byte(`"transactions"`)) {
		t.Errorf("final Singer state has no transactions bookmark: %s", lastState)
	}
	if !keptExtra {
		t.Error("no record kept the fake's x_bank_field in _leftovers")
	}
}

// TestSingerDiscoverDeclaresSchemaFields: --discover lists what the SCHEMA
// messages declare (_leftovers included), as a Meltano user selecting
// fields needs.
func TestSingerDiscoverDeclaresSchemaFields(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	tap := st.TapLink(t, e.bin, "tap-enablebanking")
	st.CheckSingerDiscoverMatchesSchema(t, tap, e.config(nil))
}
