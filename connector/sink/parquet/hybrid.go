package parquet

import "encoding/binary"

// hybrid encodes a sequence of small unsigned integers (definition and
// repetition levels, dictionary numbers) in Parquet's RLE / bit-packing
// hybrid encoding: a repeated value as a run (a count and the value), the
// rest bit-packed in groups of eight. It is fed runs, not values, because
// the converter keeps a column's levels as runs where it can (see
// column.run): a column absent from every row of a row group is one call,
// where arrow-go's encoder took each of its 65,536 levels one by one.
//
// Values are bit-packed until a run of at least eight equal values starts
// on a group boundary, as arrow-go and parquet-mr do; a bit-packed run holds
// at most maxLiteral values, so that its header is one byte as those
// writers' are.
type hybrid struct {
	dst   []byte
	width uint // bits a value takes, 1 to 32
	lit   [maxLiteral]uint32
	nlit  int
}

const maxLiteral = 63 * 8

// start begins an encoding appended to dst at width bits a value.
func (h *hybrid) start(dst []byte, width int) {
	h.dst, h.width, h.nlit = dst, uint(width), 0
}

// run encodes n copies of v.
func (h *hybrid) run(v uint32, n int) {
	// A bit-packed group in progress takes values until it is whole.
	for h.nlit%8 != 0 && n > 0 {
		h.lit[h.nlit] = v
		h.nlit++
		n--
	}
	if h.nlit == maxLiteral {
		h.flush()
	}
	if n >= 8 {
		h.flush()
		h.dst = binary.AppendUvarint(h.dst, uint64(n)<<1)
		for i := uint(0); i < (h.width+7)/8; i++ {
			h.dst = append(h.dst, byte(v>>(8*i)))
		}
		return
	}
	for ; n > 0; n-- {
		h.lit[h.nlit] = v
		h.nlit++
		if h.nlit == maxLiteral {
			h.flush()
		}
	}
}

// finish writes what is pending and returns dst with the encoding appended.
// The last bit-packed group is padded with zeros: the page says how many
// values it holds.
func (h *hybrid) finish() []byte {
	h.flush()
	dst := h.dst
	h.dst = nil
	return dst
}

// flush writes the pending values as one bit-packed run. Only finish
// flushes a partial group.
func (h *hybrid) flush() {
	if h.nlit == 0 {
		return
	}
	groups := (h.nlit + 7) / 8
	clear(h.lit[h.nlit : groups*8])
	h.dst = binary.AppendUvarint(h.dst, uint64(groups)<<1|1)
	h.dst = bitPack(h.dst, h.lit[:groups*8], h.width)
	h.nlit = 0
}

// bitPack appends vs (a multiple of eight of them) at width bits each,
// least significant bit first, as Parquet packs them.
func bitPack(dst []byte, vs []uint32, width uint) []byte {
	var acc uint64
	var n uint
	for _, v := range vs {
		acc |= uint64(v) << n
		n += width
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	return dst
}

// runs feeds h the values of vs, eight at a time where h is at the start
// of a group: eight equal values start (or extend) a run, and any other
// eight are a bit-packed group, copied whole. Feeding h each run found
// value by value took as long as the rest of a page's encoding: most
// levels and dictionary numbers change every few values.
func runs[T int16 | int32](h *hybrid, vs []T) {
	i := 0
	for h.nlit%8 != 0 && i < len(vs) { // finish the group in progress
		h.run(uint32(vs[i]), 1)
		i++
	}
	for i+8 <= len(vs) {
		g := vs[i : i+8 : i+8]
		v := g[0]
		if g[1] == v && g[2] == v && g[3] == v && g[4] == v && g[5] == v && g[6] == v && g[7] == v {
			j := i + 8
			for j < len(vs) && vs[j] == v {
				j++
			}
			h.run(uint32(v), j-i) // h is at the start of a group again
			i = j
			continue
		}
		lit := h.lit[h.nlit : h.nlit+8 : h.nlit+8]
		for k, x := range g {
			lit[k] = uint32(x)
		}
		h.nlit += 8
		if h.nlit == maxLiteral {
			h.flush()
		}
		i += 8
	}
	for ; i < len(vs); i++ {
		h.run(uint32(vs[i]), 1)
	}
}
