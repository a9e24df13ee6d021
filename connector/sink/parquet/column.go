package parquet

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// physical is how a leaf column's values are laid out in memory and in the
// file.
type physical uint8

const (
	pBytes   physical = iota // BYTE_ARRAY: strings, JSON text
	pInt64                   // INT64: integers, timestamps
	pInt32                   // INT32: dates
	pBool                    // BOOLEAN
	pFixed16                 // FIXED_LEN_BYTE_ARRAY(16): decimals, big-endian
)

// column is one leaf column of the row group being filled: its definition
// and repetition levels and its non-null values, exactly what the Parquet
// column writer takes. The converter appends to it straight from the
// record's JSON, so no Arrow array (and no conversion of one into levels
// and values) stands between the record and the encoder; its slices are
// reused from row group to row group, so a row group allocates nothing once
// the first ones have sized them.
type column struct {
	phys           physical
	maxDef, maxRep int16

	def, rep []int16 // rep only when maxRep > 0
	// A value is appended with its level at maxDef; a null (of the leaf or
	// of an ancestor) with a lower level and no value.
	//
	// The last run of equal definition levels is not stored but counted:
	// run entries at runLevel after those in def. A run ends (is appended
	// to def, storeLevels) when an entry differs, so a column every row
	// has, or none, or whose rows come grouped (an account's card
	// purchases, a page at a time), appends in bulk. Appending ~60 levels
	// a row one by one was the converter's largest single cost
	// (column.levels, 0.3 of its 1.7 CPU s per million rows). A column
	// with repetition levels stores every entry's (runLevel is noRun).
	run      int
	runLevel int16  // noRun with repetition levels
	bytes    []byte // pBytes: the values back to back; pFixed16: 16 bytes each
	ends     []int  // pBytes: where each value ends in bytes
	// dict, for a string column with a dictionary (see writerProps) and
	// no list around it, holds its distinct values; idx then holds each
	// value's number instead of bytes and ends.
	dict *dictionary
	// dropped is the dictionary of a column that writes plain for the rest
	// of the file because its values were mostly distinct (see
	// column.mostlyDistinct); openFile gives it back.
	dropped *dictionary
	idx     []int32
	i64     []int64 // pInt64
	i32     []int32 // pInt32
	bools   []bool  // pBool
}

// scratch is the encoding goroutine's working memory: the values of the
// column being written as the column writer takes them. Columns are written
// one after another, so one scratch serves them all: one per column held
// as much again as the row group's values (6.6 MB of the 34 MB live heap on
// Pluggy transactions), and the collector ran that much more often under
// the soft memory limit.
type scratch struct {
	ba     []pq.ByteArray
	flba   []pq.FixedLenByteArray
	def    []int16 // the levels of a column of one run, written out
	spaced []int32 // a dictionary column's numbers, a slot per level
	valid  []byte  // and their validity bitmap
}

// newColumn is an empty column of values laid out as phys, with those
// maximum levels.
func newColumn(phys physical, maxDef, maxRep int16) column {
	c := column{phys: phys, maxDef: maxDef, maxRep: maxRep}
	c.runLevel = c.firstLevel()
	return c
}

// firstLevel is runLevel of an empty column: any level starts a run
// (levels takes the first entry's at 0 for one), but with repetition
// levels none does.
func (c *column) firstLevel() int16 {
	if c.maxRep > 0 {
		return noRun
	}
	return 0
}

// levels appends one entry's levels.
func (c *column) levels(def, rep int16) {
	if def == c.runLevel {
		c.run++
		return
	}
	c.storeLevels(def, rep)
}

// storeLevels appends one entry's levels that do not continue the run:
// the run is stored and the entry starts the next.
func (c *column) storeLevels(def, rep int16) {
	if c.maxRep > 0 {
		c.def = append(c.def, def)
		c.rep = append(c.rep, rep)
		return
	}
	c.def = fillLevels(c.def, c.runLevel, c.run)
	c.runLevel, c.run = def, 1
}

// noRun is runLevel with repetition levels: no entry's level equals it.
const noRun = -1

// fillLevels appends n entries at level l to levels.
func fillLevels(levels []int16, l int16, n int) []int16 {
	start := len(levels)
	levels = slices.Grow(levels, n)[:start+n]
	for i := start; i < len(levels); i++ {
		levels[i] = l
	}
	return levels
}

// entries is the number of entries (levels) the column holds.
func (c *column) entries() int { return len(c.def) + c.run }

// defLevels returns the definition levels of the column's entries: the
// run stored with the others, or, for a column of one run, written out in
// the writer's scratch, so that such a column (half of them) keeps no
// levels of its own from row group to row group.
func (c *column) defLevels(sc *scratch) []int16 {
	if len(c.def) == 0 {
		sc.def = fillLevels(sc.def[:0], c.runLevel, c.run)
		return sc.def
	}
	c.def = fillLevels(c.def, c.runLevel, c.run)
	c.run = 0
	return c.def
}

// null appends a null at definition level def (below maxDef).
func (c *column) null(def, rep int16) { c.levels(def, rep) }

func (c *column) appendBytes(v []byte, rep int16) {
	c.levels(c.maxDef, rep)
	if c.dict != nil {
		c.idx = append(c.idx, c.dict.intern(v))
		return
	}
	c.bytes = append(c.bytes, v...)
	c.ends = append(c.ends, len(c.bytes))
}

func (c *column) appendInt64(v int64, rep int16) {
	c.levels(c.maxDef, rep)
	c.i64 = append(c.i64, v)
}

func (c *column) appendInt32(v int32, rep int16) {
	c.levels(c.maxDef, rep)
	c.i32 = append(c.i32, v)
}

func (c *column) appendBool(v bool, rep int16) {
	c.levels(c.maxDef, rep)
	c.bools = append(c.bools, v)
}

// appendDecimal appends a 128-bit two's complement value, big-endian as
// Parquet's DECIMAL in FIXED_LEN_BYTE_ARRAY wants it.
func (c *column) appendDecimal(hi int64, lo uint64, rep int16) {
	c.levels(c.maxDef, rep)
	c.bytes = binary.BigEndian.AppendUint64(c.bytes, uint64(hi))
	c.bytes = binary.BigEndian.AppendUint64(c.bytes, lo)
}

// mark is where a column stood, to truncate it back to: its levels and
// its dictionary's values. The values to drop are those of the levels
// dropped at maxDef.
type mark struct{ def, dict int32 }

func (c *column) mark() mark {
	m := mark{def: int32(c.entries())}
	if c.dict != nil {
		m.dict = int32(c.dict.len())
	}
	return m
}

func (c *column) truncate(m mark) {
	values := 0
	if n := int(m.def); n >= len(c.def) {
		drop := c.entries() - n // of the run
		if c.runLevel == c.maxDef {
			values = drop
		}
		c.run -= drop
	} else {
		if c.runLevel == c.maxDef {
			values = c.run
		}
		c.run = 0
		for _, l := range c.def[n:] {
			if l == c.maxDef {
				values++
			}
		}
		if c.maxRep > 0 {
			c.rep = c.rep[:n] // a repetition level for every definition level
		}
		c.def = c.def[:n]
	}
	switch {
	case c.dict != nil:
		c.idx = c.idx[:len(c.idx)-values]
		c.dict.truncate(int(m.dict))
	case c.phys == pBytes:
		c.ends = c.ends[:len(c.ends)-values]
		end := 0
		if len(c.ends) > 0 {
			end = c.ends[len(c.ends)-1]
		}
		c.bytes = c.bytes[:end]
	case c.phys == pFixed16:
		c.bytes = c.bytes[:len(c.bytes)-16*values]
	case c.phys == pInt64:
		c.i64 = c.i64[:len(c.i64)-values]
	case c.phys == pInt32:
		c.i32 = c.i32[:len(c.i32)-values]
	case c.phys == pBool:
		c.bools = c.bools[:len(c.bools)-values]
	}
}

// size is the bytes the column holds for the row group: what encoding it
// will read, the run's levels included (they are stored before it).
func (c *column) size() int {
	n := len(c.bytes) + 8*len(c.ends) + 8*len(c.i64) + 4*len(c.i32) + len(c.bools) + 2*c.entries() + 2*len(c.rep) + 4*len(c.idx)
	if c.dict != nil {
		n += c.dict.size()
	}
	return n
}

func (c *column) reset() {
	c.def, c.rep, c.bytes, c.ends, c.idx = c.def[:0], c.rep[:0], c.bytes[:0], c.ends[:0], c.idx[:0]
	c.run, c.runLevel = 0, c.firstLevel()
	c.i64, c.i32, c.bools = c.i64[:0], c.i32[:0], c.bools[:0]
	if c.dict != nil {
		c.dict.reset()
	}
}

// Columns whose values are mostly distinct are written plain: a dictionary
// of values that hardly repeat is hashed twice (here, then again by the
// encoder's PutDictionary) and written as a page as large as the values, for
// no saving that zstd would not make on the plain values anyway. A chunk of
// at least distinctMinValues values of which more than half are distinct
// turns its column's dictionary off for the rest of the file, as arrow-go
// and parquet-mr fall back to plain when a dictionary outgrows its page.
const distinctMinValues = 128

// mostlyDistinct reports whether the column has a dictionary and its chunk
// is of mostly distinct values (see distinctMinValues).
func (c *column) mostlyDistinct() bool {
	return c.dict != nil && len(c.idx) >= distinctMinValues && 2*c.dict.len() > len(c.idx)
}

// dropDict makes the column keep its values, not their numbers, until
// restoreDict. The column must be empty.
func (c *column) dropDict() { c.dropped, c.dict = c.dict, nil }

// restoreDict gives a dropped dictionary back. The column must be empty.
func (c *column) restoreDict() {
	if c.dropped != nil {
		c.dict, c.dropped = c.dropped, nil
	}
}

// write encodes the column as the row group's next column chunk.
func (c *column) write(cw file.ColumnChunkWriter, sc *scratch) error {
	var rep []int16
	if c.maxRep > 0 {
		rep = c.rep
	}
	def := c.defLevels(sc)
	var err error
	switch w := cw.(type) {
	case *file.ByteArrayColumnChunkWriter:
		if c.dict != nil {
			err = c.writeDict(w, def, sc)
			break
		}
		if c.dropped != nil {
			// Plain from the start: the encoder's dictionary is
			// dropped unused instead of hashing every value.
			w.FallbackToPlain()
		}
		sc.ba = sc.ba[:0]
		start := 0
		for _, end := range c.ends {
			sc.ba = append(sc.ba, c.bytes[start:end:end])
			start = end
		}
		_, err = w.WriteBatch(sc.ba, def, rep)
		clear(sc.ba) // no pointers into a row group kept past it
	case *file.Int64ColumnChunkWriter:
		_, err = w.WriteBatch(c.i64, def, rep)
	case *file.Int32ColumnChunkWriter:
		_, err = w.WriteBatch(c.i32, def, rep)
	case *file.BooleanColumnChunkWriter:
		_, err = w.WriteBatch(c.bools, def, rep)
	case *file.FixedLenByteArrayColumnChunkWriter:
		sc.flba = sc.flba[:0]
		for i := 0; i+16 <= len(c.bytes); i += 16 {
			sc.flba = append(sc.flba, c.bytes[i:i+16:i+16])
		}
		_, err = w.WriteBatch(sc.flba, def, rep)
		clear(sc.flba)
	default:
		err = fmt.Errorf("column writer %T for a %d column", cw, c.phys)
	}
	if err != nil {
		return err
	}
	return cw.Close()
}

// dictSaves reports whether the dictionary and the numbers take fewer bytes
// than the values written plain (each with its 4-byte length), before
// compression: parquet-mr's and arrow-go's test for keeping a dictionary.
func (c *column) dictSaves() bool {
	d := c.dict
	plain := 4 * len(c.idx)
	for _, i := range c.idx {
		plain += int(d.offs[i+1] - d.offs[i])
	}
	width := bits.Len(uint(d.len() - 1)) // bits a number takes, bit-packed
	return d.dataSize()+(len(c.idx)*width+7)/8 < plain
}

// dictEncoder is the part of arrow-go's dictionary encoder (an internal
// type) that writing a chunk from its dictionary needs; pqarrow writes
// Arrow dictionary arrays the same way.
type dictEncoder interface {
	Encoding() pq.Encoding
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// bytesPerEntry bounds the bytes a dictionary column's data page takes per
// level: definition level and index, each at most 4 bytes bit-packed (see
// writeDict).
const bytesPerEntry = 8

// writeDict writes a dictionary column's chunk: its dictionary, then its
// values' numbers. The statistics are the dictionary's, every value of
// which a row of the chunk holds (a value taken back is taken out of it).
// They are given to the page before the numbers are written, so the chunk
// must be one data page: it is, as long as its levels and numbers fit a
// page, which a row group of at most DefaultRowGroupRows rows without
// lists always does. Otherwise, when the dictionary outgrows the
// dictionary page, or when the column is stored uncompressed and the
// dictionary saves no space (the check arrow-go makes on that path too),
// the values are written as plain ones.
func (c *column) writeDict(w *file.ByteArrayColumnChunkWriter, def []int16, sc *scratch) error {
	d := c.dict
	enc, ok := w.CurrentEncoder().(dictEncoder)
	props := w.Properties()
	if !ok || c.maxRep > 0 || d.len() == 0 ||
		int64(len(def))*bytesPerEntry > props.DataPageSize() ||
		int64(d.dataSize()) > props.DictionaryPageSizeLimit() ||
		(enc.Encoding() != pq.Encodings.PlainDict && enc.Encoding() != pq.Encodings.RLEDict) ||
		props.DictionaryCostFallbackEnabledFor(w.Descr().Path()) && !c.dictSaves() {
		w.FallbackToPlain() // rather than the encoder hashing each value again
		sc.ba = sc.ba[:0]
		for _, i := range c.idx {
			sc.ba = append(sc.ba, d.value(i))
		}
		_, err := w.WriteBatch(sc.ba, def, nil)
		clear(sc.ba)
		return err
	}

	dd := array.NewData(arrow.BinaryTypes.String, d.len(), []*memory.Buffer{
		nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.offs)), memory.NewBufferBytes(d.data),
	}, nil, 0, 0)
	dict := array.NewStringData(dd)
	dd.Release()
	defer dict.Release()
	if err := enc.PutDictionary(dict); err != nil {
		return err
	}
	if enc.NumEntries() != d.len() {
		return fmt.Errorf("the encoder took %d of %d distinct values", enc.NumEntries(), d.len())
	}

	// The numbers, a slot per level: a null's slot is 0 and invalid. A
	// chunk without nulls is its numbers as they are.
	nulls := len(def) - len(c.idx)
	spaced := c.idx
	var valid *memory.Buffer
	if nulls > 0 {
		sc.spaced = slices.Grow(sc.spaced[:0], len(def))[:len(def)]
		sc.valid = slices.Grow(sc.valid[:0], int(bitutil.BytesForBits(int64(len(def)))))[:bitutil.BytesForBits(int64(len(def)))]
		clear(sc.valid)
		valid = memory.NewBufferBytes(sc.valid)
		j := 0
		for i, lvl := range def {
			if lvl == c.maxDef {
				sc.spaced[i] = c.idx[j]
				j++
				bitutil.SetBit(sc.valid, i)
			} else {
				sc.spaced[i] = 0
			}
		}
		spaced = sc.spaced
	}
	id := array.NewData(arrow.PrimitiveTypes.Int32, len(def), []*memory.Buffer{
		valid, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(spaced)),
	}, nil, nulls, 0)
	indices := array.NewInt32Data(id)
	id.Release()
	defer indices.Release()

	if ps := w.PageStatistics(); ps != nil {
		// Update, not UpdateFromArrow: that one skips empty strings as if
		// they were nulls (arrow-go v18.8.0), so "" would never be the
		// minimum. Update counts the dictionary's values; the chunk has
		// as many as it has numbers, every value being used at least once.
		st, ok := ps.(*metadata.ByteArrayStatistics)
		if !ok {
			return fmt.Errorf("statistics %T for a string column", ps)
		}
		sc.ba = sc.ba[:0]
		for i := range int32(d.len()) {
			sc.ba = append(sc.ba, d.value(i))
		}
		st.Update(sc.ba, int64(nulls))
		st.IncNumValues(int64(len(c.idx) - d.len()))
		clear(sc.ba)
	}
	return w.WriteDictIndices(indices, def, nil)
}
