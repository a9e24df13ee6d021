package sourcetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetStrings reads the text columns cols (STRING: text, JSON text,
// _leftovers, _changes) of every row of every committed Parquet file of
// stream under dir, one map a row: the column's value, or nil for null. A
// file without one of the columns fails the test.
func ParquetStrings(t testing.TB, dir, stream string, cols ...string) []map[string]*string {
	t.Helper()
	var rows []map[string]*string
	for _, path := range ParquetFiles(t, dir, stream) {
		rows = append(rows, ParquetFileStrings(t, path, cols...)...)
	}
	return rows
}

// ParquetFiles lists the committed Parquet files of stream under dir, in
// name order (run start, then sequence).
func ParquetFiles(t testing.TB, dir, stream string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, stream, "*.parquet"))
	Must(t, err, "parquet files")
	return files
}

// ParquetFileStrings is ParquetStrings for one file.
func ParquetFileStrings(t testing.TB, path string, cols ...string) []map[string]*string {
	t.Helper()
	var rows []map[string]*string
	rdr, err := file.OpenParquetFile(path, false)
	Must(t, err, path)
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	Must(t, err, path)
	tbl, err := fr.ReadTable(context.Background())
	Must(t, err, path)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		arrs := make([]*array.String, len(cols))
		for i, name := range cols {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				t.Fatalf("%s: no column %q", path, name)
			}
			a, ok := rec.Column(idx[0]).(*array.String)
			if !ok {
				t.Fatalf("%s: column %q is %s, not a string", path, name, rec.Column(idx[0]).DataType())
			}
			arrs[i] = a
		}
		for r := range int(rec.NumRows()) {
			row := make(map[string]*string, len(cols))
			for i, name := range cols {
				if !arrs[i].IsNull(r) {
					v := arrs[i].Value(r)
					row[name] = &v
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}
