package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestMemberNamedTwiceKeptInEverySink: a row that names one member twice
// ("description" here; JSON leaves such an object's meaning open) reaches
// stdout as sent, and both typed sinks keep both values: the column holds
// the first and _leftovers the second. PostgreSQL overwrote its column with
// the second and lost the first without a trace, where Parquet kept both.
func TestMemberNamedTwiceKeptInEverySink(t *testing.T) {
	const first = `"Compra parcelada 1/3"`
	e := newWrappedEnv(t, fake.Options{}, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"description":`), []byte(`"description":`+first+`,"description":`))
		})
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--parquet-dir", dir, "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, st.Tail(r.Stderr))
	}

	// The second description of each record, as stdout printed it.
	second := map[string]string{}
	for _, raw := range r.Records()["transactions"] {
		values := membersNamed(t, raw, "description")
		var id struct{ ID string }
		st.Must(t, json.Unmarshal(raw, &id), "record")
		if len(values) != 2 || values[0] != first {
			t.Fatalf("record %s on stdout: descriptions %q, want %s then the fake's", id.ID, values, first)
		}
		second[id.ID] = values[1]
	}
	if len(second) == 0 {
		t.Fatal("no transaction read")
	}

	want := `Compra parcelada 1/3`
	rows := st.ParquetStrings(t, dir, "transactions", "id", "description", "_leftovers")
	for _, row := range rows {
		var left map[string]json.RawMessage
		if l := row["_leftovers"]; l != nil {
			st.Must(t, json.Unmarshal([]byte(*l), &left), "_leftovers")
		}
		if d := row["description"]; d == nil || *d != want || string(left["description"]) != second[*row["id"]] {
			t.Errorf("Parquet %s: description %v, _leftovers %v; want %q and the second description %s", *row["id"], d, row["_leftovers"], want, second[*row["id"]])
		}
	}
	if len(rows) != len(second) {
		t.Errorf("%d Parquet rows, %d transactions read", len(rows), len(second))
	}

	conn := pgtest.Connect(t, url)
	for id, sec := range second {
		var desc, left string
		err := conn.QueryRow(context.Background(), `SELECT coalesce(description, '<null>'), coalesce(_leftovers->'description', 'null')::text
			FROM pluggy.transactions WHERE id = $1`, id).Scan(&desc, &left)
		st.Must(t, err, "transaction "+id)
		var wantLeft any
		st.Must(t, json.Unmarshal([]byte(sec), &wantLeft), "description")
		var gotLeft any
		st.Must(t, json.Unmarshal([]byte(left), &gotLeft), "_leftovers")
		if desc != want || gotLeft != wantLeft {
			t.Errorf("PostgreSQL %s: description %q, _leftovers description %s; want %q and %s", id, desc, left, want, sec)
		}
	}
}

// membersNamed returns the JSON text of each top-level member of the
// object raw named name, in order.
func membersNamed(t *testing.T, raw json.RawMessage, name string) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("record %s is not an object", raw)
	}
	var out []string
	for d.More() {
		key, err := d.Token()
		st.Must(t, err, "record key")
		var v json.RawMessage
		st.Must(t, d.Decode(&v), "record value")
		if key == name {
			out = append(out, string(v))
		}
	}
	return out
}

// TestNestedMemberNamedTwiceKeptInEverySink: an object member that names
// one of its own members twice (a merchant with two names) is kept as sent
// in both typed sinks. Parquet's struct cannot hold it: the column is null,
// the member whole in _leftovers, noted NULLED. PostgreSQL's jsonb keeps
// the last value of a repeated key and drops the others: the column holds
// that, _leftovers the member as sent (as the JSON string of its text,
// which jsonb leaves alone), noted REPLACED. The first name used to be
// lost without a trace.
func TestNestedMemberNamedTwiceKeptInEverySink(t *testing.T) {
	const first = `"name":"Loja Matriz",`
	e := newWrappedEnv(t, fake.Options{}, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"merchant":{`), []byte(`"merchant":{`+first))
		})
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--parquet-dir", dir, "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, st.Tail(r.Stderr))
	}

	// Each record's merchant as stdout printed it, and its last name.
	merchants, lastName := map[string]string{}, map[string]string{}
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			ID       string
			Merchant json.RawMessage
		}
		st.Must(t, json.Unmarshal(raw, &x), "record")
		if !bytes.HasPrefix(x.Merchant, []byte(`{`+first)) {
			continue
		}
		var m struct{ Name string }
		st.Must(t, json.Unmarshal(x.Merchant, &m), "merchant")
		merchants[x.ID], lastName[x.ID] = string(x.Merchant), m.Name
	}
	if len(merchants) == 0 {
		t.Fatal("no record carries a merchant with two names: the rewrite did not apply")
	}

	seen := 0
	for _, row := range st.ParquetStrings(t, dir, "transactions", "id", "_leftovers", "_changes") {
		want, ok := merchants[*row["id"]]
		if !ok {
			continue
		}
		seen++
		var left map[string]json.RawMessage
		if l := row["_leftovers"]; l != nil {
			st.Must(t, json.Unmarshal([]byte(*l), &left), "_leftovers")
		}
		if string(left["merchant"]) != want {
			t.Errorf("Parquet %s: _leftovers %v, want merchant %s as sent", *row["id"], row["_leftovers"], want)
		}
		if c := row["_changes"]; c == nil || !bytes.Contains([]byte(*c), []byte(`{"field":"merchant","change":"NULLED"`)) {
			t.Errorf("Parquet %s: _changes %v, want merchant NULLED", *row["id"], c)
		}
	}
	if seen != len(merchants) {
		t.Errorf("%d such rows in Parquet, %d read", seen, len(merchants))
	}

	conn := pgtest.Connect(t, url)
	for id, want := range merchants {
		var name, left string
		var noted bool
		err := conn.QueryRow(context.Background(), `SELECT coalesce(merchant->>'name', '<null>'), coalesce(_leftovers->>'merchant', '<null>'),
			coalesce(_changes @> '[{"field":"merchant","change":"REPLACED","reason":"DESTINATION_SERIALIZATION_ERROR"}]', false)
			FROM pluggy.transactions WHERE id = $1`, id).Scan(&name, &left, &noted)
		st.Must(t, err, "transaction "+id)
		if name != lastName[id] || left != want || !noted {
			t.Errorf("PostgreSQL %s: merchant name %q, _leftovers merchant %s, noted %v; want %q, %s as sent, noted", id, name, left, noted, lastName[id], want)
		}
	}
}

// TestMemberNamedThriceKeptInEverySink: a record that names a member
// three times ("description"), and a field the schema lacks twice
// ("note"), keeps every copy in both typed sinks: the column holds the
// first description, and _leftovers the others as sent, in order. A jsonb
// object keeps only the last value of a key, so PostgreSQL's _leftovers
// is then the JSON string of that text, the very text Parquet's holds;
// it kept only the last copy of each, the others lost without a trace.
func TestMemberNamedThriceKeptInEverySink(t *testing.T) {
	const copies = `"note":1,"note":{"n":2},"description":"Compra parcelada 1/3","description":"Compra parcelada 2/3",`
	e := newWrappedEnv(t, fake.Options{}, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte(`"description":`), []byte(copies+`"description":`))
		})
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--parquet-dir", dir, "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, st.Tail(r.Stderr))
	}

	// What Parquet keeps, by id: every copy but the column's.
	want := map[string]string{}
	for _, row := range st.ParquetStrings(t, dir, "transactions", "id", "description", "_leftovers") {
		left := row["_leftovers"]
		if left == nil || !bytes.HasPrefix([]byte(*left), []byte(`{"note":1,"note":{"n":2},"description":"Compra parcelada 2/3","description":`)) {
			t.Fatalf("Parquet %s: _leftovers %v, want the notes and the second and third descriptions", *row["id"], left)
		}
		if d := row["description"]; d == nil || *d != "Compra parcelada 1/3" {
			t.Errorf("Parquet %s: description %v, want the first", *row["id"], d)
		}
		want[*row["id"]] = *left
	}
	if len(want) == 0 || len(want) != len(r.Records()["transactions"]) {
		t.Fatalf("%d Parquet rows, %d transactions read", len(want), len(r.Records()["transactions"]))
	}

	conn := pgtest.Connect(t, url)
	for id, left := range want {
		var desc, got string
		err := conn.QueryRow(context.Background(), `SELECT coalesce(description, '<null>'), coalesce(_leftovers #>> '{}', '<null>')
			FROM pluggy.transactions WHERE id = $1`, id).Scan(&desc, &got)
		st.Must(t, err, "transaction "+id)
		if desc != "Compra parcelada 1/3" || got != left {
			t.Errorf("PostgreSQL %s: description %q, _leftovers %s; want the first description and, as Parquet keeps it, %s", id, desc, got, left)
		}
	}
	if !r.Warned("_leftovers #>> '{}'") {
		t.Error("no WARN says where the copies are")
	}
}
