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

// TestObjectWhereStringIsALeftoverInEverySink: an object or an array where
// the schema says string (a transaction's description) is not text. Both
// typed sinks null the column, keep the value whole in _leftovers and note
// it in _changes: as JSON text in the STRING column, the Parquet row could
// not be told from one whose description is the string holding that text,
// and it disagreed with PostgreSQL's row of the same read.
func TestObjectWhereStringIsALeftoverInEverySink(t *testing.T) {
	const object, array = `{"text":"Pix","lines":["a"]}`, `["PIX",1.50]`
	e := newEditedTransactionsEnv(t, func(i int, row map[string]any) {
		if i%2 == 0 {
			row["description"] = json.RawMessage(object)
			row["descriptionRaw"] = json.RawMessage(array)
		}
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--parquet-dir", dir, "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, st.Tail(r.Stderr))
	}
	want := idsWithDescription(t, r, object)
	if len(want) == 0 {
		t.Fatal("no record carries the object description: the rewrite did not apply")
	}

	seen := 0
	for _, row := range st.ParquetStrings(t, dir, "transactions", "id", "description", "descriptionRaw", "_leftovers", "_changes") {
		if !want[*row["id"]] {
			continue
		}
		seen++
		if v := row["description"]; v != nil {
			t.Errorf("Parquet %s: description %q, want null (the object is not a string)", *row["id"], *v)
		}
		if v := row["descriptionRaw"]; v != nil {
			t.Errorf("Parquet %s: descriptionRaw %q, want null (the array is not a string)", *row["id"], *v)
		}
		var left map[string]json.RawMessage
		if l := row["_leftovers"]; l != nil {
			st.Must(t, json.Unmarshal([]byte(*l), &left), "_leftovers")
		}
		if string(left["description"]) != object || string(left["descriptionRaw"]) != array {
			t.Errorf("Parquet %s: _leftovers %v, want description %s and descriptionRaw %s", *row["id"], row["_leftovers"], object, array)
		}
		if c := row["_changes"]; c == nil || !bytes.Contains([]byte(*c), []byte(`{"field":"description","change":"NULLED"`)) {
			t.Errorf("Parquet %s: _changes %v, want description NULLED", *row["id"], c)
		}
	}
	if seen != len(want) {
		t.Errorf("%d such rows in Parquet, %d read", seen, len(want))
	}

	conn := pgtest.Connect(t, url)
	for id := range want {
		var nulled, noted bool
		var left string
		err := conn.QueryRow(context.Background(), `SELECT description IS NULL AND "descriptionRaw" IS NULL,
			coalesce(_changes @> '[{"field":"description","change":"NULLED"}]', false),
			coalesce(_leftovers->>'description', '') || coalesce(_leftovers->>'descriptionRaw', '')
			FROM pluggy.transactions WHERE id = $1`, id).Scan(&nulled, &noted, &left)
		st.Must(t, err, "transaction "+id)
		if !nulled || !noted || left != `{"text": "Pix", "lines": ["a"]}["PIX", 1.50]` {
			t.Errorf("PostgreSQL %s: nulled %v, noted %v, _leftovers %s", id, nulled, noted, left)
		}
	}
}

// TestLoneSurrogateKeptInEverySink: a string cut in the middle of an emoji
// by a JavaScript back end ("\ud83d" without its other half) is valid JSON
// that no text column can hold as sent. Both typed sinks store it with
// U+FFFD for the half, as every JSON reader reads it, a top-level string
// (description) and one inside an object (merchant, a struct in Parquet,
// jsonb in PostgreSQL) alike; keep the member as sent in _leftovers; and
// note it REPLACED in _changes. They used to store U+FFFD silently (and
// PostgreSQL nulled the merchant).
func TestLoneSurrogateKeptInEverySink(t *testing.T) {
	const description, merchant = `"Caf\u00e9 \ud83d"`, `{"name":"Loja \ud83d","businessName":"Loja LTDA"}`
	e := newEditedTransactionsEnv(t, func(i int, row map[string]any) {
		if i%3 == 0 {
			row["description"] = json.RawMessage(description)
			row["merchant"] = json.RawMessage(merchant)
		}
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--parquet-dir", dir, "--postgres", url)
	if r.Code != 0 {
		t.Fatalf("read exited %d\n%s", r.Code, st.Tail(r.Stderr))
	}
	if !r.Warned("a value was changed to fit its typed column", "description") {
		t.Error("no WARN for the replaced description")
	}
	want := idsWithDescription(t, r, description)
	if len(want) == 0 {
		t.Fatal("no record carries the cut description: the rewrite did not apply (or stdout changed it)")
	}

	seen := 0
	for _, row := range st.ParquetStrings(t, dir, "transactions", "id", "description", "_leftovers", "_changes") {
		if !want[*row["id"]] {
			continue
		}
		seen++
		if v := row["description"]; v == nil || *v != "Café \uFFFD" {
			t.Errorf("Parquet %s: description %v, want %q", *row["id"], v, "Café \uFFFD")
		}
		var left map[string]json.RawMessage
		if l := row["_leftovers"]; l != nil {
			st.Must(t, json.Unmarshal([]byte(*l), &left), "_leftovers")
		}
		if string(left["description"]) != description || string(left["merchant"]) != merchant {
			t.Errorf("Parquet %s: _leftovers %v, want description %s and merchant %s as sent", *row["id"], row["_leftovers"], description, merchant)
		}
		for _, field := range []string{"description", "merchant"} {
			if c := row["_changes"]; c == nil || !bytes.Contains([]byte(*c), []byte(`{"field":"`+field+`","change":"REPLACED","reason":"DESTINATION_SERIALIZATION_ERROR"}`)) {
				t.Errorf("Parquet %s: _changes %v, want %s REPLACED", *row["id"], c, field)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d such rows in Parquet, %d read", seen, len(want))
	}

	conn := pgtest.Connect(t, url)
	for id := range want {
		var desc, name, left string
		var noted bool
		err := conn.QueryRow(context.Background(), `SELECT description, merchant->>'name',
			coalesce(_changes @> '[{"field":"description","change":"REPLACED"},{"field":"merchant","change":"REPLACED"}]', false),
			coalesce(_leftovers->>'description', '') || ' ' || coalesce(_leftovers->>'merchant', '')
			FROM pluggy.transactions WHERE id = $1`, id).Scan(&desc, &name, &noted, &left)
		st.Must(t, err, "transaction "+id)
		if desc != "Café \uFFFD" || name != "Loja \uFFFD" || !noted || left != description+" "+merchant {
			t.Errorf("PostgreSQL %s: description %q, merchant name %q, noted %v, _leftovers %s", id, desc, name, noted, left)
		}
	}
}

// newEditedTransactionsEnv is an env whose fake's transactions pages reach
// the connector with each row passed through edit (i: its place in its
// page), numbers kept as sent.
func newEditedTransactionsEnv(t *testing.T, edit func(i int, row map[string]any)) *env {
	return newWrappedEnv(t, fake.Options{}, func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var page map[string]any
			if d.Decode(&page) != nil {
				return b
			}
			rows, _ := page["results"].([]any)
			for i, r := range rows {
				if row, ok := r.(map[string]any); ok {
					edit(i, row)
				}
			}
			out, err := json.Marshal(page)
			st.Must(t, err, "page")
			return out
		})
	})
}

// idsWithDescription are the ids of the transactions r printed whose
// description is, as JSON, exactly desc.
func idsWithDescription(t *testing.T, r *st.Result, desc string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			ID          string          `json:"id"`
			Description json.RawMessage `json:"description"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "record")
		if string(x.Description) == desc {
			ids[x.ID] = true
		}
	}
	return ids
}
