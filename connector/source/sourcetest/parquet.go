package sourcetest

import (
	"context"
	"fmt"
	"os"
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

// NewestRunFiles are the committed files of stream's newest run under dir,
// by the run start each file's footer holds under runStartKey
// (parquet.MetaRunStart: this package cannot import the sink, whose tests
// import it): two runs in one second share their names' stamp, so the
// footer, not the name, tells them apart, as docs/parquet.md's snapshot
// query does.
func NewestRunFiles(t testing.TB, dir, stream, runStartKey string) []string {
	t.Helper()
	var newest time.Time
	var files []string
	for _, path := range ParquetFiles(t, dir, stream) {
		f, err := file.OpenParquetFile(path, false)
		Must(t, err, path)
		v := f.MetaData().KeyValueMetadata().FindValue(runStartKey)
		f.Close()
		if v == nil {
			t.Fatalf("%s has no %s", path, runStartKey)
		}
		at, err := time.Parse(time.RFC3339Nano, *v)
		Must(t, err, path)
		switch {
		case at.After(newest):
			newest, files = at, []string{path}
		case at.Equal(newest):
			files = append(files, path)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no Parquet file of %s", stream)
	}
	return files
}

// ParquetRunDump is ParquetDump of files (one run's, as NewestRunFiles
// gives them), only the rows whose line contains contains.
func ParquetRunDump(t testing.TB, files []string, contains string) string {
	t.Helper()
	tmp := t.TempDir()
	Must(t, os.Mkdir(filepath.Join(tmp, "s"), 0o700), "mkdir")
	for _, f := range files {
		b, err := os.ReadFile(f)
		Must(t, err, f)
		Must(t, os.WriteFile(filepath.Join(tmp, "s", filepath.Base(f)), b, 0o600), "copy")
	}
	var out []string
	for _, l := range strings.Split(ParquetDump(t, tmp), "\n") {
		if strings.Contains(l, contains) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// CheckKeySet fails t for each key of got that is twice in it or not in
// want, and each key of want not in got; where names the sink (or file)
// got was read from.
func CheckKeySet(t testing.TB, where string, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range got {
		if seen[k] {
			t.Errorf("%s: row %s twice", where, k)
		}
		seen[k] = true
		if !want[k] {
			t.Errorf("%s: row %s is not the bank's now (booked since, or of another read)", where, k)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("%s: row %s missing", where, k)
		}
	}
}

// TwoWithPending returns the first two of accounts whose fake holds at
// least two pending rows (pending counts them): a partial-snapshot test
// books a row in one and spends the other's daily limit.
func TwoWithPending(t testing.TB, accounts []string, pending func(account string) int) (booker, spent string) {
	t.Helper()
	var with []string
	for _, a := range accounts {
		if pending(a) >= 2 {
			with = append(with, a)
		}
	}
	if len(with) < 2 {
		t.Fatalf("the fake gave %d accounts with pending rows, the test needs 2", len(with))
	}
	return with[0], with[1]
}
