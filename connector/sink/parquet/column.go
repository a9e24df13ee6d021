package parquet

import (
	"encoding/binary"
	"fmt"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
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
	bytes []byte  // pBytes: the values back to back; pFixed16: 16 bytes each
	ends  []int   // pBytes: where each value ends in bytes
	i64   []int64 // pInt64
	i32   []int32 // pInt32
	bools []bool  // pBool

	// scratch for the encoding goroutine: the values as the column writer
	// takes them.
	ba   []pq.ByteArray
	flba []pq.FixedLenByteArray
}

// levels appends one entry's levels.
func (c *column) levels(def, rep int16) {
	c.def = append(c.def, def)
	if c.maxRep > 0 {
		c.rep = append(c.rep, rep)
	}
}

// null appends a null at definition level def (below maxDef).
func (c *column) null(def, rep int16) { c.levels(def, rep) }

func (c *column) appendBytes(v []byte, rep int16) {
	c.levels(c.maxDef, rep)
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

// mark is a column's length, to truncate it back to.
type mark struct{ def, rep, bytes, ends, i64, i32, bools int }

func (c *column) mark() mark {
	return mark{len(c.def), len(c.rep), len(c.bytes), len(c.ends), len(c.i64), len(c.i32), len(c.bools)}
}

func (c *column) truncate(m mark) {
	c.def, c.rep, c.bytes, c.ends = c.def[:m.def], c.rep[:m.rep], c.bytes[:m.bytes], c.ends[:m.ends]
	c.i64, c.i32, c.bools = c.i64[:m.i64], c.i32[:m.i32], c.bools[:m.bools]
}

// size is the bytes the column holds for the row group: what encoding it
// will read.
func (c *column) size() int {
	return len(c.bytes) + 8*len(c.ends) + 8*len(c.i64) + 4*len(c.i32) + len(c.bools) + 2*len(c.def) + 2*len(c.rep)
}

func (c *column) reset() { c.truncate(mark{}) }

// write encodes the column as the row group's next column chunk.
func (c *column) write(cw file.ColumnChunkWriter) error {
	var rep []int16
	if c.maxRep > 0 {
		rep = c.rep
	}
	var err error
	switch w := cw.(type) {
	case *file.ByteArrayColumnChunkWriter:
		c.ba = c.ba[:0]
		start := 0
		for _, end := range c.ends {
			c.ba = append(c.ba, c.bytes[start:end:end])
			start = end
		}
		_, err = w.WriteBatch(c.ba, c.def, rep)
		clear(c.ba) // no pointers into a row group kept past it
	case *file.Int64ColumnChunkWriter:
		_, err = w.WriteBatch(c.i64, c.def, rep)
	case *file.Int32ColumnChunkWriter:
		_, err = w.WriteBatch(c.i32, c.def, rep)
	case *file.BooleanColumnChunkWriter:
		_, err = w.WriteBatch(c.bools, c.def, rep)
	case *file.FixedLenByteArrayColumnChunkWriter:
		c.flba = c.flba[:0]
		for i := 0; i+16 <= len(c.bytes); i += 16 {
			c.flba = append(c.flba, c.bytes[i:i+16:i+16])
		}
		_, err = w.WriteBatch(c.flba, c.def, rep)
		clear(c.flba)
	default:
		err = fmt.Errorf("column writer %T for a %d column", cw, c.phys)
	}
	if err != nil {
		return err
	}
	return cw.Close()
}
