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
	want := `id utf8 not null
n int64 not null
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
	// Required and never null: NOT NULL, also inside a NOT NULL struct and a
	// non-null list element. Optional properties may be absent: nullable.
	want := "a utf8 not null\nb utf8\ns struct not null\n  x int64 not null\n  y int64\nl list not null\n  element struct not null\n    z bool not null\n"
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
		_ = root.arrowSchema(nil)
		if n != "pluggy/transactions.json" {
			continue
		}
		got := root.describe()
		for _, line := range []string{
			"\nid utf8 not null\n",
			"\naccountId utf8 not null\n",
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
