package parquet

// Test helpers that check the files three independent ways:
//   - expectRows computes what every column must hold from the raw JSON
//     Schema and records with encoding/json, math/big and time.Parse (none of
//     the sink's own parsers);
//   - readArrow reads the files back with arrow-go's pqarrow;
//   - readXitongsys reads them with github.com/xitongsys/parquet-go, a
//     separate Parquet implementation, assembling nested and repeated
//     columns from their definition and repetition levels here.
// Values are compared in one canonical form: strings, int64, bool, nil,
// "dec:<exact rational>", "ts:<UTC, µs>", "date:<YYYY-MM-DD>", maps for
// structs and slices for lists.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	xparquet "github.com/xitongsys/parquet-go/parquet"
	xreader "github.com/xitongsys/parquet-go/reader"
	xsource "github.com/xitongsys/parquet-go/source"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

type sourceStream = source.Stream

// testStream is a source.Stream with a schema and nothing to read.
type testStream struct {
	name   string
	schema json.RawMessage
}

func (s testStream) Name() string            { return s.name }
func (s testStream) Schema() json.RawMessage { return s.schema }
func (s testStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s testStream) CursorField() []string   { return nil }
func (s testStream) Read(context.Context, source.ReadRequest, source.Output) error {
	return nil
}

// ---- canonical forms ----

// canonDec prints a rational that has a finite decimal expansion (every
// value here has at most 38 decimals) exactly, without trailing zeros.
func canonDec(r *big.Rat) string {
	s := r.FloatString(40)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return "dec:" + s
}

func canonTS(t time.Time) string {
	return "ts:" + t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func canonTSMicros(us int64) string { return canonTS(time.UnixMicro(us)) }

func canonDate(days int64) string {
	return "date:" + time.Unix(days*86400, 0).UTC().Format(time.DateOnly)
}

// ---- expectations from the JSON Schema ----

type xschema = map[string]any

func mustSchema(t testing.TB, raw json.RawMessage) xschema {
	t.Helper()
	var s xschema
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// expectRows is what the files of one stream must hold, row by row.
func expectRows(t testing.TB, schema json.RawMessage, records []json.RawMessage) []map[string]any {
	t.Helper()
	s := mustSchema(t, schema)
	out := make([]map[string]any, len(records))
	for i, r := range records {
		m, err := expectObject(s, r)
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, r)
		}
		m[columns.Leftovers] = expectLeftovers(t, s, r)
		m[columns.Changes] = nil
		out[i] = m
	}
	return out
}

// expectLeftovers is the _leftovers of a record whose every value fits its
// column: the top-level members the schema lacks, and those (whole) holding
// a nested member it lacks, verbatim, in the record's order; nil if none.
func expectLeftovers(t testing.TB, s xschema, raw json.RawMessage) any {
	t.Helper()
	props, _ := s["properties"].(map[string]any)
	var b []byte
	for _, m := range topMembers(t, raw) {
		p, known := props[m.key].(map[string]any)
		if known && !hasUnknown(p, m.val) {
			continue
		}
		if b == nil {
			b = []byte{'{'}
		} else {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.key)
		b = append(append(append(b, k...), ':'), m.val...)
	}
	if b == nil {
		return nil
	}
	return string(append(b, '}'))
}

type member struct {
	key string
	val json.RawMessage
}

// topMembers returns an object's members in order, values verbatim.
func topMembers(t testing.TB, raw json.RawMessage) []member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, member{tok.(string), v})
	}
	return out
}

// hasUnknown reports whether raw holds, in an object its schema gives
// properties to, a member the schema lacks.
func hasUnknown(s xschema, raw json.RawMessage) bool {
	if isNull(raw) {
		return false
	}
	types := nonNullTypes(s)
	if len(types) != 1 {
		return false
	}
	switch types[0] {
	case "object":
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 {
			return false
		}
		var m map[string]json.RawMessage
		json.Unmarshal(raw, &m)
		for k, v := range m {
			p, ok := props[k].(map[string]any)
			if !ok || hasUnknown(p, v) {
				return true
			}
		}
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return false
		}
		var elems []json.RawMessage
		json.Unmarshal(raw, &elems)
		for _, e := range elems {
			if hasUnknown(items, e) {
				return true
			}
		}
	}
	return false
}

func nonNullTypes(s xschema) []string {
	var out []string
	switch t := s["type"].(type) {
	case string:
		if t != "null" {
			out = append(out, t)
		}
	case []any:
		for _, v := range t {
			if v != "null" {
				out = append(out, v.(string))
			}
		}
	}
	if len(out) == 2 && ((out[0] == "integer" && out[1] == "number") || (out[0] == "number" && out[1] == "integer")) {
		out = []string{"number"}
	}
	return out
}

func expectObject(s xschema, raw json.RawMessage) (map[string]any, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, err
	}
	props, _ := s["properties"].(map[string]any)
	out := map[string]any{}
	for name, p := range props {
		ps := p.(map[string]any)
		v, err := expectValue(ps, members[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v
		if ps["x-lenient-time"] == true && !isNull(members[name]) && ps["format"] == nil {
			var str string
			if err := json.Unmarshal(members[name], &str); err != nil {
				out[name+ParsedSuffix] = nil // not a string: nothing to parse
				continue
			}
			out[name+ParsedSuffix] = referenceLenient(str)
		} else if ps["x-lenient-time"] == true && ps["format"] == nil {
			out[name+ParsedSuffix] = nil
		}
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

func expectValue(s xschema, raw json.RawMessage) (any, error) {
	if isNull(raw) {
		return nil, nil
	}
	types := nonNullTypes(s)
	if len(types) != 1 {
		return string(raw), nil
	}
	switch types[0] {
	case "string":
		if s["x-decimal-string"] == true {
			return expectDecimal(raw)
		}
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return string(raw), nil // a non-string kept as its JSON text
		}
		switch s["format"] {
		case "date-time":
			tm, err := time.Parse(time.RFC3339Nano, str)
			if err != nil {
				return nil, err
			}
			return canonTS(tm), nil
		case "date":
			tm, err := time.Parse(time.DateOnly, str)
			if err != nil {
				return nil, err
			}
			return "date:" + tm.Format(time.DateOnly), nil
		}
		return str, nil
	case "number":
		return expectDecimal(raw)
	case "integer":
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var n json.Number
		if err := dec.Decode(&n); err != nil {
			return nil, err
		}
		v, err := n.Int64()
		return v, err
	case "boolean":
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case "object":
		if props, _ := s["properties"].(map[string]any); len(props) == 0 {
			return string(raw), nil
		}
		return expectObject(s, raw)
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil || len(nonNullTypes(items)) != 1 || nonNullTypes(items)[0] != "object" {
			return string(raw), nil
		}
		if props, _ := items["properties"].(map[string]any); len(props) == 0 {
			return string(raw), nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			if isNull(e) {
				continue
			}
			m, err := expectObject(items, e)
			if err != nil {
				return nil, err
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown type %v", types)
}

func expectDecimal(raw json.RawMessage) (any, error) {
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, err
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, fmt.Errorf("not a decimal: %s", raw)
	}
	return canonDec(r), nil
}

// referenceLenient parses the documented lenient shapes with time.Parse.
func referenceLenient(s string) any {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02 15:04",
		time.DateOnly, "2006-01", "01-2006", "01/2006",
	} {
		if tm, err := time.Parse(layout, s); err == nil {
			return canonTS(tm.Truncate(time.Microsecond))
		}
	}
	return nil
}

// ---- arrow ----

// readArrow reads every row of path with pqarrow.
func readArrow(t testing.TB, path string) []map[string]any {
	t.Helper()
	tbl := arrowTable(t, path)
	defer tbl.Release()
	var rows []map[string]any
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := map[string]any{}
			for j, f := range rec.Schema().Fields() {
				row[f.Name] = arrowValue(t, rec.Column(j), i)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func arrowTable(t testing.TB, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return tbl
}

func arrowValue(t testing.TB, arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
		return canonDec(new(big.Rat).SetFrac(a.Value(i).BigInt(), den))
	case *array.Timestamp:
		tt := a.DataType().(*arrow.TimestampType)
		if tt.Unit != arrow.Microsecond || tt.TimeZone != "UTC" {
			t.Fatalf("timestamp column of type %s, want timestamp[us, tz=UTC]", tt)
		}
		return canonTSMicros(int64(a.Value(i)))
	case *array.Date32:
		return canonDate(int64(a.Value(i)))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := map[string]any{}
		for j, f := range st.Fields() {
			m[f.Name] = arrowValue(t, a.Field(j), i)
		}
		return m
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for k := start; k < end; k++ {
			out = append(out, arrowValue(t, a.ListValues(), int(k)))
		}
		return out
	}
	t.Fatalf("unexpected arrow column type %s", arr.DataType())
	return nil
}

// fileMeta returns a file's footer metadata.
func fileMeta(t testing.TB, path string) *metadata.FileMetaData {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return pf.MetaData()
}

// ---- xitongsys/parquet-go ----

type xFile struct {
	*os.File
	path string
}

func (f xFile) Open(string) (xsource.ParquetFile, error) {
	g, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	return xFile{g, f.path}, nil
}

func (f xFile) Create(string) (xsource.ParquetFile, error) {
	return nil, errors.New("read-only")
}

// xnode is the file's schema as a tree, with levels.
type xnode struct {
	el       *xparquet.SchemaElement
	name     string // the name in the file (xitongsys renames el.Name)
	children []*xnode
	def, rep int32 // max levels at this node
	leaf     int   // column index of a leaf, -1 for groups
}

type triplet struct {
	rl, dl int32
	v      any
}

// readXitongsys reads every row of path with xitongsys/parquet-go.
func readXitongsys(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := xreader.NewParquetColumnReader(xFile{f, path}, 1)
	if err != nil {
		t.Fatalf("xitongsys: opening %s: %v", path, err)
	}
	defer pr.ReadStop()
	defer f.Close()
	n := pr.GetNumRows()
	els := pr.Footer.GetSchema()
	pos, leaves := 0, 0
	var build func(def, rep int32) *xnode
	build = func(def, rep int32) *xnode {
		el := els[pos]
		nd := &xnode{el: el, name: pr.SchemaHandler.Infos[pos].ExName, def: def, rep: rep, leaf: -1}
		pos++
		if el.RepetitionType != nil {
			switch *el.RepetitionType {
			case xparquet.FieldRepetitionType_OPTIONAL:
				nd.def++
			case xparquet.FieldRepetitionType_REPEATED:
				nd.def++
				nd.rep++
			}
		}
		if el.GetNumChildren() == 0 {
			nd.leaf = leaves
			leaves++
			return nd
		}
		for range el.GetNumChildren() {
			nd.children = append(nd.children, build(nd.def, nd.rep))
		}
		return nd
	}
	root := build(0, 0)
	// Each leaf's triplets, split into rows.
	perLeaf := make([][][]triplet, leaves)
	var allLeaves []*xnode
	var collect func(*xnode)
	collect = func(x *xnode) {
		if x.leaf >= 0 {
			allLeaves = append(allLeaves, x)
		}
		for _, c := range x.children {
			collect(c)
		}
	}
	collect(root)
	for _, lf := range allLeaves {
		vals, rls, dls, err := pr.ReadColumnByIndex(int64(lf.leaf), n)
		if err != nil {
			t.Fatalf("xitongsys: reading column %s: %v", lf.name, err)
		}
		var rows [][]triplet
		for k := range vals {
			if rls[k] == 0 {
				rows = append(rows, nil)
			}
			rows[len(rows)-1] = append(rows[len(rows)-1], triplet{rls[k], dls[k], xvalue(t, lf.el, vals[k])})
		}
		if int64(len(rows)) != n {
			t.Fatalf("xitongsys: column %s has %d rows, file says %d", lf.name, len(rows), n)
		}
		perLeaf[lf.leaf] = rows
	}
	out := make([]map[string]any, n)
	for r := range out {
		trips := map[int][]triplet{}
		for _, lf := range allLeaves {
			trips[lf.leaf] = perLeaf[lf.leaf][r]
		}
		row := map[string]any{}
		for _, c := range root.children {
			row[c.name] = assemble(c, trips)
		}
		out[r] = row
	}
	return out
}

func leavesUnder(x *xnode) []int {
	if x.leaf >= 0 {
		return []int{x.leaf}
	}
	var out []int
	for _, c := range x.children {
		out = append(out, leavesUnder(c)...)
	}
	return out
}

func firstLeaf(x *xnode) *xnode {
	for x.leaf < 0 {
		x = x.children[0]
	}
	return x
}

// assemble rebuilds the value of node x from its leaves' triplets (those of
// one row, or of one list element).
func assemble(x *xnode, trips map[int][]triplet) any {
	first := trips[firstLeaf(x).leaf][0]
	if first.dl < x.def {
		return nil // x or an ancestor is null
	}
	if x.leaf >= 0 {
		return first.v
	}
	if x.el.ConvertedType != nil && *x.el.ConvertedType == xparquet.ConvertedType_LIST {
		rg := x.children[0] // repeated group "list"
		elem := rg.children[0]
		if first.dl < rg.def {
			return []any{} // empty
		}
		// Split every leaf's triplets into elements: one starts at each
		// triplet repeating at this list's level.
		var elems []map[int][]triplet
		for _, leaf := range leavesUnder(x) {
			ts := trips[leaf]
			k := -1
			for j, tr := range ts {
				if j == 0 || tr.rl == rg.rep {
					k++
					if k == len(elems) {
						elems = append(elems, map[int][]triplet{})
					}
				}
				elems[k][leaf] = append(elems[k][leaf], tr)
			}
		}
		out := make([]any, len(elems))
		for k, e := range elems {
			out[k] = assemble(elem, e)
		}
		return out
	}
	m := map[string]any{}
	for _, c := range x.children {
		m[c.name] = assemble(c, trips)
	}
	return m
}

func xvalue(t testing.TB, el *xparquet.SchemaElement, v any) any {
	if v == nil {
		return nil
	}
	lt := el.GetLogicalType()
	switch el.GetType() {
	case xparquet.Type_BOOLEAN:
		return v.(bool)
	case xparquet.Type_INT32:
		if lt != nil && lt.DATE != nil || el.ConvertedType != nil && *el.ConvertedType == xparquet.ConvertedType_DATE {
			return canonDate(int64(v.(int32)))
		}
	case xparquet.Type_INT64:
		if lt != nil && lt.TIMESTAMP != nil {
			if lt.TIMESTAMP.Unit.MICROS == nil || !lt.TIMESTAMP.IsAdjustedToUTC {
				t.Fatalf("xitongsys: column %s is %v, want TIMESTAMP(MICROS, UTC)", el.Name, lt.TIMESTAMP)
			}
			return canonTSMicros(v.(int64))
		}
		return v.(int64)
	case xparquet.Type_BYTE_ARRAY:
		return v.(string)
	case xparquet.Type_FIXED_LEN_BYTE_ARRAY:
		if lt != nil && lt.DECIMAL != nil {
			b := []byte(v.(string))
			n := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(lt.DECIMAL.Scale)), nil)
			return canonDec(new(big.Rat).SetFrac(n, den))
		}
	}
	t.Fatalf("xitongsys: unexpected column %s of type %v", el.Name, el.GetType())
	return nil
}

// ---- comparing ----

// compareRows fails the test on every difference between want and got.
func compareRows(t testing.TB, what string, want, got []map[string]any) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := 0; i < min(len(want), len(got)); i++ {
		if reflect.DeepEqual(want[i], got[i]) {
			continue
		}
		for _, d := range diff("", want[i], got[i]) {
			if bad++; bad <= 20 {
				t.Errorf("%s row %d: %s", what, i, d)
			}
		}
	}
	if bad > 20 {
		t.Errorf("%s: %d differences in all", what, bad)
	}
}

func diff(path string, want, got any) []string {
	wm, ok1 := want.(map[string]any)
	gm, ok2 := got.(map[string]any)
	if ok1 && ok2 {
		var keys []string
		for k := range wm {
			keys = append(keys, k)
		}
		for k := range gm {
			if _, ok := wm[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, diff(strings.TrimPrefix(path+"."+k, "."), wm[k], gm[k])...)
		}
		return out
	}
	wl, ok1 := want.([]any)
	gl, ok2 := got.([]any)
	if ok1 && ok2 && len(wl) == len(gl) {
		var out []string
		for i := range wl {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), wl[i], gl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s = %#v, want %#v", path, got, want)}
}

// streamFiles lists the visible Parquet files of a stream directory, in
// name order, and fails on anything else but the sink's temporaries.
func streamFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".parquet") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// checkFiles reads files with both readers, and arrow-rs and polars where
// they are installed (rust_test.go), and compares every value with what
// the JSON records say.
func checkFiles(t testing.TB, files []string, schema json.RawMessage, records []json.RawMessage) {
	t.Helper()
	want := expectRows(t, schema, records)
	var a, x []map[string]any
	for _, f := range files {
		a = append(a, readArrow(t, f)...)
		x = append(x, readXitongsys(t, f)...)
	}
	compareRows(t, "arrow", want, a)
	compareRows(t, "xitongsys", want, x)
	checkRust(t, files, want)
}
