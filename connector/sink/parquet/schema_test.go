package parquet

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/schemas"
)

func TestDeriveAnnotations(t *testing.T) {
	root, err := deriveRoot(json.RawMessage(kitchenSchema))
	if err != nil {
		t.Fatal(err)
	}
	want := `id utf8
n int64
amount decimal(38, 4)
rate decimal(38, 8)
strAmount decimal(38, 4)
strRate decimal(38, 6)
at timestamp[us, tz=UTC]
day date32
when utf8
when_parsed timestamp[us, tz=UTC]
ok bool
note utf8
meta struct
  a utf8
  inner struct
    k utf8
    v decimal(38, 4)
attrs utf8
tags utf8
lines list
  element struct
    qty int64
    price decimal(38, 4)
    due utf8
    due_parsed timestamp[us, tz=UTC]
    sub struct
      x bool
anything utf8
mixed utf8
`
	if got := root.describe(); got != want {
		t.Errorf("columns:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeriveNullability(t *testing.T) {
	root, err := deriveRoot(json.RawMessage(`{"type":"object","required":["a","s","l"],"properties":{
		"a":{"type":"string"},
		"b":{"type":"string"},
		"s":{"type":"object","required":["x"],"properties":{"x":{"type":"integer"},"y":{"type":"integer"}}},
		"l":{"type":"array","items":{"type":"object","required":["z"],"properties":{"z":{"type":"boolean"}}}}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Every column is nullable, required or not: a value the column cannot
	// hold is written as null and kept in _leftovers, never fails the row.
	want := "a utf8\nb utf8\ns struct\n  x int64\n  y int64\nl list\n  element struct\n    z bool\n"
	if got := root.describe(); got != want {
		t.Errorf("columns:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeriveErrors(t *testing.T) {
	for schema, msg := range map[string]string{
		`[]`:                "reading the JSON Schema",
		`{"type":"string"}`: `root must have "type": "object"`,
		`{"type":"object"}`: "no properties",
		`{"type":"object","properties":{"a":{"type":"tuple"}}}`:                       `unknown JSON Schema type "tuple"`,
		`{"type":"object","properties":{"a":{"type":"number","x-decimal-scale":39}}}`: "x-decimal-scale 39",
		`{"type":"object","properties":{"a":{"type":7}}}`:                             `"type" must be a string`,
	} {
		if _, err := deriveRoot(json.RawMessage(schema)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", schema, err, msg)
		}
	}
}

// TestPluggySchemas derives every Pluggy stream and pins the mapping of the
// transactions stream, the one analytics reads most.
func TestPluggySchemas(t *testing.T) {
	names, err := fs.Glob(schemas.Pluggy, "pluggy/*.json")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	for _, n := range names {
		raw, err := fs.ReadFile(schemas.Pluggy, n)
		if err != nil {
			t.Fatal(err)
		}
		root, err := deriveRoot(raw)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if _, err := root.parquetSchema(); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		if n != "pluggy/transactions.json" {
			continue
		}
		got := root.describe()
		for _, line := range []string{
			"\nid utf8\n",
			"\naccountId utf8\n",
			"\namount decimal(38, 4)\n",
			"\ndate timestamp[us, tz=UTC]\n",
			"\ncreatedAt timestamp[us, tz=UTC]\n",
			"\n_ab_cdc_deleted_at timestamp[us, tz=UTC]\n",
			"\ncreditCardMetadata struct\n",
			"\n  purchaseDate utf8\n  purchaseDate_parsed timestamp[us, tz=UTC]\n",
			"\n  billForecastDate utf8\n  billForecastDate_parsed timestamp[us, tz=UTC]\n",
			"\n  installmentNumber int64\n",
			"\n  boletoMetadata struct\n",
			"\n    documentNumber struct\n",
		} {
			if !strings.Contains("\n"+got, line) {
				t.Errorf("transactions lacks %q:\n%s", line, got)
			}
		}
	}
}

// TestGoCardlessSchemas derives every GoCardless stream; amounts sent as
// JSON strings ("x-decimal-string") become decimals and round-trip exactly.
func TestGoCardlessSchemas(t *testing.T) {
	names, err := fs.Glob(schemas.GoCardless, "gocardless/*.json")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	var txSchema []byte
	for _, n := range names {
		raw, err := fs.ReadFile(schemas.GoCardless, n)
		if err != nil {
			t.Fatal(err)
		}
		root, err := deriveRoot(raw)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if n == "gocardless/transactions.json" {
			txSchema = raw
			got := root.describe()
			for _, line := range []string{"\ntransactionAmount struct\n  amount decimal(38, 4)\n", "\nbookingDate date32\n", "\nbookingDateTime utf8\nbookingDateTime_parsed timestamp[us, tz=UTC]\n"} {
				if !strings.Contains("\n"+got, line) {
					t.Errorf("gocardless transactions lacks %q:\n%s", line, got)
				}
			}
		}
	}
	if txSchema == nil {
		t.Fatal("no gocardless/transactions.json")
	}
	st := testStream{name: "transactions", schema: txSchema}
	recs := raws([]string{
		`{"transaction_key":"k1","account_id":"a","transactionAmount":{"amount":"-15.50","currency":"EUR"},"bookingDate":"2024-05-01","bookingDateTime":"2024-05-01T10:00:00Z"}`,
		`{"transaction_key":"k2","account_id":"a","transactionAmount":{"amount":"1234.567","currency":"KWD"},"valueDateTime":"2024-05-01T10:00:00+02:00"}`,
	})
	s, w := openOne(t, st, Options{})
	writeAll(t, w, recs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, w.Files(), st.schema, recs)
	rows := readArrow(t, w.Files()[0])
	if got := rows[1]["transactionAmount"].(map[string]any)["amount"]; got != "dec:1234.567" {
		t.Errorf("amount = %v", got)
	}
}
