package parquet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/schemas"
)

// gen builds random JSON values for a JSON Schema, and with probability odd
// a shape the schema does not expect: a wrong type, more decimal places
// than any column keeps, a timestamp where a date goes, a nested field the
// schema lacks.
type gen struct {
	r   *rand.Rand
	odd float64
}

func (g *gen) value(b []byte, s xschema, depth int) []byte {
	if g.r.Float64() < g.odd {
		return g.unexpected(b, s, depth)
	}
	types := nonNullTypes(s)
	if len(types) == 0 || g.r.IntN(8) == 0 {
		return append(b, "null"...)
	}
	switch types[g.r.IntN(len(types))] {
	case "string":
		switch {
		case s["x-decimal-string"] == true:
			return fmt.Appendf(b, `"%d.%02d"`, g.r.IntN(100000)-50000, g.r.IntN(100))
		case s["format"] == "date-time":
			return fmt.Appendf(b, `"2026-%02d-%02dT%02d:%02d:%02d.%03dZ"`, 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60), g.r.IntN(1000))
		case s["format"] == "date":
			return fmt.Appendf(b, `"2026-%02d-%02d"`, 1+g.r.IntN(12), 1+g.r.IntN(28))
		}
		return g.str(b)
	case "number":
		return fmt.Appendf(b, "%d.%02d", g.r.IntN(200000)-100000, g.r.IntN(100))
	case "integer":
		return fmt.Appendf(b, "%d", g.r.Int64N(1<<40)-1<<39)
	case "boolean":
		return fmt.Append(b, g.r.IntN(2) == 0)
	case "object":
		return g.object(b, s, depth)
	case "array":
		items, _ := s["items"].(map[string]any)
		b = append(b, '[')
		for i := range g.r.IntN(3) {
			if i > 0 {
				b = append(b, ',')
			}
			if items == nil {
				b = g.str(b)
			} else {
				b = g.value(b, items, depth+1)
			}
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

func (g *gen) object(b []byte, s xschema, depth int) []byte {
	props, _ := s["properties"].(map[string]any)
	b = append(b, '{')
	n := 0
	for name, p := range props {
		if depth > 4 || g.r.IntN(3) == 0 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		k, _ := json.Marshal(name)
		b = append(append(b, k...), ':')
		b = g.value(b, p.(map[string]any), depth+1)
	}
	if g.r.Float64() < g.odd { // a field the schema lacks
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `"brandNew`...)
		b = fmt.Appendf(b, `%d":`, g.r.IntN(3))
		b = g.unexpected(b, nil, depth+1)
	}
	return append(b, '}')
}

// unexpected is a value of a shape s does not describe.
func (g *gen) unexpected(b []byte, s xschema, depth int) []byte {
	switch g.r.IntN(7) {
	case 0:
		return fmt.Appendf(b, "1266.%015d", g.r.Int64N(1e15)) // 15 decimal places
	case 1:
		return g.str(b)
	case 2:
		return fmt.Appendf(b, `{"value":%d,"nested":{"deep":[1,2.50,"x"]}}`, g.r.IntN(100))
	case 3:
		return append(b, `[{"a":1},2,"three"]`...)
	case 4:
		return append(b, `"2026-05-01T10:20:30.123456789+03:00"`...)
	case 5:
		return fmt.Appendf(b, "%d.5e3", g.r.IntN(9))
	default:
		if s != nil && depth < 4 {
			return g.object(b, s, depth+1)
		}
		return append(b, "true"...)
	}
}

func (g *gen) str(b []byte) []byte {
	words := []string{"Pix", "café", "\\u00e9", "tab\\t", "quote\\\"", "12,50", "2026-02-30", "€", "\\ud83d\\ude00", ""}
	b = append(b, '"')
	for range g.r.IntN(3) + 1 {
		b = append(b, words[g.r.IntN(len(words))]...)
	}
	return append(b, '"')
}

// TestPropertyNoValueBlocksOrIsLost: for random records of every stream's
// schema with random unexpected shapes, the sink never fails, and every
// top-level member is either in its typed column or, byte for byte, in
// _leftovers; _changes names only nulled columns.
func TestPropertyNoValueBlocksOrIsLost(t *testing.T) {
	rows := 300
	if testing.Short() {
		rows = 40
	}
	// arrow-rs and polars, where installed (rust_test.go), read every
	// file as arrow-go does, all in one go at the end.
	dir := t.TempDir()
	var paths [][]string
	var arrowRows [][]map[string]any
	for _, fsys := range []fs.FS{schemas.Pluggy, schemas.GoCardless, schemas.EnableBanking} {
		files, _ := fs.Glob(fsys, "*/*.json")
		for _, f := range files {
			name := strings.TrimSuffix(f[strings.IndexByte(f, '/')+1:], ".json")
			raw, _ := fs.ReadFile(fsys, f)
			t.Run(f, func(t *testing.T) {
				s := mustSchema(t, raw)
				g := &gen{r: rand.New(rand.NewPCG(uint64(len(f)), uint64(rows))), odd: 0.15}
				st := testStream{name: name, schema: raw}
				sinks, w := openOne(t, st, Options{RowGroupRows: 64, Dir: filepath.Join(dir, strings.ReplaceAll(f, "/", "_"))})
				var recs []json.RawMessage
				for range rows {
					rec := g.object(nil, s, 0)
					if !json.Valid(rec) {
						t.Fatalf("generator made invalid JSON: %s", rec)
					}
					recs = append(recs, rec)
					if _, err := w.Write(rec); err != nil {
						t.Fatalf("the sink failed on %s: %v", rec, err)
					}
				}
				if err := sinks.Close(); err != nil {
					t.Fatal(err)
				}
				var got []map[string]any
				for _, file := range streamFiles(t, w.dir) {
					got = append(got, readArrow(t, file)...)
				}
				paths, arrowRows = append(paths, streamFiles(t, w.dir)), append(arrowRows, got)
				if len(got) != len(recs) {
					t.Fatalf("%d rows for %d records", len(got), len(recs))
				}
				props, _ := s["properties"].(map[string]any)
				for i, rec := range recs {
					checkRoundTrip(t, props, rec, got[i])
				}
			})
		}
	}
	if modules := rustModules(t); modules != "" && !t.Failed() {
		res := readRust(t, modules, slices.Concat(paths...), false, nil)
		for i := range paths {
			checkRustRead(t, res, paths[i], arrowRows[i])
		}
	}
}

// checkRoundTrip checks one row against its record.
func checkRoundTrip(t *testing.T, props map[string]any, rec json.RawMessage, row map[string]any) {
	t.Helper()
	left := map[string]json.RawMessage{}
	if text, ok := row[columns.Leftovers].(string); ok {
		if err := json.Unmarshal([]byte(text), &left); err != nil {
			t.Fatalf("_leftovers %q is not JSON: %v", text, err)
		}
	}
	var changes []struct{ Field, Change, Reason string }
	if text, ok := row[columns.Changes].(string); ok {
		if err := json.Unmarshal([]byte(text), &changes); err != nil {
			t.Fatalf("_changes %q is not JSON: %v", text, err)
		}
	}
	nulled := map[string]bool{}
	for _, c := range changes {
		nulled[c.Field] = true
		if c.Change != columns.ChangeNulled || c.Reason != columns.ReasonTypecast {
			t.Errorf("change %+v", c)
		}
	}
	members := map[string]json.RawMessage{}
	for _, m := range topMembers(t, rec) {
		members[m.key] = m.val
		v, inLeft := left[m.key]
		_, known := props[m.key]
		switch {
		case inLeft && !bytes.Equal(v, m.val):
			t.Errorf("%s: _leftovers has %s, the record %s", m.key, v, m.val)
		case !known && !inLeft:
			t.Errorf("%s: a field the schema lacks is not in _leftovers: %s", m.key, rec)
		case known && nulled[m.key] && (!inLeft || row[m.key] != nil):
			t.Errorf("%s: noted NULLED, but column %v, leftover %s", m.key, row[m.key], v)
		case known && !isNull(m.val) && row[m.key] == nil && !inLeft:
			t.Errorf("%s: %s is in neither its column nor _leftovers", m.key, m.val)
		}
	}
	for k := range left {
		if members[k] == nil {
			t.Errorf("_leftovers has %s, which the record lacks", k)
		}
	}
	for f := range nulled {
		if members[f] == nil {
			t.Errorf("_changes names %s, which the record lacks", f)
		}
	}
}
