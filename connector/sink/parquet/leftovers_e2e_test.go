package parquet

// Through the binary: values the real API sends that no typed column holds
// (pluggy-api.md §12, served by the fake's Misfits switch) never block a
// stream and are never lost.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// misfitFields are the top-level members Hostile.Misfits makes unfit for
// their columns, per stream.
var misfitFields = map[string][]string{
	"transactions": {"amount", "creditCardMetadata", "order"},
	"investments":  {"amountOriginal"},
}

func TestEndToEndMisfitsKeptInLeftovers(t *testing.T) {
	r := newHostileRun(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 300, PageSize: 100},
		&fake.Hostile{Misfits: true, ExtraField: "brandNewField"})
	dir := t.TempDir()
	res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	if res.Code != 0 {
		t.Fatalf("read exited %d\n%s", res.Code, res.Stderr)
	}
	sourcetest.ValidateProtocol(t, res)
	sourcetest.CheckLifecycle(t, res, r.names())
	states := res.FinalStates()
	records := res.Records()
	for stream, fields := range misfitFields {
		if states[stream] == nil {
			t.Errorf("%s: no STATE", stream)
		}
		recs := records[stream]
		if len(recs) == 0 {
			t.Fatalf("%s: no records", stream)
		}
		checkLeftovers(t, stream, streamFiles(t, filepath.Join(dir, stream)), recs, fields)
		for _, f := range fields {
			n := 0
			for _, m := range res.OfType(protocol.TypeLog) {
				if m.Log.Level == protocol.LevelWarn && strings.HasPrefix(m.Log.Message, stream+": ") &&
					strings.Contains(m.Log.Message, "does not fit") && strings.Contains(m.Log.Message, " field="+f+" ") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s.%s: %d WARNs, want one per run", stream, f, n)
			}
		}
	}

	// An independent reader: DuckDB finds every nulled value in the
	// leftovers with json_extract, as docs/parquet.md shows.
	modules := duckdbModules(t)
	if modules == "" {
		return
	}
	got := duckdb(t, modules, fmt.Sprintf(`
select count(*) as n,
       count(amount) as typed,
       count(json_extract(_leftovers, '$.amount')) as kept,
       count(*) filter (where json_extract_string(_changes, '$[0].change') = 'NULLED') as noted,
       count(json_extract(_leftovers, '$.brandNewField.introducedIn')) as extra,
       sum(cast(json_extract_string(_leftovers, '$.amount') as decimal(38, 8))) as total
from read_parquet('%s/transactions/*.parquet')`, dir))
	n := int64(len(records["transactions"]))
	total := new(big.Rat)
	for _, rec := range records["transactions"] {
		var m map[string]json.RawMessage
		json.Unmarshal(rec, &m)
		v, ok := new(big.Rat).SetString(string(m["amount"]))
		if !ok {
			t.Fatalf("amount %s", m["amount"])
		}
		total.Add(total, v)
	}
	want := []*big.Rat{big.NewRat(n, 1), new(big.Rat), big.NewRat(n, 1), big.NewRat(n, 1), big.NewRat(n, 1), total}
	for i, cell := range got.Rows[0] {
		v, ok := new(big.Rat).SetString(fmt.Sprint(cell))
		if !ok || v.Cmp(want[i]) != 0 {
			t.Errorf("DuckDB %s: %s = %v, want %s", got.Version, got.Columns[i], cell, want[i].FloatString(8))
		}
	}
}

// checkLeftovers checks every row of files against the stream's records:
// each misfit field is null in its column, byte-exact in _leftovers and
// noted NULLED in _changes; brandNewField is in _leftovers.
func checkLeftovers(t *testing.T, stream string, files []string, recs []json.RawMessage, fields []string) {
	t.Helper()
	byID := map[string]map[string]json.RawMessage{}
	for _, rec := range recs {
		m := map[string]json.RawMessage{}
		for _, mem := range topMembers(t, rec) {
			m[mem.key] = mem.val
		}
		var id string
		json.Unmarshal(m["id"], &id)
		byID[id] = m
	}
	var rows []map[string]any
	for _, f := range files {
		rows = append(rows, readArrow(t, f)...)
		rows = append(rows, readXitongsys(t, f)...)
	}
	if len(rows) != 2*len(recs) {
		t.Fatalf("%s: %d rows read by two readers, %d records", stream, len(rows), len(recs))
	}
	for _, row := range rows {
		rec := byID[fmt.Sprint(row["id"])]
		if rec == nil {
			t.Fatalf("%s: row %v has no record", stream, row["id"])
		}
		left := map[string]json.RawMessage{}
		text, _ := row[columns.Leftovers].(string)
		if err := json.Unmarshal([]byte(text), &left); err != nil {
			t.Fatalf("%s %v: _leftovers %q: %v", stream, row["id"], text, err)
		}
		var changes []map[string]string
		ctext, _ := row[columns.Changes].(string)
		if err := json.Unmarshal([]byte(ctext), &changes); err != nil {
			t.Fatalf("%s %v: _changes %q: %v", stream, row["id"], ctext, err)
		}
		noted := map[string]bool{}
		for _, c := range changes {
			if c["change"] != "NULLED" || c["reason"] != "DESTINATION_TYPECAST_ERROR" {
				t.Errorf("%s %v: change %v", stream, row["id"], c)
			}
			noted[c["field"]] = true
		}
		for _, f := range fields {
			if row[f] != nil {
				t.Errorf("%s %v: %s = %v, want null", stream, row["id"], f, row[f])
			}
			if !bytes.Equal(left[f], rec[f]) {
				t.Errorf("%s %v: _leftovers.%s = %s, record has %s", stream, row["id"], f, left[f], rec[f])
			}
			if !noted[f] {
				t.Errorf("%s %v: _changes %s does not note %s", stream, row["id"], ctext, f)
			}
		}
		if len(noted) != len(fields) {
			t.Errorf("%s %v: _changes %s, want %v", stream, row["id"], ctext, fields)
		}
		if rec["brandNewField"] != nil && !bytes.Equal(left["brandNewField"], rec["brandNewField"]) {
			t.Errorf("%s %v: _leftovers.brandNewField = %s, record has %s", stream, row["id"], left["brandNewField"], rec["brandNewField"])
		}
	}
}

// TestAddedFieldsAsJSONLinesHasThem: a row's added fields land in their
// columns unless the record has the key (the record's value wins, as in
// the JSON line); one the schema lacks goes to _leftovers, once. The files
// hold what the rows' JSON lines say.
func TestAddedFieldsAsJSONLinesHasThem(t *testing.T) {
	st := kitchen(t)
	rows := []jsonrow.Row{
		jsonrow.With([]byte(`{"n":1}`), jsonrow.String("id", "added-1")),
		jsonrow.With([]byte(`{"id":"own-2","n":2}`), jsonrow.String("id", "added-2")),
		jsonrow.With([]byte(`{"id":"own-3","n":3,"note":null}`), jsonrow.String("note", "added note")),
		jsonrow.With([]byte(`{"n":4}`), jsonrow.String("id", "added-4"), jsonrow.String("extra", "kept")),
		jsonrow.With([]byte(`{"id":"own-5","n":5,"extra":"own extra"}`), jsonrow.String("extra", "added extra")),
		jsonrow.With([]byte(`{"n":6,"note":"own note"}`), jsonrow.String("note", "added"), jsonrow.String("id", "added-6")),
		// Strings that JSON escapes, and invalid UTF-8 (replaced in the
		// JSON line, so in the file too): a string for a string column
		// is appended without its JSON text.
		jsonrow.With([]byte(`{"n":7}`), jsonrow.String("id", "q\"b\\s</é\u2028\x01"), jsonrow.String("note", "bad \xff\xfe utf-8")),
		// Values that are not strings, or a string for a column that is
		// not one, are read from their JSON text.
		jsonrow.With([]byte(`{"id":"own-8"}`), jsonrow.Raw("n", json.RawMessage(`8`)), jsonrow.Raw("meta", json.RawMessage(`{"a":"x"}`)), jsonrow.Raw("tags", json.RawMessage(`["t",null]`))),
		jsonrow.With([]byte(`{"id":"own-9","n":9}`), jsonrow.String("mixed", "text"), jsonrow.String("when", "2024-01-02")),
	}
	s, w := openOne(t, st, Options{})
	var recs []json.RawMessage
	for i, r := range rows {
		recs = append(recs, json.RawMessage(r.Bytes()))
		if _, err := w.WriteRow(r); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, w.Files(), st.schema, recs)
}
