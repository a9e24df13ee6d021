package parquet

import (
	"encoding/binary"
	"slices"
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
// and repetition levels and its non-null values, what a Parquet page holds
// (pages.go encodes them). The converter appends to it straight from the
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

// null appends a null at definition level def (below maxDef).
func (c *column) null(def, rep int16) { c.levels(def, rep) }

// nulls appends n nulls at definition level def, of a column without
// repetition levels.
func (c *column) nulls(def int16, n int) {
	if def != c.runLevel {
		c.storeLevels(def, 0)
		n--
	}
	c.run += n
}

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
// of values that hardly repeat is hashed value by value and written as a
// page as large as the values, for no saving that zstd would not make on
// the plain values anyway. A chunk of
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
