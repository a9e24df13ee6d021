package sourcetest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetStrings reads the text columns cols (STRING: text, JSON text,
// _leftovers, _changes) of every row of every committed Parquet file of
// stream under dir, one map a row: the column's value, or nil for null. A
// TIMESTAMP column is read as its instant in RFC 3339, UTC, to the
// microsecond (2024-05-01T10:20:30.000000Z). A file without one of the
// columns fails the test.
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
		arrs := make([]arrow.Array, len(cols))
		for i, name := range cols {
			idx := rec.Schema().FieldIndices(name)
			if len(idx) != 1 {
				t.Fatalf("%s: no column %q", path, name)
			}
			switch a := rec.Column(idx[0]).(type) {
			case *array.String:
				arrs[i] = a
			case *array.Timestamp:
				if u := a.DataType().(*arrow.TimestampType).Unit; u != arrow.Microsecond {
					t.Fatalf("%s: column %q is in %s, not microseconds", path, name, u)
				}
				arrs[i] = a
			default:
				t.Fatalf("%s: column %q is %s, not a string or a timestamp", path, name, a.DataType())
			}
		}
		for r := range int(rec.NumRows()) {
			row := make(map[string]*string, len(cols))
			for i, name := range cols {
				if arrs[i].IsNull(r) {
					continue
				}
				var v string
				switch a := arrs[i].(type) {
				case *array.String:
					v = a.Value(r)
				case *array.Timestamp:
					v = time.UnixMicro(int64(a.Value(r))).UTC().Format("2006-01-02T15:04:05.000000Z")
				}
				row[name] = &v
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// ParquetDump is every row of every committed Parquet file under dir, one
// line a row, "<stream> <column>=<value> ...", sorted: columns in file
// order, values as Arrow prints them, the columns named in skip left out
// (_extracted_at, which differs from run to run). Two reads that should
// have written the same data compare equal.
func ParquetDump(t testing.TB, dir string, skip ...string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.parquet"))
	Must(t, err, "parquet files")
	var lines []string
	for _, path := range files {
		stream := filepath.Base(filepath.Dir(path))
		rdr, err := file.OpenParquetFile(path, false)
		Must(t, err, path)
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		Must(t, err, path)
		tbl, err := fr.ReadTable(context.Background())
		Must(t, err, path)
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			rec := tr.RecordBatch()
			for r := range int(rec.NumRows()) {
				var b strings.Builder
				b.WriteString(stream)
				for c := range int(rec.NumCols()) {
					if slices.Contains(skip, rec.ColumnName(c)) {
						continue
					}
					fmt.Fprintf(&b, " %s=%s", rec.ColumnName(c), rec.Column(c).ValueStr(r))
				}
				lines = append(lines, b.String())
			}
		}
		tr.Release()
		tbl.Release()
		rdr.Close()
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
