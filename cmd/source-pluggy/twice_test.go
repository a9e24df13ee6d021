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
