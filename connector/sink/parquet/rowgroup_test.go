package parquet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRowGroupsBoundedByBytes: rows carrying 8 KiB of leftovers each fill a
// 64 KiB row group in a handful of rows, long before its row bound; narrow
// rows fill it by rows. Every value survives the extra row groups.
func TestRowGroupsBoundedByBytes(t *testing.T) {
	st := kitchen(t)
	blob := strings.Repeat("x", 8<<10)
	var wide, narrow []json.RawMessage
	for i := range 40 {
		wide = append(wide, json.RawMessage(fmt.Sprintf(`{"id":"w%d","n":%d,"note":"n%d","blob":%q}`, i, i, i, blob)))
		narrow = append(narrow, json.RawMessage(fmt.Sprintf(`{"id":"s%d","n":%d}`, i, i)))
	}
	for _, c := range []struct {
		name        string
		recs        []json.RawMessage
		maxRows     int64 // of any row group
		minGroups   int
		wantGroups  int // exactly, when not 0
		rowGroupRow int
	}{
		// 64 KiB holds 7 rows of 8 KiB and some: the 8th fills it.
		{name: "wide rows", recs: wide, maxRows: 8, minGroups: 5, rowGroupRow: 1000},
		{name: "narrow rows", recs: narrow, maxRows: 16, wantGroups: 3, rowGroupRow: 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, w := openOne(t, st, Options{RowGroupRows: c.rowGroupRow, RowGroupBytes: 64 << 10})
			writeAll(t, w, c.recs)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			md := fileMeta(t, w.Files()[0])
			groups := md.NumRowGroups()
			if groups < c.minGroups || c.wantGroups != 0 && groups != c.wantGroups {
				t.Errorf("%d row groups, want at least %d (exactly %d if not 0)", groups, c.minGroups, c.wantGroups)
			}
			var rows int64
			for i := range groups {
				n := md.RowGroup(i).NumRows()
				rows += n
				if n > c.maxRows {
					t.Errorf("row group %d has %d rows, want at most %d", i, n, c.maxRows)
				}
			}
			if rows != int64(len(c.recs)) {
				t.Errorf("%d rows in all, want %d", rows, len(c.recs))
			}
			checkFiles(t, w.Files(), st.schema, c.recs)
		})
	}
}

// TestDictionaryOnlyWhereValuesRepeat: strings and dates are dictionary
// encoded; timestamps, numbers, JSON text, the primary key and _leftovers
// are not (see writerProps), at the top level and below it.
func TestDictionaryOnlyWhereValuesRepeat(t *testing.T) {
	st := kitchen(t)
	s, w := openOne(t, st, Options{})
	writeAll(t, w, raws(kitchenRecords))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rg := fileMeta(t, w.Files()[0]).RowGroup(0)
	dict := map[string]bool{}
	for i := range rg.NumColumns() {
		cc, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		dict[cc.PathInSchema().String()] = cc.HasDictionaryPage()
	}
	for path, want := range map[string]bool{
		"note": true, "day": true, "when": true, "meta.a": true, "meta.inner.k": true,
		"id": false, "n": false, "amount": false, "strAmount": false, "at": false, "when_parsed": false,
		"attrs": false, "meta.inner.v": false, "lines.list.element.price": false, "lines.list.element.qty": false,
		"lines.list.element.due_parsed": false, "lines.list.element.due": true,
		"_leftovers": false, "_changes": false,
	} {
		got, ok := dict[path]
		if !ok {
			t.Errorf("no column %s in %v", path, dict)
			continue
		}
		if got != want {
			t.Errorf("%s: dictionary %v, want %v", path, got, want)
		}
	}
}

// TestMostlyDistinctColumnsWritePlain: a dictionary column whose row group
// held mostly distinct values writes the rest of the file plain, with no
// dictionary page; one whose values repeat keeps its dictionary; the next
// file tries the dictionary again. Every value survives the switch.
func TestMostlyDistinctColumnsWritePlain(t *testing.T) {
	st := kitchen(t)
	var recs []json.RawMessage
	for i := range 1000 {
		// note: every value distinct; meta.a: three values
		recs = append(recs, json.RawMessage(fmt.Sprintf(`{"id":"r%d","n":%d,"note":"note %d","meta":{"a":"v%d"}}`, i, i, i, i%3)))
	}
	s, w := openOne(t, st, Options{RowGroupRows: 200, RowsPerFile: 600})
	writeAll(t, w, recs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(w.Files()) != 2 {
		t.Fatalf("%d files, want 2", len(w.Files()))
	}
	for f, wantGroups := range []int{3, 2} {
		md := fileMeta(t, w.Files()[f])
		if md.NumRowGroups() != wantGroups {
			t.Fatalf("file %d: %d row groups, want %d", f, md.NumRowGroups(), wantGroups)
		}
		for g := range wantGroups {
			rg := md.RowGroup(g)
			for i := range rg.NumColumns() {
				cc, err := rg.ColumnChunk(i)
				if err != nil {
					t.Fatal(err)
				}
				var want bool
				switch cc.PathInSchema().String() {
				case "note":
					want = g == 0 // tried at the file's first row group only
				case "meta.a":
					want = true
				default:
					continue
				}
				if got := cc.HasDictionaryPage(); got != want {
					t.Errorf("file %d row group %d column %s: dictionary %v, want %v (encodings %v)", f, g, cc.PathInSchema(), got, want, cc.Encodings())
				}
			}
		}
	}
	checkFiles(t, w.Files(), st.schema, recs)
}
