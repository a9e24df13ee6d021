package parquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
	xreader "github.com/xitongsys/parquet-go/reader"
)

// pageModel is what one leaf column of a pagesSchema file holds, as plain
// slices: the levels of each entry and its values.
type pageModel struct {
	def, rep []int16
	i64      []int64
	i32      []int32
	ba       [][]byte
	bools    []bool
	fixed    [][]byte
}

// pagesSchema has a leaf of every physical type the sink writes, optional
// and in a list, with and without a dictionary.
func pagesSchema(t testing.TB) *schema.Schema {
	t.Helper()
	must := func(n schema.Node, err error) schema.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	opt := pq.Repetitions.Optional
	list := func(name string, elem schema.Node) schema.Node {
		return must(schema.NewGroupNodeLogical(name, opt, []schema.Node{
			must(schema.NewGroupNode("list", pq.Repetitions.Repeated, []schema.Node{elem}, -1)),
		}, schema.ListLogicalType{}, -1))
	}
	str := func(name string) schema.Node {
		return must(schema.NewPrimitiveNodeLogical(name, opt, schema.StringLogicalType{}, pq.Types.ByteArray, -1, -1))
	}
	fields := []schema.Node{
		must(schema.NewPrimitiveNode("i64", opt, pq.Types.Int64, -1, -1)),
		must(schema.NewPrimitiveNodeLogical("date", opt, schema.DateLogicalType{}, pq.Types.Int32, -1, -1)),
		str("plain"),
		str("interned"),
		str("listed_dict"),
		must(schema.NewPrimitiveNode("flag", opt, pq.Types.Boolean, -1, -1)),
		must(schema.NewPrimitiveNodeLogical("dec", opt, schema.NewDecimalLogicalType(38, 4), pq.Types.FixedLenByteArray, 16, -1)),
		list("listed_i64", must(schema.NewPrimitiveNode("element", opt, pq.Types.Int64, -1, -1))),
		must(schema.NewPrimitiveNode("required", pq.Repetitions.Required, pq.Types.Int64, -1, -1)),
	}
	fields[4] = list("listed_dict", str("element"))
	return schema.NewSchema(must(schema.NewGroupNode("schema", pq.Repetitions.Required, fields, -1)).(*schema.GroupNode))
}

// TestPagesAgainstAModel writes random columns of every kind through the
// sink's page encoder, read back by arrow-go's reader: levels, values,
// dictionaries, chunks split into pages (small pages make many), runs
// long and short.
//
// arrow-rs and polars, where installed (rust_test.go), read every file as
// arrow-go does.
func TestPagesAgainstAModel(t *testing.T) {
	literals := 0
	dir := t.TempDir()
	var files []string
	for seed := range uint64(40) {
		n, data := checkPages(t, seed, int(seed%7)*300+int(seed%3), int(seed%4)*512+64)
		literals += n
		files = append(files, filepath.Join(dir, fmt.Sprintf("seed-%02d.parquet", seed)))
		if err := os.WriteFile(files[seed], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if modules := rustModules(t); modules != "" {
		res := readRust(t, modules, files, false, nil)
		for _, f := range files {
			checkRustRead(t, res, []string{f}, readArrow(t, f))
		}
	}
	// Pages of any size may be zstd literals in this test (see
	// checkPages): some should be.
	if literals == 0 {
		t.Error("no column chose zstd frames of literals")
	}
	t.Logf("%d columns chose zstd frames of literals", literals)
}

func FuzzPages(f *testing.F) {
	f.Add(uint64(1), uint16(1000), uint16(256))
	f.Add(uint64(2), uint16(9), uint16(8))
	f.Fuzz(func(t *testing.T, seed uint64, rows, pageSize uint16) {
		_, _ = checkPages(t, seed, int(rows%5000), int(pageSize)+8)
	})
}

// checkPages writes and reads back one file, and returns how many of its
// columns chose zstd frames of literals for their pages, and the file.
func checkPages(t *testing.T, seed uint64, rows, pageSize int) (int, []byte) {
	t.Helper()
	sc := pagesSchema(t)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// Values come in runs, as rows of one account do, of a length drawn
	// per column: 1 alternates, 40 makes long runs of nulls and repeats.
	runLen := []int{1, 3, 9, 40}[r.IntN(4)]
	props := pq.NewWriterProperties(
		pq.WithDataPageSize(int64(pageSize)),
		pq.WithCompression(compress.Codecs.Zstd),
		pq.WithDictionaryFor("i64", false), pq.WithDictionaryFor("plain", false),
		pq.WithDictionaryFor("dec", false), pq.WithDictionaryFor("listed_i64.list.element", false),
		pq.WithDictionaryFor("required", false),
	)
	cols := make([]column, sc.NumColumns())
	models := make([]pageModel, sc.NumColumns())
	for i := range cols {
		d := sc.Column(i)
		phys := map[pq.Type]physical{pq.Types.Int64: pInt64, pq.Types.Int32: pInt32, pq.Types.ByteArray: pBytes,
			pq.Types.Boolean: pBool, pq.Types.FixedLenByteArray: pFixed16}[d.PhysicalType()]
		cols[i] = newColumn(phys, d.MaxDefinitionLevel(), d.MaxRepetitionLevel())
		if d.Name() == "interned" {
			cols[i].dict = newDictionary()
		}
	}
	distinct := 1 + r.IntN(300)
	for i := range cols {
		c, m := &cols[i], &models[i]
		left, def, v := 0, int16(0), 0
		for row := range rows {
			k := 1 // entries in the row
			if c.maxRep > 0 {
				k = 1 + r.IntN(3)
			}
			for e := 0; e < k; e++ {
				if left == 0 { // a new run: its level and value
					left = 1 + r.IntN(runLen)
					def = int16(r.IntN(int(c.maxDef) + 1))
					v = r.IntN(distinct)
				}
				left--
				d, rep := def, int16(0)
				if c.maxRep > 0 && d < c.maxDef-1 {
					if e == 0 {
						k = 1 // a null or empty list is its row's only entry
					} else {
						d = c.maxDef - 1 // a list's later entries are elements
					}
				}
				if e > 0 {
					rep = c.maxRep
				}
				m.def = append(m.def, d)
				if c.maxRep > 0 {
					m.rep = append(m.rep, rep)
				}
				if d < c.maxDef {
					c.null(d, rep)
					continue
				}
				switch c.phys {
				case pInt64:
					x := int64(v)*1_000_003 - int64(row)
					c.appendInt64(x, rep)
					m.i64 = append(m.i64, x)
				case pInt32:
					c.appendInt32(int32(v), rep)
					m.i32 = append(m.i32, int32(v))
				case pBytes:
					s := []byte(fmt.Sprintf("v%d", v))
					if v == 0 {
						s = nil // "" is a value
					}
					c.appendBytes(s, rep)
					m.ba = append(m.ba, s)
				case pBool:
					c.appendBool(v%2 == 0, rep)
					m.bools = append(m.bools, v%2 == 0)
				case pFixed16:
					hi, lo := int64(v-distinct/2), uint64(row)*0x9e3779b97f4a7c15 // lo of every bit
					c.appendDecimal(hi, lo, rep)
					m.fixed = append(m.fixed, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(hi)), lo))
				}
			}
		}
	}

	var buf bytes.Buffer
	fw, err := newFileWriter(&buf, sc, props, [][2]string{{"k", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	// Pages this small are all zstd's in the sink; here, every other
	// seed's choose between zstd and literals (see compressPage).
	if seed%2 == 0 {
		fw.probeMin = 0
	}
	if err := fw.writeRowGroup(cols, rows, &scratch{}); err != nil {
		t.Fatal(err)
	}
	if err := fw.close(); err != nil {
		t.Fatal(err)
	}
	literals := 0
	for _, c := range fw.zstd {
		if c.literals {
			literals++
		}
	}

	checkPagesXitongsys(t, seed, buf.Bytes(), rows, cols, models)

	rd, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if got := rd.NumRows(); got != int64(rows) {
		t.Fatalf("seed %d: %d rows, want %d", seed, got, rows)
	}
	rg := rd.RowGroup(0)
	for i := range cols {
		name := sc.Column(i).Path()
		m := models[i]
		cr, err := rg.Column(i)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(len(m.def))
		def, rep := make([]int16, n), make([]int16, n)
		var got pageModel
		var levels int64
		switch cr := cr.(type) {
		case *file.Int64ColumnChunkReader:
			got.i64 = make([]int64, n)
			levels, _, err = readAll(cr, n, got.i64, def, rep)
		case *file.Int32ColumnChunkReader:
			got.i32 = make([]int32, n)
			levels, _, err = readAll(cr, n, got.i32, def, rep)
		case *file.ByteArrayColumnChunkReader:
			got.ba, levels, err = readBytes[pq.ByteArray](cr, n, def, rep)
		case *file.BooleanColumnChunkReader:
			got.bools = make([]bool, n)
			levels, _, err = readAll(cr, n, got.bools, def, rep)
		case *file.FixedLenByteArrayColumnChunkReader:
			got.fixed, levels, err = readBytes[pq.FixedLenByteArray](cr, n, def, rep)
		}
		if err != nil {
			t.Fatalf("seed %d: %s: %v", seed, name, err)
		}
		if levels != n {
			t.Fatalf("seed %d: %s: %d levels, want %d", seed, name, levels, n)
		}
		if cols[i].maxDef > 0 && !slices.Equal(def, m.def) {
			t.Fatalf("seed %d: %s: definition levels differ", seed, name)
		}
		if cols[i].maxRep > 0 && !slices.Equal(rep, m.rep) {
			t.Fatalf("seed %d: %s: repetition levels differ", seed, name)
		}
		values := 0
		for _, l := range m.def {
			if l == cols[i].maxDef {
				values++
			}
		}
		eq := bytes.Equal
		ok := slices.Equal(got.i64[:min(len(got.i64), values)], m.i64) && slices.Equal(got.i32[:min(len(got.i32), values)], m.i32) &&
			slices.Equal(got.bools[:min(len(got.bools), values)], m.bools) &&
			slices.EqualFunc(got.ba, m.ba, eq) && slices.EqualFunc(got.fixed, m.fixed, eq)
		if !ok {
			t.Fatalf("seed %d: %s: values differ", seed, name)
		}
		checkStats(t, rg.MetaData(), i, values, len(m.def)-values)
		if cols[i].phys == pFixed16 && values > 0 {
			checkDecimalRange(t, rg.MetaData(), i, m.fixed)
		}
		if cc, _ := rg.MetaData().ColumnChunk(i); values > 0 && cc.HasDictionaryPage() != props.DictionaryEnabledFor(name) && cc.Type() != pq.Types.Boolean {
			t.Errorf("seed %d: %s: dictionary page %v", seed, name, cc.HasDictionaryPage())
		}
	}
	return literals, buf.Bytes()
}

// readAll reads a whole column chunk into values and levels.
func readAll[T any](cr interface {
	ReadBatch(int64, []T, []int16, []int16) (int64, int, error)
}, n int64, values []T, def, rep []int16) (levels int64, vals int, err error) {
	for levels < n {
		l, v, err := cr.ReadBatch(n-levels, values[vals:], def[levels:], rep[levels:])
		if err != nil {
			return levels, vals, err
		}
		if l == 0 {
			break
		}
		levels += l
		vals += v
	}
	return levels, vals, nil
}

// readBytes reads a whole column chunk of byte strings: its values and its
// levels.
func readBytes[T ~[]byte](cr interface {
	ReadBatch(int64, []T, []int16, []int16) (int64, int, error)
}, n int64, def, rep []int16) ([][]byte, int64, error) {
	vals := make([]T, n)
	levels, nv, err := readAll(cr, n, vals, def, rep)
	out := make([][]byte, nv)
	for i, v := range vals[:nv] {
		out[i] = v
	}
	return out, levels, err
}

// chunkStats returns column chunk i of rg and its statistics.
func chunkStats(t *testing.T, rg *metadata.RowGroupMetaData, i int) (*metadata.ColumnChunkMetaData, metadata.TypedStatistics) {
	t.Helper()
	cc, err := rg.ColumnChunk(i)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cc.Statistics()
	if err != nil {
		t.Fatal(err)
	}
	return cc, st
}

// checkStats checks a chunk's value and null counts.
func checkStats(t *testing.T, rg *metadata.RowGroupMetaData, i, values, nulls int) {
	t.Helper()
	cc, st := chunkStats(t, rg, i)
	if st == nil {
		if values+nulls > 0 {
			t.Errorf("%s: no statistics", cc.PathInSchema())
		}
		return
	}
	if st.NullCount() != int64(nulls) || values > 0 && !st.HasMinMax() {
		t.Errorf("%s: %d nulls (min/max %v), want %d", cc.PathInSchema(), st.NullCount(), st.HasMinMax(), nulls)
	}
}

// checkDecimalRange checks a decimal chunk's minimum and maximum against
// its values read as big integers.
func checkDecimalRange(t *testing.T, rg *metadata.RowGroupMetaData, i int, values [][]byte) {
	t.Helper()
	cc, st := chunkStats(t, rg, i)
	s, ok := st.(*metadata.FixedLenByteArrayStatistics)
	if !ok {
		t.Fatalf("%s: statistics %T", cc.PathInSchema(), st)
	}
	asInt := func(b []byte) *big.Int {
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), 128))
		}
		return n
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		if asInt(v).Cmp(asInt(lo)) < 0 {
			lo = v
		}
		if asInt(v).Cmp(asInt(hi)) > 0 {
			hi = v
		}
	}
	if !bytes.Equal(s.Min(), lo) || !bytes.Equal(s.Max(), hi) {
		t.Errorf("%s: min %x max %x, want %x %x", cc.PathInSchema(), s.Min(), s.Max(), lo, hi)
	}
}

// checkPagesXitongsys reads the file with the independent reader: every
// column's levels, and its values as that reader gives them.
func checkPagesXitongsys(t *testing.T, seed uint64, data []byte, rows int, cols []column, models []pageModel) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pages.parquet")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := xreader.NewParquetColumnReader(xFile{f, path}, 1)
	if err != nil {
		t.Fatalf("seed %d: xitongsys: %v", seed, err)
	}
	defer pr.ReadStop()
	for i := range cols {
		m := models[i]
		vals, rls, dls, err := pr.ReadColumnByIndex(int64(i), int64(rows))
		if err != nil {
			t.Fatalf("seed %d: xitongsys: column %d: %v", seed, i, err)
		}
		if len(dls) != len(m.def) {
			t.Fatalf("seed %d: xitongsys: column %d: %d levels, want %d", seed, i, len(dls), len(m.def))
		}
		var got []any
		for k, l := range dls {
			if cols[i].maxDef > 0 && int16(l) != m.def[k] || cols[i].maxRep > 0 && int16(rls[k]) != m.rep[k] {
				t.Fatalf("seed %d: xitongsys: column %d: levels differ at %d", seed, i, k)
			}
			if vals[k] != nil {
				got = append(got, vals[k])
			}
		}
		var want []any
		for _, v := range m.i64 {
			want = append(want, v)
		}
		for _, v := range m.i32 {
			want = append(want, v)
		}
		for _, v := range m.bools {
			want = append(want, v)
		}
		for _, v := range m.ba {
			want = append(want, string(v))
		}
		for _, v := range m.fixed {
			want = append(want, string(v))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: xitongsys: column %d: values differ", seed, i)
		}
	}
}
