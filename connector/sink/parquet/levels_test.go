package parquet

import (
	"encoding/json"
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
