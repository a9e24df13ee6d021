package parquet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// TestDictionaryColumnStatistics: the string columns written from the
// sink's own dictionary (see chunk.setValues) carry the statistics of
// what their rows hold: the least and greatest value, the nulls and the
// values, counted on the rows as a reader reads them back. A value of a
// nested object taken back (meta, whose inner.v has six places) must not
// linger in the dictionary nor widen the statistics.
func TestDictionaryColumnStatistics(t *testing.T) {
	st := kitchen(t)
	recs := raws(append(kitchenRecords,
		`{"id":"a8","n":8,"note":"n8","meta":{"a":"zzz taken back","inner":{"k":"zzz too","v":0.123456}}}`,
		`{"id":"a9","n":9,"note":"Padaria São João","meta":{"a":"b","inner":{"k":"K"}}}`))
	s, w := openOne(t, st, Options{})
	writeAll(t, w, recs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := w.Files()[0]
	rows := readArrow(t, path)
	rg := fileMeta(t, path).RowGroup(0)
	for _, col := range []struct {
		path  string
		value func(row map[string]any) any
	}{
		{"note", func(r map[string]any) any { return r["note"] }},
		{"meta.a", func(r map[string]any) any { return dig(r, "meta", "a") }},
		{"meta.inner.k", func(r map[string]any) any { return dig(r, "meta", "inner", "k") }},
	} {
		var lo, hi []byte
		var nulls, values int64
		for _, r := range rows {
			v, ok := col.value(r).(string)
			if !ok {
				nulls++
				continue
			}
			values++
			if lo == nil || bytes.Compare([]byte(v), lo) < 0 {
				lo = []byte(v)
			}
			if hi == nil || bytes.Compare([]byte(v), hi) > 0 {
				hi = []byte(v)
			}
		}
		cc := chunkOf(t, rg, col.path)
		if !cc.HasDictionaryPage() {
			t.Errorf("%s: no dictionary page", col.path)
		}
		stats, err := cc.Statistics()
		if err != nil || stats == nil {
			t.Fatalf("%s: no statistics (%v)", col.path, err)
		}
		bs := stats.(*metadata.ByteArrayStatistics)
		if got := fmt.Sprintf("min %q max %q nulls %d values %d", bs.Min(), bs.Max(), bs.NullCount(), bs.NumValues()); got != fmt.Sprintf("min %q max %q nulls %d values %d", lo, hi, nulls, values) {
			t.Errorf("%s: statistics %s, want min %q max %q nulls %d values %d", col.path, got, lo, hi, nulls, values)
		}
	}
}

// TestDictionaryOfEmptyStrings: a chunk whose only value is "" has "" as
// its least and greatest value (a nil slice would be no value).
func TestDictionaryOfEmptyStrings(t *testing.T) {
	st := kitchen(t)
	s, w := openOne(t, st, Options{})
	writeAll(t, w, raws([]string{`{"id":"e1","n":1,"note":""}`, `{"id":"e2","n":2,"note":null}`, `{"id":"e3","n":3,"note":""}`}))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stats, err := chunkOf(t, fileMeta(t, w.Files()[0]).RowGroup(0), "note").Statistics()
	if err != nil || stats == nil {
		t.Fatalf("no statistics (%v)", err)
	}
	bs := stats.(*metadata.ByteArrayStatistics)
	if !bs.HasMinMax() || len(bs.Min()) != 0 || len(bs.Max()) != 0 || bs.NullCount() != 1 || bs.NumValues() != 2 {
		t.Errorf("statistics: min/max %v %q %q, nulls %d, values %d; want \"\" and \"\", 1, 2", bs.HasMinMax(), bs.Min(), bs.Max(), bs.NullCount(), bs.NumValues())
	}
}

// TestUncompressedDictionaryOnlyWhereItSaves: with --parquet-compression
// none, a string column keeps its dictionary only when the dictionary and
// the numbers are smaller than the plain values, as arrow-go and parquet-mr
// decide it: notes all different lose it, notes that repeat keep it.
func TestUncompressedDictionaryOnlyWhereItSaves(t *testing.T) {
	for _, c := range []struct {
		name     string
		note     func(i int) string
		wantDict bool
	}{
		{"distinct", func(i int) string { return fmt.Sprintf("note number %d, unlike any other", i) }, false},
		{"repeated", func(i int) string { return []string{"PIX RECEBIDO", "PIX ENVIADO", "TARIFA"}[i%3] }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := kitchen(t)
			var recs []string
			for i := range 200 {
				recs = append(recs, fmt.Sprintf(`{"id":"u%d","n":%d,"note":%q}`, i, i, c.note(i)))
			}
			s, w := openOne(t, st, Options{Compression: None})
			writeAll(t, w, raws(recs))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := chunkOf(t, fileMeta(t, w.Files()[0]).RowGroup(0), "note").HasDictionaryPage(); got != c.wantDict {
				t.Errorf("dictionary page %v, want %v", got, c.wantDict)
			}
			checkFiles(t, w.Files(), st.schema, raws(recs))
		})
	}
}

// dig returns the value at a path of nested objects, nil when absent.
func dig(row map[string]any, path ...string) any {
	var v any = row
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// chunkOf returns the column chunk of a dotted path.
func chunkOf(t *testing.T, rg *metadata.RowGroupMetaData, path string) *metadata.ColumnChunkMetaData {
	t.Helper()
	for i := range rg.NumColumns() {
		cc, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if cc.PathInSchema().String() == path {
			return cc
		}
	}
	t.Fatalf("no column %s", path)
	return nil
}

// FuzzDictionary checks the dictionary against a map: a value's number is
// the order it first came in, numbers are stable, and a truncated
// dictionary forgets exactly the values after the mark.
func FuzzDictionary(f *testing.F) {
	f.Add([]byte("a\x00b\x00a\x00\x00c\x00b"), uint8(2))
	f.Add([]byte{}, uint8(0))
	// Values longer than lastInline that share their first lastInline
	// bytes, one after the other: intern's comparison with the last
	// value reads the rest from the dictionary.
	long := strings.Repeat("x", lastInline)
	f.Add([]byte(long+"a\x00"+long+"b\x00"+long+"b\x00"+long+"a\x00"+long+"\x00"+long+"\x00"+long+"ab"), uint8(9))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		values := bytes.Split(in, []byte{0})
		d := newDictionary()
		for round := range 2 {
			want := map[string]int32{}
			var order []string
			check := func(v []byte) {
				n := d.intern(v)
				w, ok := want[string(v)]
				if !ok {
					w = int32(len(order))
					want[string(v)] = w
					order = append(order, string(v))
				}
				if n != w || !bytes.Equal(d.value(n), v) {
					t.Fatalf("round %d: %q is %d (%q), want %d", round, v, n, d.value(n), w)
				}
			}
			for i, v := range values {
				check(v)
				if i == int(cut) {
					// take back every value after the first len/2
					keep := len(order) / 2
					d.truncate(keep)
					for _, gone := range order[keep:] {
						delete(want, gone)
					}
					order = order[:keep]
				}
			}
			if d.len() != len(order) {
				t.Fatalf("round %d: %d values, want %d", round, d.len(), len(order))
			}
			d.reset()
		}
	})
}

// BenchmarkDictionary interns the string values of 20,000 Pluggy
// transactions (seven string columns, each its own dictionary, in row order
// as the converter meets them) with the sink's hash set and, side by side,
// with a Go map from value to number, the obvious alternative (see the
// dictionary type for why the hash set); b.N counts values.
//
//	go test ./connector/sink/parquet -run '^$' -bench Dictionary -benchmem
func BenchmarkDictionary(b *testing.B) {
	keys := []string{"accountId", "category", "currencyCode", "description", "status", "type", "providerCode"}
	var rows [][][]byte // a value per key, nil when absent
	for _, r := range transactionPool(b)[:20_000] {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			b.Fatal(err)
		}
		row := make([][]byte, len(keys))
		for k, key := range keys {
			if s, ok := m[key].(string); ok {
				row[k] = []byte(s)
			}
		}
		rows = append(rows, row)
	}
	const rowGroup = 12_000 // rows: the dictionaries are reset at a row group's end
	b.Run("hash-set", func(b *testing.B) {
		dicts := make([]*dictionary, len(keys))
		for k := range dicts {
			dicts[k] = newDictionary()
		}
		for i := range b.N {
			r, k := i/len(keys), i%len(keys)
			if v := rows[r%len(rows)][k]; v != nil {
				dicts[k].intern(v)
			}
			if k == len(keys)-1 && r%rowGroup == rowGroup-1 {
				for _, d := range dicts {
					d.reset()
				}
			}
		}
	})
	b.Run("go-map", func(b *testing.B) {
		type dict struct {
			m    map[string]int32
			data []byte
			offs []int32
			last int32
		}
		dicts := make([]*dict, len(keys))
		for k := range dicts {
			dicts[k] = &dict{m: map[string]int32{}, last: -1}
		}
		for i := range b.N {
			r, k := i/len(keys), i%len(keys)
			if v := rows[r%len(rows)][k]; v != nil {
				d := dicts[k]
				if d.last >= 0 && bytes.Equal(d.data[d.offs[d.last]:d.offs[d.last+1]], v) {
					continue
				}
				n, ok := d.m[string(v)]
				if !ok {
					if len(d.offs) == 0 {
						d.offs = append(d.offs, 0)
					}
					n = int32(len(d.offs) - 1)
					d.data = append(d.data, v...)
					d.offs = append(d.offs, int32(len(d.data)))
					d.m[string(v)] = n
				}
				d.last = n
			}
			if k == len(keys)-1 && r%rowGroup == rowGroup-1 {
				for _, d := range dicts {
					clear(d.m)
					d.data, d.offs, d.last = d.data[:0], d.offs[:0], -1
				}
			}
		}
	})
}
