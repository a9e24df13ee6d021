package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestParquetMisfitsKeptInLeftovers: a booked transaction whose
// balanceAfterTransaction is a string (the schema says object) and which
// carries a field the schema lacks is written, with the column null, both
// values byte-exact in _leftovers and the change in _changes; the stream
// completes with its STATE.
func TestParquetMisfitsKeptInLeftovers(t *testing.T) {
	e := newEnvWith(t, fake.Options{}, func(_ *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/transactions") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			var page, txns map[string]json.RawMessage
			var booked []map[string]json.RawMessage
			if rec.Code == 200 && json.Unmarshal(body, &page) == nil && json.Unmarshal(page["transactions"], &txns) == nil &&
				json.Unmarshal(txns["booked"], &booked) == nil {
				for _, row := range booked {
					row["balanceAfterTransaction"] = json.RawMessage(`"12,50 EUR"`)
					row["brandNewField"] = json.RawMessage(`{"since":"2027-01","n":1.50}`)
				}
				txns["booked"], _ = json.Marshal(booked)
				page["transactions"], _ = json.Marshal(txns)
				body, _ = json.Marshal(page)
			}
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	})
	dir := t.TempDir()
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--parquet-dir", dir)
	st.ValidateProtocol(t, r)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v\n%s", r.Code, r.ErrorTraces(), r.Stderr)
	}
	if len(r.FinalStates()["transactions"]) == 0 {
		t.Error("no transactions STATE")
	}
	booked := 0
	for _, rec := range r.Records()["transactions"] {
		if bytes.Contains(rec, []byte(`"brandNewField"`)) {
			booked++
		}
	}
	if booked == 0 {
		t.Fatal("no booked transaction was rewritten")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "transactions", "*.parquet"))
	kept, noted := 0, 0
	for _, f := range files {
		rdr, err := file.OpenParquetFile(f, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			rec := tr.RecordBatch()
			col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
			left, changes, bal := col("_leftovers").(*array.String), col("_changes").(*array.String), col("balanceAfterTransaction")
			for i := range int(rec.NumRows()) {
				if left.IsNull(i) {
					continue
				}
				var m map[string]json.RawMessage
				if err := json.Unmarshal([]byte(left.Value(i)), &m); err != nil {
					t.Fatalf("_leftovers %q: %v", left.Value(i), err)
				}
				if string(m["balanceAfterTransaction"]) != `"12,50 EUR"` || string(m["brandNewField"]) != `{"since":"2027-01","n":1.50}` {
					t.Errorf("_leftovers %s", left.Value(i))
				}
				kept++
				if !bal.IsNull(i) {
					t.Errorf("balanceAfterTransaction is not null in row %d", i)
				}
				if changes.Value(i) == `[{"field":"balanceAfterTransaction","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]` {
					noted++
				}
			}
		}
		tr.Release()
		tbl.Release()
		rdr.Close()
	}
	if kept != booked || noted != booked {
		t.Errorf("%d rewritten rows, %d with leftovers, %d noted", booked, kept, noted)
	}
	warns := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "field=balanceAfterTransaction") {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d WARNs for balanceAfterTransaction, want 1", warns)
	}
	// The field the schema lacks is noted once a run, not once a row: it
	// was kept with nothing said.
	if n := countLogs(r, protocol.LevelInfo, "field=brandNewField", "does not list"); n != 1 {
		t.Errorf("%d INFO lines note brandNewField, want 1", n)
	}
}

// countLogs counts the LOG lines of level that hold every one of parts.
func countLogs(r *st.Result, level protocol.Level, parts ...string) int {
	n := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level != level {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(m.Log.Message, p)
		}
		if all {
			n++
		}
	}
	return n
}
