package parquet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// carryOver adds to the snapshot being written the rows of the previous
// one (the folder's newest run's files) whose top-level string column
// field holds one of parts: the parts a read lacked (a
// source.PartialSnapshot's accounts), so that their previous rows stay in
// the newest run's files, value for value, beside the rows this read gave
// for every other part. Their levels and values are copied column by column,
// never through JSON, so nothing is converted twice. Call it after the
// read's last row; on error the snapshot must be discarded (rows may have
// been added), which leaves the previous one newest, whole.
//
// A read may have written some rows of a part it lacks (an account whose
// read panicked part-way through its rows, which source.Each's recover
// ends): the PostgreSQL sink leaves them out of its replacement, but they
// cannot be taken out of the files, and carried over beside them the
// previous snapshot's rows of that part were doubled. So a run whose
// files hold one is refused. The file in progress is staged first, to be
// read back, so the carried rows begin a file.
func (w *Writer) carryOver(field string, parts []string) error {
	if w.err != nil {
		return w.err
	}
	files, err := previousSnapshot(w.dir)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(parts))
	for _, p := range parts {
		want[p] = true
	}
	key := w.schema.ColumnIndexByName(field)
	if key < 0 || w.schema.Column(key).MaxRepetitionLevel() > 0 || w.conv.cols[key].phys != pBytes {
		return fmt.Errorf("the stream has no top-level text column %s to tell its parts apart by", field)
	}
	if len(want) > 0 {
		if err := w.Commit(); err != nil {
			return err
		}
		for _, f := range w.staged {
			part, err := w.holdsPart(f.tmp, key, want)
			if err != nil {
				return fmt.Errorf("reading back %s: %w", f.tmp, err)
			}
			if part != "" {
				return fmt.Errorf("this read wrote rows of %s %s, which it did not read whole, and a snapshot's file keeps every row written to it", field, part)
			}
		}
	}
	w.conv.flushNulls() // the rows before are whole in every column
	for _, path := range files {
		if err := w.carryFile(path, key, want); err != nil {
			return fmt.Errorf("carrying rows over from %s: %w", path, err)
		}
	}
	return nil
}

// previousSnapshot returns the files of dir's newest run: among the files
// of the greatest name stamp (no run writes a stamp older than one there,
// see runStamp), those of the greatest source_pluggy.run_started_at, as
// the snapshot query of docs/parquet.md reads them. They must be a
// full-refresh stream's. None when dir holds no file.
func previousSnapshot(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var newest string
	var names []string
	for _, e := range entries {
		m := partName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		switch {
		case m[1] > newest:
			newest, names = m[1], []string{e.Name()}
		case m[1] == newest:
			names = append(names, e.Name())
		}
	}
	var files []string
	var latest time.Time
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := file.OpenParquetFile(path, false)
		if err != nil {
			return nil, err
		}
		kv := f.MetaData().KeyValueMetadata()
		at, mode := kv.FindValue(MetaRunStart), kv.FindValue(MetaSyncMode)
		f.Close()
		if at == nil || mode == nil || *mode != string(protocol.FullRefresh) {
			return nil, fmt.Errorf("%s is not a full-refresh snapshot's file of this sink (no %s, or %s is not %s)", path, MetaRunStart, MetaSyncMode, protocol.FullRefresh)
		}
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, MetaRunStart, err)
		}
		switch {
		case t.After(latest):
			latest, files = t, []string{path}
		case t.Equal(latest):
			files = append(files, path)
		}
	}
	return files, nil
}

// leafData is one leaf column of a row group as read back: an entry's
// levels, and the values of the entries at the column's maximum
// definition level, in order.
type leafData struct {
	def, rep []int16
	bytes    [][]byte // BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY, copied
	i64      []int64
	i32      []int32
	bools    []bool
	// rowStart and valStart are, for each row and one past the last, its
	// first entry and its first value.
	rowStart, valStart []int
}

// carryFile appends the rows of one file whose column key holds a part
// of want.
func (w *Writer) carryFile(path string, key int, want map[string]bool) error {
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sameColumns(f.MetaData().Schema, w.schema); err != nil {
		return err
	}
	for g := range f.NumRowGroups() {
		rg := f.RowGroup(g)
		keys, err := readLeaf(rg, key, &w.conv.cols[key])
		if err != nil {
			return err
		}
		var rows []int
		for r := range len(keys.rowStart) - 1 {
			if v := keys.valStart[r]; v < keys.valStart[r+1] && want[string(keys.bytes[v])] {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		leaves := make([]*leafData, len(w.conv.cols))
		for j := range leaves {
			if j == key {
				leaves[j] = keys
			} else if leaves[j], err = readLeaf(rg, j, &w.conv.cols[j]); err != nil {
				return err
			}
			if len(leaves[j].rowStart) != len(keys.rowStart) {
				return fmt.Errorf("row group %d: column %s has %d rows, column %s %d", g, w.schema.Column(j).Path(), len(leaves[j].rowStart)-1, w.schema.Column(key).Path(), len(keys.rowStart)-1)
			}
		}
		for _, r := range rows {
			if err := w.carryRow(leaves, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// holdsPart returns the first value of column key, in the file at path,
// that is one of want, or "" for none.
func (w *Writer) holdsPart(path string, key int, want map[string]bool) (string, error) {
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for g := range f.NumRowGroups() {
		keys, err := readLeaf(f.RowGroup(g), key, &w.conv.cols[key])
		if err != nil {
			return "", err
		}
		for _, v := range keys.bytes {
			if want[string(v)] {
				return string(v), nil
			}
		}
	}
	return "", nil
}

// sameColumns checks that a file's leaf columns are the writer's, path,
// physical and logical type and levels: a previous snapshot written from
// another schema (a version that added a field) cannot be copied column
// by column.
func sameColumns(theirs, mine *schema.Schema) error {
	if theirs.NumColumns() != mine.NumColumns() {
		return fmt.Errorf("it has %d columns, this run's files %d (written from another schema)", theirs.NumColumns(), mine.NumColumns())
	}
	for j, c := range theirs.Columns() {
		if m := mine.Column(j); c.Path() != m.Path() || !c.Equals(m) {
			return fmt.Errorf("its column %d is %s, this run's %s (written from another schema)", j, c, m)
		}
	}
	return nil
}

// readLeaf reads leaf column j of a row group whole; col is the writer's
// column of the same leaf.
func readLeaf(rg *file.RowGroupReader, j int, col *column) (*leafData, error) {
	cr, err := rg.Column(j)
	if err != nil {
		return nil, err
	}
	meta, err := rg.MetaData().ColumnChunk(j)
	if err != nil {
		return nil, err
	}
	n := int(meta.NumValues())
	if n < 0 {
		return nil, errors.New("a negative number of values")
	}
	d := &leafData{def: make([]int16, n), rep: make([]int16, n)}
	entries, values := 0, 0
	for cr.HasNext() && entries < n {
		var total int64
		var got int
		defs, reps := d.def[entries:], d.rep[entries:]
		batch := int64(n - entries)
		switch r := cr.(type) {
		case *file.ByteArrayColumnChunkReader:
			buf := make([]pq.ByteArray, batch)
			total, got, err = r.ReadBatch(batch, buf, defs, reps)
			for _, v := range buf[:got] {
				d.bytes = append(d.bytes, slices.Clone(v))
			}
		case *file.FixedLenByteArrayColumnChunkReader:
			buf := make([]pq.FixedLenByteArray, batch)
			total, got, err = r.ReadBatch(batch, buf, defs, reps)
			for _, v := range buf[:got] {
				d.bytes = append(d.bytes, slices.Clone(v))
			}
		case *file.Int64ColumnChunkReader:
			buf := make([]int64, batch)
			total, got, err = r.ReadBatch(batch, buf, defs, reps)
			d.i64 = append(d.i64, buf[:got]...)
		case *file.Int32ColumnChunkReader:
			buf := make([]int32, batch)
			total, got, err = r.ReadBatch(batch, buf, defs, reps)
			d.i32 = append(d.i32, buf[:got]...)
		case *file.BooleanColumnChunkReader:
			buf := make([]bool, batch)
			total, got, err = r.ReadBatch(batch, buf, defs, reps)
			d.bools = append(d.bools, buf[:got]...)
		default:
			return nil, fmt.Errorf("column %d: a physical type this sink does not write (%T)", j, cr)
		}
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", j, err)
		}
		if total == 0 {
			break
		}
		if col.maxDef == 0 {
			for i := range defs[:total] {
				defs[i] = 0 // not stored: every entry is a value
			}
		}
		if col.maxRep == 0 {
			for i := range reps[:total] {
				reps[i] = 0
			}
		}
		entries += int(total)
		values += got
	}
	if entries != n {
		return nil, fmt.Errorf("column %d: read %d of its %d values", j, entries, n)
	}
	v := 0
	for e := range n {
		if d.rep[e] == 0 {
			d.rowStart = append(d.rowStart, e)
			d.valStart = append(d.valStart, v)
		}
		if d.def[e] == col.maxDef {
			v++
		}
	}
	if v != values {
		return nil, fmt.Errorf("column %d: %d values for %d entries at the maximum level", j, values, v)
	}
	d.rowStart, d.valStart = append(d.rowStart, n), append(d.valStart, v)
	return d, nil
}

// carryRow appends row r of leaves to the row group being filled, as
// WriteRow appends a record: the file opened first, the row group and the
// file ended when full.
func (w *Writer) carryRow(leaves []*leafData, r int) error {
	if w.fw == nil {
		if err := w.openFile(); err != nil {
			return w.fail(fmt.Errorf("parquet: stream %s: %w", w.stream, err))
		}
	}
	size := 0
	for j, d := range leaves {
		c := &w.conv.cols[j]
		v := d.valStart[r]
		for e := d.rowStart[r]; e < d.rowStart[r+1]; e++ {
			def, rep := d.def[e], d.rep[e]
			if def < c.maxDef {
				c.null(def, rep)
				continue
			}
			switch c.phys {
			case pBytes:
				c.appendBytes(d.bytes[v], rep)
				size += len(d.bytes[v])
			case pFixed16:
				b := d.bytes[v]
				c.appendDecimal(int64(binary.BigEndian.Uint64(b[:8])), binary.BigEndian.Uint64(b[8:]), rep)
			case pInt64:
				c.appendInt64(d.i64[v], rep)
			case pInt32:
				c.appendInt32(d.i32[v], rep)
			case pBool:
				c.appendBool(d.bools[v], rep)
			}
			v++
		}
	}
	w.batchRows++
	w.fileRows++
	if w.batchFull(size) {
		if err := w.flushBatch(); err != nil {
			return w.fail(err)
		}
	}
	if w.fileRows >= w.sinks.opts.RowsPerFile {
		if err := w.commitFile(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}
