package parquet

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestNestedListLevels writes a list of objects whose elements hold a list
// of objects in turn, so the columns carry repetition levels 0, 1 and 2 and
// nulls at every definition level: a null or empty outer list, a null
// element, a null or empty inner list, and a row whose inner list holds a
// value its column cannot (taken back whole, kept in _leftovers). Row
// groups of 3 rows put boundaries between them. Both readers must read
// back exactly the records.
func TestNestedListLevels(t *testing.T) {
	st := testStream{name: "nested", schema: json.RawMessage(`{"type": "object", "properties": {
		"id": {"type": "string"},
		"orders": {"type": ["array", "null"], "items": {"type": ["object", "null"], "properties": {
			"ref": {"type": ["string", "null"]},
			"lines": {"type": ["array", "null"], "items": {"type": ["object", "null"], "properties": {
				"qty": {"type": ["integer", "null"]},
				"price": {"type": ["number", "null"]},
				"tag": {"type": ["object", "null"], "properties": {"k": {"type": ["string", "null"]}}}
			}}}
		}}},
		"after": {"type": ["string", "null"]}
	}}`)}
	recs := raws([]string{
		`{"id":"r1","orders":null,"after":"a"}`,
		`{"id":"r2","orders":[],"after":"b"}`,
		`{"id":"r3","orders":[null,{"ref":"x","lines":null},{"ref":"y","lines":[]}],"after":"c"}`,
		`{"id":"r4","orders":[{"ref":"p","lines":[{"qty":1,"price":2.5,"tag":{"k":"t1"}},null,{"qty":null,"tag":null},{}]},{"lines":[{"qty":3}]}]}`,
		`{"id":"r5","orders":[{"ref":"q","lines":[{"qty":1},{"price":0.123456}]}],"after":"e"}`,
		`{"id":"r6","orders":[{"ref":"z","lines":[{"qty":9,"tag":{"k":"t9"}}]}],"after":"f"}`,
		`{"id":"r7"}`,
	})
	s, w := openOne(t, st, Options{RowGroupRows: 3})
	writeAll(t, w, recs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if groups := fileMeta(t, w.Files()[0]).NumRowGroups(); groups != 3 {
		t.Errorf("%d row groups, want 3", groups)
	}
	// r5's price has six places: its orders column is null, the value
	// whole in _leftovers; every other row reads back as written.
	misfit := 4
	want := expectRows(t, st.schema, append(recs[:misfit:misfit], recs[misfit+1:]...))
	for name, read := range map[string]func(testing.TB, string) []map[string]any{"arrow": readArrow, "xitongsys": readXitongsys} {
		rows := read(t, w.Files()[0])
		if len(rows) != len(recs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(recs))
		}
		got := rows[misfit]
		if got["orders"] != nil || got["after"] != "e" ||
			got["_leftovers"] != `{"orders":[{"ref":"q","lines":[{"qty":1},{"price":0.123456}]}]}` {
			t.Errorf("%s: the misfit row reads %v", name, got)
		}
		compareRows(t, name, want, append(rows[:misfit:misfit], rows[misfit+1:]...))
	}
}

// TestUniformColumnLevels covers columns whose entries share one level
// (kept as a run, not stored: see column.run): one every row has, one no
// row has, one whose run ends in a row group's last row, and a struct
// whose leaves are in a run when a misfit takes the struct back (the run
// shortened, then stored with the struct's null). Row groups of 4 rows;
// both readers must read back exactly the records, and the uniform
// columns must not have stored their levels.
func TestUniformColumnLevels(t *testing.T) {
	st := testStream{name: "uniform", schema: json.RawMessage(`{"type": "object", "properties": {
		"id": {"type": "string"},
		"never": {"type": ["string", "null"]},
		"late": {"type": ["integer", "null"]},
		"m": {"type": ["object", "null"], "properties": {"a": {"type": ["string", "null"]}, "n": {"type": ["integer", "null"]}}}
	}}`)}
	recs := raws([]string{
		`{"id":"r1","late":1,"m":{"a":"x","n":1}}`,
		`{"id":"r2","late":2,"m":{"a":"y","n":"two"}}`,
		`{"id":"r3","late":3,"m":{"a":"z","n":3}}`,
		`{"id":"r4","late":null,"m":{"a":"w","n":4}}`,
		`{"id":"r5","never":null,"m":null}`,
		`{"id":"r6","late":6,"m":{}}`,
	})
	s, w := openOne(t, st, Options{RowGroupRows: 4})
	// The first three rows, converted but not yet written: id, never and
	// late are one run each so far; m.a and m.n are not (m is null in r2),
	// their first two levels stored and the third the run.
	writeAll(t, w, recs[:3])
	for i, name := range []string{"id", "never", "late", "m.a", "m.n"} {
		c := &w.conv.cols[i]
		stored, run := 0, 3
		if i >= 3 {
			stored, run = 2, 1
		}
		if len(c.def) != stored || c.run != run {
			t.Errorf("%s: %d levels stored, run %d; want %d and %d", name, len(c.def), c.run, stored, run)
		}
	}
	writeAll(t, w, recs[3:])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if groups := fileMeta(t, w.Files()[0]).NumRowGroups(); groups != 2 {
		t.Errorf("%d row groups, want 2", groups)
	}
	misfit := 1 // m.n "two": m is null, kept whole in _leftovers
	want := expectRows(t, st.schema, append(recs[:misfit:misfit], recs[misfit+1:]...))
	for name, read := range map[string]func(testing.TB, string) []map[string]any{"arrow": readArrow, "xitongsys": readXitongsys} {
		rows := read(t, w.Files()[0])
		if len(rows) != len(recs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(recs))
		}
		if got := rows[misfit]; got["m"] != nil || got["late"] != int64(2) || got["_leftovers"] != `{"m":{"a":"y","n":"two"}}` {
			t.Errorf("%s: the misfit row reads %v", name, got)
		}
		compareRows(t, name, want, append(rows[:misfit:misfit], rows[misfit+1:]...))
	}
}

// TestColumnLevelsAgainstAModel appends levels in runs of every length,
// takes entries back from marks inside and before the run, and checks the
// levels and the values left against a plain slice of levels.
func TestColumnLevelsAgainstAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		c := newColumn(pInt64, 2, 0)
		var model []int16
		var marks []int
		for range rng.IntN(40) {
			switch op := rng.IntN(10); {
			case op == 0:
				marks = append(marks, c.entries())
				if got := int(c.mark().def); got != len(model) {
					t.Fatalf("mark at %d, want %d", got, len(model))
				}
			case op == 1 && len(marks) > 0:
				m := marks[rng.IntN(len(marks))]
				if m > len(model) {
					continue
				}
				c.truncate(mark{def: int32(m)})
				model = model[:m]
			default:
				l := int16(rng.IntN(3))
				for range 1 + rng.IntN(4) {
					if l == 2 {
						c.appendInt64(int64(len(model)), 0)
					} else {
						c.null(l, 0)
					}
					model = append(model, l)
				}
			}
		}
		var values []int64 // each value is the entry it was appended as
		for i, l := range model {
			if l == 2 {
				values = append(values, int64(i))
			}
		}
		if c.entries() != len(model) || !slices.Equal(c.i64, values) && len(c.i64)+len(values) > 0 {
			t.Fatalf("%d entries, values %v; want %d, %v", c.entries(), c.i64, len(model), values)
		}
		if got := allLevels(&c); !slices.Equal(got, model) && len(got)+len(model) > 0 {
			t.Fatalf("levels %v, want %v", got, model)
		}
	}
}

// allLevels returns the definition levels of c's entries: those stored,
// then the run's.
func allLevels(c *column) []int16 {
	return fillLevels(slices.Clone(c.def), c.runLevel, c.run)
}

// TestAbsentObjectRunsCounted writes a top-level object (card) that is
// null or absent in runs of every length, across row groups, between
// values, one of which does not fit; and one with a list inside (items),
// which is never counted. The nulls a run counts reach every leaf, as
// both readers see.
func TestAbsentObjectRunsCounted(t *testing.T) {
	st := testStream{name: "runs", schema: json.RawMessage(`{"type": "object", "properties": {
		"id": {"type": "string"},
		"card": {"type": ["object", "null"], "properties": {
			"n": {"type": ["integer", "null"]},
			"bill": {"type": ["object", "null"], "properties": {"due": {"type": ["string", "null"], "format": "date"}}}
		}},
		"items": {"type": ["array", "null"], "items": {"type": "object", "properties": {"k": {"type": ["string", "null"]}}}}
	}}`)}
	var recs []string
	id := 0
	add := func(card string, runs ...int) {
		for _, n := range runs {
			for i := range n {
				id++
				rec := fmt.Sprintf(`{"id":"r%d"`, id)
				switch i % 3 {
				case 0:
					rec += `,"card":null`
				case 1: // absent
				case 2:
					rec += `,"card":null,"items":null`
				}
				recs = append(recs, rec+"}")
			}
			id++
			recs = append(recs, fmt.Sprintf(`{"id":"r%d","card":%s,"items":[{"k":"a"}]}`, id, card))
		}
	}
	add(`{"n":1,"bill":{"due":"2026-01-05"}}`, 0, 1, 2, 3, 10)
	add(`{"n":"two"}`, 5) // a misfit after a run: the card is null, kept in _leftovers
	add(`{}`, 7, 1)
	for range 6 { // a run to the end, across row groups
		id++
		recs = append(recs, fmt.Sprintf(`{"id":"r%d"}`, id))
	}
	records := raws(recs)

	s, w := openOne(t, st, Options{RowGroupRows: 4})
	// r1 and r3 hold a card, r2 and r4 are null; r5, absent, is the
	// run's second row: counted, in the second row group.
	writeAll(t, w, records[:5])
	if card := w.conv.root.children[1]; card.name != "card" || !card.lazy || card.pending != 1 {
		t.Fatalf("card: lazy %v, %d nulls counted; want true and 1", card.lazy, card.pending)
	}
	if items := w.conv.root.children[2]; items.lazy {
		t.Error("items, a list, is counted")
	}
	writeAll(t, w, records[5:])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var misfit int
	for i, r := range recs {
		if strings.Contains(r, `"two"`) {
			misfit = i
		}
	}
	want := expectRows(t, st.schema, append(records[:misfit:misfit], records[misfit+1:]...))
	for name, read := range map[string]func(testing.TB, string) []map[string]any{"arrow": readArrow, "xitongsys": readXitongsys} {
		var rows []map[string]any
		for _, f := range w.Files() {
			rows = append(rows, read(t, f)...)
		}
		if len(rows) != len(recs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(recs))
		}
		if got := rows[misfit]; got["card"] != nil || got["_leftovers"] != `{"card":{"n":"two"}}` {
			t.Errorf("%s: the misfit row reads %v", name, got)
		}
		compareRows(t, name, want, append(rows[:misfit:misfit], rows[misfit+1:]...))
	}
}
