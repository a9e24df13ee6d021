package parquet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// kitchenSchema has one property of every shape the sink maps.
const kitchenSchema = `{
  "type": "object",
  "required": ["id", "n"],
  "properties": {
    "id": {"type": "string"},
    "n": {"type": "integer"},
    "amount": {"type": ["number", "null"]},
    "rate": {"type": ["number", "null"], "x-decimal-scale": 8},
    "strAmount": {"type": ["string", "null"], "x-decimal-string": true},
    "strRate": {"type": ["string", "null"], "x-decimal-string": true, "x-decimal-scale": 6},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "when": {"type": ["string", "null"], "x-lenient-time": true},
    "ok": {"type": ["boolean", "null"]},
    "note": {"type": ["string", "null"]},
    "meta": {"type": ["object", "null"], "properties": {
      "a": {"type": ["string", "null"]},
      "inner": {"type": ["object", "null"], "required": ["k"], "properties": {
        "k": {"type": "string"},
        "v": {"type": ["number", "null"]}
      }}
    }},
    "attrs": {"type": ["object", "null"], "properties": {}},
    "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
    "lines": {"type": ["array", "null"], "items": {"type": ["object", "null"], "properties": {
      "qty": {"type": ["integer", "null"]},
      "price": {"type": ["number", "null"]},
      "due": {"type": ["string", "null"], "x-lenient-time": true},
      "sub": {"type": ["object", "null"], "properties": {"x": {"type": ["boolean", "null"]}}}
    }}},
    "anything": {},
    "mixed": {"type": ["string", "number", "null"]}
  }
}`

var kitchenRecords = []string{
	`{"id":"a1","n":1,"amount":56.8248,"rate":0.12345678,"strAmount":"-1234.50","strRate":"1.000001",` +
		`"at":"2024-05-01T10:20:30.123Z","day":"2024-02-29","when":"2024-05","ok":true,` +
		`"note":"Padaria São João 🥐 \u00e3\n\"quoted\" \ud83d\ude00 \\ \/","meta":{"a":"x","inner":{"k":"K","v":-0.01}},` +
		`"attrs":{"free":[1,2,{"deep":true}]},"tags":["a","b"],` +
		`"lines":[{"qty":2,"price":10.5,"due":"2024-06-01T00:00:00","sub":{"x":false}},null,{"qty":null}],` +
		`"anything":[1,"two"],"mixed":3.5,"unknown":{"kept":"only in JSON"}}`,
	`{"id":"a2","n":-9223372036854775808}`,
	`{"id":"a3","n":9223372036854775807,"amount":null,"rate":null,"strAmount":null,"strRate":null,"at":null,"day":null,` +
		`"when":null,"ok":null,"note":null,"meta":null,"attrs":null,"tags":null,"lines":null,"anything":null,"mixed":null}`,
	`{"id":"a4","n":0,"amount":1e3,"meta":{},"lines":[],"tags":[],"when":"05-2024","at":"2024-05-01T07:20:30-03:00","mixed":"text"}`,
	`{"id":"a5","n":5,"amount":12345678901234567890123456789012.3456,"when":"not a date","note":"","ok":false,` +
		`"meta":{"inner":{"k":""}},"at":"2024-12-31T23:59:59.999999Z"}`,
	`  {"id" : "a6" , "n" : 6 , "when" : "2024-05-01T10:20:30.1234567-03:00", "amount": -0.0, "rate": 1.5E-7, "note": 42}  `,
	`{"id":"a7","n":7,"when":1714558830000,"lines":[{"due":false}]}`,
}

func kitchen(t testing.TB) testStream {
	t.Helper()
	return testStream{name: "kitchen", schema: json.RawMessage(kitchenSchema)}
}

func raws(recs []string) []json.RawMessage {
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i] = json.RawMessage(r)
	}
	return out
}

// openOne opens the sinks of one stream in a temp dir.
func openOne(t testing.TB, st testStream, opts Options) (*Sinks, *Writer) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Version == "" {
		opts.Version = "9.9.9-test"
	}
	s, err := Open([]sourceStream{st}, opts)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Stream(st, protocol.Incremental)
	if err != nil {
		t.Fatal(err)
	}
	return s, w
}

func writeAll(t testing.TB, w *Writer, recs []json.RawMessage) {
	t.Helper()
	for i, r := range recs {
		if _, err := w.Write(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func TestRoundTripEveryShape(t *testing.T) {
	st := kitchen(t)
	s, w := openOne(t, st, Options{})
	writeAll(t, w, raws(kitchenRecords))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := w.Files()
	if len(files) != 1 {
		t.Fatalf("files = %v, want one", files)
	}
	checkFiles(t, files, st.schema, raws(kitchenRecords))

	// A few values spelled out, so the test does not only trust the
	// reference implementation in readback_test.go.
	rows := readArrow(t, files[0])
	for _, c := range []struct {
		row  int
		col  string
		want any
	}{
		{0, "amount", "dec:56.8248"},
		{0, "at", "ts:2024-05-01T10:20:30.123000Z"},
		{0, "day", "date:2024-02-29"},
		{0, "when", "2024-05"},
		{0, "when_parsed", "ts:2024-05-01T00:00:00.000000Z"},
		{0, "note", "Padaria São João 🥐 ã\n\"quoted\" 😀 \\ /"},
		{0, "attrs", `{"free":[1,2,{"deep":true}]}`},
		{0, "tags", `["a","b"]`},
		{0, "anything", `[1,"two"]`},
		{0, "mixed", `3.5`},
		{1, "n", int64(-9223372036854775808)},
		{1, "amount", nil},
		{1, "meta", nil},
		{3, "amount", "dec:1000"},
		{3, "at", "ts:2024-05-01T10:20:30.000000Z"},
		{3, "when_parsed", "ts:2024-05-01T00:00:00.000000Z"},
		{3, "lines", []any{}},
		{3, "mixed", `"text"`},
		{3, "meta", map[string]any{"a": nil, "inner": nil}},
		{4, "amount", "dec:12345678901234567890123456789012.3456"},
		{4, "when", "not a date"},
		{4, "when_parsed", nil},
		{5, "when_parsed", "ts:2024-05-01T13:20:30.123456Z"},
		{5, "note", "42"},
		{5, "rate", "dec:0.00000015"},
		{6, "when", "1714558830000"},
		{6, "when_parsed", nil},
	} {
		if got := rows[c.row][c.col]; !equalValue(got, c.want) {
			t.Errorf("row %d %s = %#v, want %#v", c.row, c.col, got, c.want)
		}
	}
	if _, ok := rows[0]["unknown"]; ok {
		t.Error("a field missing from the schema became a column")
	}
	lines := rows[0]["lines"].([]any)
	if len(lines) != 3 || lines[1] != nil || lines[0].(map[string]any)["due_parsed"] != "ts:2024-06-01T00:00:00.000000Z" {
		t.Errorf("lines = %#v", lines)
	}
}

func equalValue(a, b any) bool { return len(diff("", a, b)) == 0 }

func TestSchemaAndMetadata(t *testing.T) {
	st := kitchen(t)
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s, w := openOne(t, st, Options{Start: start, Provider: "kitchen"})
	writeAll(t, w, raws(kitchenRecords[:1]))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f := w.Files()[0]
	if got, want := filepath.Base(f), "part-20240501T120000Z-00001.parquet"; got != want {
		t.Errorf("file name %s, want %s", got, want)
	}
	md := fileMeta(t, f)
	kv := md.KeyValueMetadata()
	for k, want := range map[string]string{
		MetaStream:     "kitchen",
		MetaSyncMode:   "incremental",
		MetaVersion:    "9.9.9-test",
		MetaProvider:   "kitchen",
		MetaRunStart:   "2024-05-01T12:00:00Z",
		MetaJSONSchema: kitchenSchema,
	} {
		if got := kv.FindValue(k); got == nil || *got != want {
			t.Errorf("metadata %s = %v, want %q", k, got, want)
		}
	}
	// The Parquet schema, as a reader sees it.
	tbl := arrowTable(t, f)
	defer tbl.Release()
	got := tbl.Schema().String()
	for _, want := range []string{
		"id: type=utf8, nullable", // required, yet nullable: a misfit is nulled
		"n: type=int64, nullable",
		"amount: type=decimal(38, 4), nullable",
		"rate: type=decimal(38, 8), nullable",
		"strAmount: type=decimal(38, 4), nullable",
		"strRate: type=decimal(38, 6), nullable",
		"at: type=timestamp[us, tz=UTC], nullable",
		"day: type=date32, nullable",
		"when: type=utf8, nullable",
		"when_parsed: type=timestamp[us, tz=UTC], nullable",
		"ok: type=bool, nullable",
		"meta: type=struct<a: utf8 nullable, inner: struct<k: utf8 nullable, v: decimal(38, 4) nullable> nullable>, nullable",
		"attrs: type=utf8, nullable",
		"tags: type=utf8, nullable",
		"lines: type=list<element: struct<qty: int64 nullable, price: decimal(38, 4) nullable, due: utf8 nullable, due_parsed: timestamp[us, tz=UTC] nullable, sub: struct<x: bool nullable> nullable>, nullable>, nullable",
		"anything: type=utf8, nullable",
		"mixed: type=utf8, nullable",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("schema lacks %q:\n%s", want, got)
		}
	}
}

func TestCompression(t *testing.T) {
	for _, c := range []struct {
		opt  Compression
		want compress.Compression
	}{{"", compress.Codecs.Zstd}, {Zstd, compress.Codecs.Zstd}, {Snappy, compress.Codecs.Snappy}, {None, compress.Codecs.Uncompressed}} {
		st := kitchen(t)
		s, w := openOne(t, st, Options{Compression: c.opt})
		writeAll(t, w, raws(kitchenRecords))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		md := fileMeta(t, w.Files()[0])
		rg := md.RowGroup(0)
		for i := 0; i < rg.NumColumns(); i++ {
			cc, err := rg.ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != c.want {
				t.Errorf("%q: column %d compressed with %v, want %v", c.opt, i, cc.Compression(), c.want)
			}
		}
		checkFiles(t, w.Files(), st.schema, raws(kitchenRecords))
	}
	if _, err := Open(nil, Options{Dir: t.TempDir(), Compression: "lz4"}); err == nil || !strings.Contains(err.Error(), "zstd, snappy or none") {
		t.Errorf("Open with lz4: %v", err)
	}
}

// TestRotation writes 7 rows with 3 rows a file and 2 a row group.
func TestRotation(t *testing.T) {
	st := kitchen(t)
	recs := make([]json.RawMessage, 7)
	for i := range recs {
		recs[i] = json.RawMessage(strings.Replace(kitchenRecords[i%len(kitchenRecords)], `"id":"`, `"id":"r`+string(rune('0'+i)), 1))
		if i == 5 { // kitchenRecords[5] has spaces around its values
			recs[i] = json.RawMessage(strings.Replace(kitchenRecords[5], `"a6"`, `"r5a6"`, 1))
		}
	}
	s, w := openOne(t, st, Options{RowsPerFile: 3, RowGroupRows: 2})
	var commits []int
	for i, r := range recs {
		c, err := w.Write(r)
		if err != nil {
			t.Fatal(err)
		}
		if c {
			commits = append(commits, i)
			if n := len(streamFiles(t, w.dir)); n != len(commits) {
				t.Errorf("after commit %d: %d visible files", len(commits), n)
			}
		}
	}
	if want := []int{2, 5}; !equalValue(toAny(commits), toAny(want)) {
		t.Errorf("Write reported commits after records %v, want %v", commits, want)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil { // nothing new: no empty file
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files := streamFiles(t, w.dir)
	if len(files) != 3 {
		t.Fatalf("files = %v", files)
	}
	for i, f := range files {
		if want := []int{2, 2, 1}[i]; fileMeta(t, f).NumRowGroups() != want {
			t.Errorf("%s: %d row groups, want %d", f, fileMeta(t, f).NumRowGroups(), want)
		}
		if !strings.HasSuffix(f, []string{"-00001.parquet", "-00002.parquet", "-00003.parquet"}[i]) {
			t.Errorf("file %d is %s", i, f)
		}
	}
	checkFiles(t, files, st.schema, recs)
}

func toAny(v []int) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// TestAtomicFiles: while a file is written only its hidden temporary exists;
// the visible name appears complete, after the footer.
func TestAtomicFiles(t *testing.T) {
	st := kitchen(t)
	s, w := openOne(t, st, Options{RowGroupRows: 1})
	writeAll(t, w, raws(kitchenRecords))
	if got := streamFiles(t, w.dir); len(got) != 0 {
		t.Fatalf("visible before commit: %v", got)
	}
	tmps := temps(t, w.dir)
	if len(tmps) != 1 || !strings.HasPrefix(filepath.Base(tmps[0]), ".part-") {
		t.Fatalf("temporaries = %v", tmps)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := temps(t, w.dir); len(got) != 0 {
		t.Errorf("temporaries left after commit: %v", got)
	}
	checkFiles(t, streamFiles(t, w.dir), st.schema, raws(kitchenRecords))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotPublishedWholeOrNotAtAll: a snapshot of several files one
// of which cannot be given its final name (here its temporary is gone; a
// full disk or an I/O error of the directory does the same) publishes
// none: the files linked before it are removed again, so the previous
// snapshot stays the newest, whole, and no temporary is left. A partial
// snapshot's carried rows are in its last files: half published, the
// newest snapshot lacked the accounts the read could not read, and the
// next partial run carried over from it without them.
func TestSnapshotPublishedWholeOrNotAtAll(t *testing.T) {
	st, dir := kitchen(t), t.TempDir()
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	first, _ := snapshotRun(t, dir, st, t0, Options{}, raws(kitchenRecords), nil, nil)
	s, err := Open([]sourceStream{st}, Options{Dir: dir, Start: t0.Add(time.Hour), RowsPerFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Stream(st, protocol.FullRefresh)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, raws(kitchenRecords))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(w.staged) != 4 {
		t.Fatalf("staged %d files, want 4", len(w.staged))
	}
	if err := os.Remove(w.staged[2].tmp); err != nil {
		t.Fatal(err)
	}
	if err := w.PublishSnapshot(); err == nil {
		t.Fatal("the snapshot was published without one of its files")
	}
	if got := streamFiles(t, w.dir); !slices.Equal(got, first) {
		t.Errorf("the folder holds %v, want the previous snapshot %v alone", got, first)
	}
	if got := temps(t, w.dir); len(got) != 0 {
		t.Errorf("temporaries left: %v", got)
	}
}

func temps(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".part-*.parquet.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStaleTemporariesRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	sdir := filepath.Join(dir, "kitchen")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	old := start.Add(-time.Hour)
	files := map[string]time.Time{
		".part-20240101T000000Z-00001.parquet.tmp": old,                  // a crashed run's: removed
		".part-20990101T000000Z-00001.parquet.tmp": start.Add(time.Hour), // newer than the run: kept
		"part-20240101T000000Z-00001.parquet":      old,                  // a visible file: kept
		"notes.txt":                                old,                  // not ours: kept
	}
	for name, mt := range files {
		p := filepath.Join(sdir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open([]sourceStream{kitchen(t)}, Options{Dir: dir, Start: start}); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(sdir, name))
		removed := errors.Is(err, os.ErrNotExist)
		if want := name == ".part-20240101T000000Z-00001.parquet.tmp"; removed != want {
			t.Errorf("%s removed = %v, want %v", name, removed, want)
		}
	}
}

// TestNoOverwrite: two runs that start in the same second never replace
// each other's files.
func TestNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	st := kitchen(t)
	var all []string
	for run := range 2 {
		s, w := openOne(t, st, Options{Dir: dir, Start: start.Add(time.Duration(run) * time.Millisecond)})
		writeAll(t, w, raws(kitchenRecords[run:run+1]))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		all = append(all, w.Files()...)
	}
	if len(all) != 2 || all[0] == all[1] || !strings.HasSuffix(all[1], "-00002.parquet") {
		t.Fatalf("files = %v", all)
	}
	checkFiles(t, streamFiles(t, filepath.Join(dir, "kitchen")), st.schema, raws(kitchenRecords[:2]))
}

func TestEmptyStreamWritesNoFile(t *testing.T) {
	s, w := openOne(t, kitchen(t), Options{})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := streamFiles(t, w.dir); len(got) != 0 {
		t.Errorf("files = %v", got)
	}
	if _, err := w.Write(json.RawMessage(kitchenRecords[0])); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestValuesAreNeverChanged: a value the column cannot hold exactly is
// never rounded and never fails the write: its top-level column is null,
// the member is kept verbatim in _leftovers, _changes notes the nulled
// field, and the run logs one WARN per field.
func TestValuesAreNeverChanged(t *testing.T) {
	for _, c := range []struct {
		rec    string
		field  string // the nulled top-level column, "" for none
		left   string // _leftovers, "" for null
		reason string // in the WARN
	}{
		{`{"id":"x","n":1,"amount":56.82481}`, "amount", `{"amount":56.82481}`, "value 56.82481 has more than 4 decimal places"},
		{`{"id":"x","n":1,"rate":0.123456789}`, "rate", `{"rate":0.123456789}`, "more than 8 decimal places"},
		{`{"id":"x","n":1,"strRate":"1.0000001"}`, "strRate", `{"strRate":"1.0000001"}`, "more than 6 decimal places"},
		{`{"id":"x","n":1,"meta":{"inner":{"k":"k","v":1.00001}}}`, "meta", `{"meta":{"inner":{"k":"k","v":1.00001}}}`, "more than 4 decimal places"},
		{`{"id":"x","n":1,"lines":[{"price":0.00001}]}`, "lines", `{"lines":[{"price":0.00001}]}`, "more than 4 decimal places"},
		{`{"id":"x","n":1,"amount":1e40}`, "amount", `{"amount":1e40}`, "more than 38 digits"},
		{`{"id":"x","n":1,"amount":"12,50"}`, "amount", `{"amount":"12,50"}`, "not a decimal number"},
		{`{"id":"x","n":1.5}`, "n", `{"n":1.5}`, "not an integer"},
		{`{"id":"x","n":9223372036854775808}`, "n", `{"n":9223372036854775808}`, "not an integer that fits int64"},
		{`{"id":"x","n":1,"at":"2024-05-01T10:20:30"}`, "at", `{"at":"2024-05-01T10:20:30"}`, "not an RFC 3339 timestamp"},
		{`{"id":"x","n":1,"at":"2024-05-01T10:20:30.1234567Z"}`, "at", `{"at":"2024-05-01T10:20:30.1234567Z"}`, "below the microsecond"},
		{`{"id":"x","n":1,"day":"2024-02-30"}`, "day", `{"day":"2024-02-30"}`, "not a YYYY-MM-DD date"},
		{`{"id":"x","n":1,"day":"2024-02-03T10:00:00Z"}`, "day", `{"day":"2024-02-03T10:00:00Z"}`, "not a YYYY-MM-DD date"},
		{`{"id":"x","n":1,"ok":"yes"}`, "ok", `{"ok":"yes"}`, "is not true or false"},
		{`{"id":"x","n":1,"meta":[1]}`, "meta", `{"meta":[1]}`, "is not an object"},
		{`{"id":"x","n":1,"lines":{"price":1}}`, "lines", `{"lines":{"price":1}}`, "is not an array"},
		{`{"id":"x","n":"7"}`, "n", `{"n":"7"}`, "not an integer"},
		// Not a change: a missing required value is null, a repeated key
		// and a field the schema lacks are kept, a nested new field keeps
		// its typed struct and the whole member.
		{`{"id":"x"}`, "", "", ""},
		{`{"id":null,"n":1}`, "", "", ""},
		{`{"id":"x","n":1,"n":2}`, "", `{"n":2}`, ""},
		{`{"id":"x","n":1,"brandNew":{"a":[1,2.50]}}`, "", `{"brandNew":{"a":[1,2.50]}}`, ""},
		{`{"id":"x","n":1,"meta":{"a":"s","added":1.123456789}}`, "", `{"meta":{"a":"s","added":1.123456789}}`, ""},
	} {
		var logs bytes.Buffer
		s, w := openOne(t, kitchen(t), Options{})
		w.conv.warn.Log = slog.New(slog.NewTextHandler(&logs, nil))
		for range 2 { // two rows: one WARN
			if _, err := w.Write(json.RawMessage(c.rec)); err != nil {
				t.Fatalf("%s: %v", c.rec, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		files := streamFiles(t, w.dir)
		if len(files) != 1 {
			t.Fatalf("%s: files %v", c.rec, files)
		}
		for _, rows := range [][]map[string]any{readArrow(t, files[0]), readXitongsys(t, files[0])} {
			row := rows[1]
			var wantLeft, wantChanges any
			if c.left != "" {
				wantLeft = c.left
			}
			if c.field != "" {
				wantChanges = `[{"field":"` + c.field + `","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]`
				if row[c.field] != nil {
					t.Errorf("%s: %s = %v, want null", c.rec, c.field, row[c.field])
				}
			}
			if row[columns.Leftovers] != wantLeft || row[columns.Changes] != wantChanges {
				t.Errorf("%s: _leftovers %v, _changes %v; want %v, %v", c.rec, row[columns.Leftovers], row[columns.Changes], wantLeft, wantChanges)
			}
		}
		warns := strings.Count(logs.String(), "level=WARN")
		switch {
		case c.field == "" && warns != 0:
			t.Errorf("%s: %d WARNs, want none:\n%s", c.rec, warns, logs.String())
		case c.field != "" && (warns != 1 || !strings.Contains(logs.String(), c.reason) || !strings.Contains(logs.String(), "field="+c.field)):
			t.Errorf("%s: want one WARN naming %s and %q, got:\n%s", c.rec, c.field, c.reason, logs.String())
		}
	}
}

func TestMalformedJSON(t *testing.T) {
	for _, rec := range []string{
		``, `[]`, `{"id":"x","n":1`, `{"id":"x","n":1}x`, `{"id":"x" "n":1}`, `{"id":"x","n":01}`,
		`{"id":"x","n":1,"note":"a` + "\x01" + `"}`, `{"id":"x","n":1,"note":"\q"}`, `{"id":"x","n":1,"skip":[1,}`,
		`{"id":"x","n":1,"skip":tru}`,
	} {
		_, w := openOne(t, kitchen(t), Options{})
		if _, err := w.Write(json.RawMessage(rec)); err == nil {
			t.Errorf("%q: no error", rec)
		} else if !strings.Contains(err.Error(), "stream kitchen") {
			t.Errorf("%q: error does not name the stream: %v", rec, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	bad := testStream{name: "bad", schema: json.RawMessage(`{"type":"array"}`)}
	if _, err := Open([]sourceStream{bad}, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "stream bad") {
		t.Errorf("Open with an array schema: %v", err)
	}
	collide := testStream{name: "c", schema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string","x-lenient-time":true},"x_parsed":{"type":"string"}}}`)}
	if _, err := Open([]sourceStream{collide}, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), `column "x_parsed"`) {
		t.Errorf("Open with colliding columns: %v", err)
	}
	s, err := Open([]sourceStream{kitchen(t)}, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenStream(source.StreamInfo{Stream: testStream{name: "other", schema: json.RawMessage(kitchenSchema)}, Mode: protocol.FullRefresh}, nil); err == nil {
		t.Error("OpenStream of a stream Open was not given succeeded")
	}
}

// recorder is the rest of a sink chain: it keeps what reaches it.
type recorder struct {
	rows   int
	states []string
	ended  error
	// at, if set, is noted with each state: what was true when it came.
	at func() string
}

func (r *recorder) note(s string) string {
	if r.at != nil {
		return s + "@" + r.at()
	}
	return s
}

func (r *recorder) Record(jsonrow.Row) error { r.rows++; return nil }
func (r *recorder) State(st source.State) error {
	b, err := st.JSON()
	r.states = append(r.states, r.note(string(b)))
	return err
}
func (r *recorder) Announce(a source.Announcement) error {
	b, err := a.State.JSON()
	r.states = append(r.states, r.note("announce "+string(b)))
	return err
}
func (r *recorder) End(readErr error) error { r.ended = readErr; return readErr }

// TestStateWaitsOnlyForUncommittedRows: a state is passed on at once when
// every row before it is in a committed file, is held while some are not,
// and is passed on by the commit that makes them durable.
func TestStateWaitsOnlyForUncommittedRows(t *testing.T) {
	l, next, rec := kitchenLink(t, t.TempDir(), 3)
	step := func(what string, f func() error, want int) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := len(next.states); got != want {
			t.Fatalf("after %s: %d states passed on, want %d", what, got, want)
		}
	}
	step("3 rows (a file committed)", func() error { rec(); rec(); return rec() }, 0)
	step("state A, nothing uncommitted", func() error { return l.State(source.StateOf(json.RawMessage(`"A"`))) }, 1)
	step("1 more row", rec, 1)
	step("state B, 1 row uncommitted", func() error { return l.State(source.StateOf(json.RawMessage(`"B"`))) }, 1)
	step("row 5, still uncommitted", rec, 1)
	step("row 6 commits the file", rec, 2)
	step("state C, nothing uncommitted", func() error { return l.State(source.StateOf(json.RawMessage(`"C"`))) }, 3)
	step("row 7", rec, 3)
	step("state D", func() error { return l.State(source.StateOf(json.RawMessage(`"D"`))) }, 3)
	step("the end commits row 7", func() error { return l.End(nil) }, 4)
	if got := strings.Join(next.states, ""); got != `"A""B""C""D"` || next.rows != 7 || next.ended != nil {
		t.Errorf("passed on %s, %d rows, end %v", got, next.rows, next.ended)
	}
}

// kitchenLink opens the kitchen stream's link in front of a recorder, and
// returns a function writing its next row.
func kitchenLink(t *testing.T, dir string, rowsPerFile int64) (source.StreamSink, *recorder, func() error) {
	return kitchenLinkWith(t, dir, rowsPerFile, source.StreamInfo{Stream: kitchen(t), Mode: protocol.Incremental})
}

// kitchenLinkWith is kitchenLink opened with info (its stream must be the
// kitchen stream's name and schema).
func kitchenLinkWith(t *testing.T, dir string, rowsPerFile int64, info source.StreamInfo) (source.StreamSink, *recorder, func() error) {
	t.Helper()
	s, err := Open([]sourceStream{kitchen(t)}, Options{Dir: dir, RowsPerFile: rowsPerFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	next := &recorder{}
	l, err := s.OpenStream(info, next)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	return l, next, func() error {
		n++
		return l.Record(jsonrow.With([]byte(fmt.Sprintf(`{"n":%d}`, n)), jsonrow.String("id", fmt.Sprint(n))))
	}
}

// TestAnnouncementCommitsFirst: an announcement the stream cannot merge
// (no Since) is passed on at once, after the state held and a commit of
// the rows before it, so no file is ever committed with rows whose
// announcement was not passed on first.
func TestAnnouncementCommitsFirst(t *testing.T) {
	dir := t.TempDir()
	l, next, write := kitchenLink(t, dir, 100)
	rec := func() {
		t.Helper()
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	files := func() int {
		t.Helper()
		return len(streamFiles(t, filepath.Join(dir, "kitchen")))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"A"`))})) // nothing written: no file
	rec()
	rec()
	must(l.State(source.StateOf(json.RawMessage(`"B"`)))) // held
	rec()
	if files() != 0 || len(next.states) != 1 {
		t.Fatalf("%d files, states %v", files(), next.states)
	}
	must(l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"C"`))}))
	if files() != 1 || strings.Join(next.states, " ") != `announce "A" "B" announce "C"` {
		t.Fatalf("after announcement C: %d files, states %v; want the 3 rows committed, B then C passed on", files(), next.states)
	}
	must(l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"D"`))})) // nothing uncommitted: no empty file
	rec()
	must(l.End(nil))
	if files() != 2 || strings.Join(next.states, " ") != `announce "A" "B" announce "C" announce "D"` || next.rows != 4 {
		t.Fatalf("at the end: %d files, states %v, %d rows", files(), next.states, next.rows)
	}
}

// mergingKitchen is the kitchen stream with a StateMerger that writes
// what it merged: "released+state".
type mergingKitchen struct {
	testStream
	err error
}

func (m mergingKitchen) MergeState(released, state source.State) (source.State, error) {
	if m.err != nil {
		return source.State{}, m.err
	}
	rb, err := released.JSON()
	if err != nil {
		return source.State{}, err
	}
	sb, err := state.JSON()
	if err != nil {
		return source.State{}, err
	}
	switch string(sb) {
	case `"SAME"`:
		return released, nil // lists nothing released does not
	case `"ECHO"`:
		return state, nil // claims nothing beyond released: itself
	}
	return source.StateOf(json.RawMessage(`"` + strings.Trim(string(rb), `"`) + "+" + strings.Trim(string(sb), `"`) + `"`)), nil
}

// TestAnnouncementHeldAndListedBeforeCommit: with nothing after the sink
// that keeps rows, and a stream that merges states, an announcement does
// not cut the file: it is held like a state, and just before the file
// commits, by size or at the end, the link passes on the held state
// merged into the last one passed on (the input state at first), then
// the held state after the commit (each state is noted with the number of
// files committed when it came).
func TestAnnouncementHeldAndListedBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	l, next, write := kitchenLinkWith(t, dir, 4, source.StreamInfo{Stream: mergingKitchen{testStream: kitchen(t)}, Mode: protocol.Incremental, State: json.RawMessage(`"IN"`)})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	announce := func(st string) error {
		return l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(st))})
	}
	files := func() int { return len(streamFiles(t, filepath.Join(dir, "kitchen"))) }
	next.at = func() string { return fmt.Sprint(files()) } // files committed when a state comes
	must(write())
	must(announce(`"A"`)) // held: no file cut
	must(write())
	must(l.State(source.StateOf(json.RawMessage(`"B"`)))) // held; A's rows still to list
	must(write())
	if files() != 0 || len(next.states) != 0 {
		t.Fatalf("before the commit: %d files, passed on %v", files(), next.states)
	}
	must(write()) // the 4th row commits the file: listed first
	if got, want := strings.Join(next.states, " "), `announce "IN+B"@0 "B"@1`; got != want || files() != 1 {
		t.Fatalf("at the commit: %d files, passed on %s, want %s", files(), got, want)
	}
	must(announce(`"C"`)) // nothing uncommitted: passed on at once
	must(write())
	must(announce(`"SAME"`)) // merges to the state passed on: no merged state passed on
	must(write())
	must(l.End(nil))
	if got, want := strings.Join(next.states, " "), `announce "IN+B"@0 "B"@1 announce "C"@1 "SAME"@2`; got != want || files() != 2 || next.rows != 6 {
		t.Fatalf("at the end: %d files, passed on %s (want %s), %d rows", files(), got, want, next.rows)
	}
}

// TestAnnouncementCutsFileWhenNextKeepsRows: when stdout prints records
// (or a database follows), an announcement must reach it before the rows
// after it: the file in progress is committed and the announcement passed
// on at once, merging stream or not.
func TestAnnouncementCutsFileWhenNextKeepsRows(t *testing.T) {
	dir := t.TempDir()
	l, next, write := kitchenLinkWith(t, dir, 100, source.StreamInfo{Stream: mergingKitchen{testStream: kitchen(t)}, Mode: protocol.Incremental, NextKeepsRows: true})
	if err := write(); err != nil {
		t.Fatal(err)
	}
	if err := l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"A"`))}); err != nil {
		t.Fatal(err)
	}
	if n := len(streamFiles(t, filepath.Join(dir, "kitchen"))); n != 1 || strings.Join(next.states, " ") != `announce "A"` {
		t.Fatalf("%d files, passed on %v; want the row committed and A passed on", n, next.states)
	}
}

// TestAnnouncementMergeFailureFailsStream: a state that cannot be merged
// before a commit fails the stream without committing the file, so no
// file holds rows no printed state lists; the next run reads them again.
func TestAnnouncementMergeFailureFailsStream(t *testing.T) {
	dir := t.TempDir()
	l, next, write := kitchenLinkWith(t, dir, 100, source.StreamInfo{Stream: mergingKitchen{testStream: kitchen(t), err: errors.New("no")}, Mode: protocol.Incremental})
	if err := write(); err != nil {
		t.Fatal(err)
	}
	if err := l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"A"`))}); err != nil {
		t.Fatal(err)
	}
	err := l.End(nil)
	if err == nil || !strings.Contains(err.Error(), "listing the kitchen ids") {
		t.Fatalf("End: %v", err)
	}
	if n := len(streamFiles(t, filepath.Join(dir, "kitchen"))); n != 0 || len(next.states) != 0 {
		t.Fatalf("%d files, passed on %v; want nothing", n, next.states)
	}
}

// TestMergedStateNotRepeated: when the merged state passed on before a
// commit is the held state itself (it claimed no progress beyond the last
// state passed on), the held state is not passed on a second time after
// the commit: two identical states may not go out with records between.
func TestMergedStateNotRepeated(t *testing.T) {
	dir := t.TempDir()
	l, next, write := kitchenLinkWith(t, dir, 100, source.StreamInfo{Stream: mergingKitchen{testStream: kitchen(t)}, Mode: protocol.Incremental})
	for _, step := range []func() error{
		write,
		func() error { return l.Announce(source.Announcement{State: source.StateOf(json.RawMessage(`"ECHO"`))}) },
		write,
		func() error { return l.End(nil) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(next.states, " "); got != `announce "ECHO"` || len(streamFiles(t, filepath.Join(dir, "kitchen"))) != 1 {
		t.Fatalf("passed on %s; want the merged state once and the file committed", got)
	}
}
