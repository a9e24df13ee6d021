package main

import (
	"bytes"
	"encoding/json"
	"net/http"
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
// carries a field the schema lacks, as the fake serves them with Misfits,
// is written with the column null, both values byte-exact in _leftovers
// and the change in _changes; the stream completes with its STATE.
func TestParquetMisfitsKeptInLeftovers(t *testing.T) {
	e := newEnv(t, fake.Options{Misfits: true})
	// served holds each misfit row's two values as the fake sent them.
	served := map[string]bool{}
	for _, req := range e.fake.RequisitionIDs() {
		for _, acc := range e.fake.AccountIDs(req) {
			for _, raw := range e.fake.Booked(acc) {
				var m map[string]json.RawMessage
				st.Must(t, json.Unmarshal(raw, &m), "booked row")
				if m["xBankField"] != nil {
					served[string(m["balanceAfterTransaction"])+" "+string(m["xBankField"])] = true
				}
			}
		}
	}
	if len(served) == 0 {
		t.Fatal("the fake served no booked row with xBankField")
	}
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
		if bytes.Contains(rec, []byte(`"xBankField"`)) {
			booked++
		}
	}
	if booked == 0 {
		t.Fatal("no record carries xBankField")
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
				if !served[string(m["balanceAfterTransaction"])+" "+string(m["xBankField"])] || !bytes.HasPrefix(m["balanceAfterTransaction"], []byte(`"`)) {
					t.Errorf("_leftovers %s does not hold a served row's balanceAfterTransaction text and xBankField", left.Value(i))
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
		t.Errorf("%d misfit rows, %d with leftovers, %d noted", booked, kept, noted)
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
	if n := countLogs(r, protocol.LevelInfo, "field=xBankField", "does not list"); n != 1 {
		t.Errorf("%d INFO lines note xBankField, want 1", n)
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

// TestMisfitKeyFieldsKeepTheRow: a booked row whose transactionId,
// internalTransactionId, bookingDate or valueDate is not the string the
// schema declares (a number, an object, a boolean) is a value no schema
// expected: the row is emitted as sent, keyed and dated by its other
// fields, with one WARN naming the field, and Parquet keeps the value in
// _leftovers. It used to fail the account ("not a transaction object"),
// losing every row of it.
func TestMisfitKeyFieldsKeepTheRow(t *testing.T) {
	misfits := []struct {
		field, value string
		text         bool // a string column, which may hold the value as its text
	}{
		{"bookingDate", `20250101`, false},
		{"transactionId", `12345`, true},
		{"internalTransactionId", `{"id":"x"}`, true},
		{"valueDate", `true`, false},
	}
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 20}, func(_ *fake.Server, h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, func(body []byte) []byte {
			var page, txns map[string]json.RawMessage
			var booked []map[string]json.RawMessage
			if json.Unmarshal(body, &page) != nil || json.Unmarshal(page["transactions"], &txns) != nil || json.Unmarshal(txns["booked"], &booked) != nil || len(booked) < len(misfits) {
				return body
			}
			for i, m := range misfits {
				booked[i][m.field] = json.RawMessage(m.value)
			}
			txns["booked"], _ = json.Marshal(booked)
			page["transactions"], _ = json.Marshal(txns)
			out, _ := json.Marshal(page)
			return out
		})
	})
	dir := t.TempDir()
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--parquet-dir", dir)
	st.ValidateProtocol(t, r)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v", r.Code, r.ErrorTraces())
	}
	type keyed struct {
		AccountID      string `json:"account_id"`
		TransactionKey string `json:"transaction_key"`
	}
	var recs []keyed
	for _, raw := range r.Records()["transactions"] {
		var x keyed
		st.Must(t, json.Unmarshal(raw, &x), "record")
		recs = append(recs, x)
	}
	for _, a := range e.accounts() {
		n := 0
		for _, x := range recs {
			if x.AccountID == a {
				n++
			}
		}
		if want := len(e.fake.Booked(a)); n != want {
			t.Errorf("account %s: %d booked rows, the fake booked %d", a, n, want)
		}
	}
	keys := map[string]bool{}
	for _, x := range recs {
		if k := x.AccountID + "|" + x.TransactionKey; keys[k] || x.TransactionKey == "" {
			t.Errorf("key %q empty or twice", k)
		} else {
			keys[k] = true
		}
	}
	for _, m := range misfits {
		if n := countLogs(r, protocol.LevelWarn, m.field, "kept as sent"); n != 1 {
			t.Errorf("%d WARNs naming %s, want 1", n, m.field)
		}
		// Kept in _leftovers, or (a number in a text column) as its text.
		cols := []string{"_leftovers"}
		if m.text {
			cols = append(cols, m.field)
		}
		found := false
		for _, row := range st.ParquetStrings(t, dir, "transactions", cols...) {
			if l := row["_leftovers"]; l != nil && strings.Contains(*l, `"`+m.field+`":`+m.value) || m.text && row[m.field] != nil && *row[m.field] == m.value {
				found = true
			}
		}
		if !found {
			t.Errorf("no Parquet row keeps %s %s", m.field, m.value)
		}
	}
}
