package parquet

import (
	"bytes"
	"hash/maphash"
)

// dictionary is a row group's distinct values of one string column, in
// the order they first appeared, and the hash set that finds a value's
// number. A dictionary column keeps a number per value instead of its
// bytes, and its column chunk is written from the dictionary and the
// numbers (chunk.dictionaryPage, chunk.encode), where arrow-go's dictionary
// encoder hashed every value again, through an interface conversion that
// allocates (340 MB per million Pluggy transactions, 11% of the sink's CPU
// with the collection it caused).
//
// The hash set is written here rather than a map[string]int32 because a
// map copies every new value into a key string, a garbage row group after
// row group: a million transactions to Parquet took 5.40 - 5.93 user CPU s
// with the hash set and 5.58 - 6.37 with a map (four runs each,
// alternating, the binary at b3a361e), and BenchmarkDictionary has it 15%
// faster per value.
// FuzzDictionary checks it against a map.
type dictionary struct {
	offs   []int32  // offs[i]:offs[i+1] is value i in data; offs[0] is 0
	data   []byte   // the values back to back
	hashes []uint64 // of each value
	slots  []int32  // open addressing: value number + 1, 0 when free
	seed   maphash.Seed
	// last is the number intern returned last, -1 for none: rows come
	// grouped by account, so an account's id, its currency, a status
	// repeat row after row, and a comparison is cheaper than a hash.
	// lastLen and lastText are its length and first bytes, kept here so
	// that the comparison reads the dictionary's own struct, not offs and
	// data, which the row's other twenty-odd dictionaries have evicted by
	// the next row: reading them was over half of intern's time, and
	// intern took 0.98 CPU s in three reads of 1,000,000 Pluggy
	// transactions to Parquet before, 0.76 after (profiles of the binary,
	// dev/cpuprofile).
	last     int32
	lastLen  int32
	lastText [lastInline]byte
}

// lastInline is the length of lastText: a UUID (36 bytes) fits.
const lastInline = 40

func newDictionary() *dictionary {
	// data is never nil: a value is a slice of it, and an empty one must
	// be "" (empty), not nil, which statistics take for no value.
	return &dictionary{offs: []int32{0}, data: make([]byte, 0, 64), seed: maphash.MakeSeed(), last: -1}
}

// len is the number of distinct values.
func (d *dictionary) len() int { return len(d.offs) - 1 }

func (d *dictionary) value(i int32) []byte { return d.data[d.offs[i]:d.offs[i+1]] }

// intern returns v's number, adding v if it is new.
func (d *dictionary) intern(v []byte) int32 {
	if d.last >= 0 && int(d.lastLen) == len(v) {
		if len(v) <= lastInline {
			if string(d.lastText[:len(v)]) == string(v) {
				return d.last
			}
		} else if string(d.lastText[:]) == string(v[:lastInline]) && bytes.Equal(d.value(d.last)[lastInline:], v[lastInline:]) {
			return d.last
		}
	}
	d.last = d.find(v)
	d.lastLen = int32(len(v))
	copy(d.lastText[:], v)
	return d.last
}

// find returns v's number, adding v if it is new.
func (d *dictionary) find(v []byte) int32 {
	if 2*(d.len()+1) > len(d.slots) {
		d.rehash(max(64, 2*len(d.slots)))
	}
	h := maphash.Bytes(d.seed, v)
	mask := len(d.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			n := int32(d.len())
			d.data = append(d.data, v...)
			d.offs = append(d.offs, int32(len(d.data)))
			d.hashes = append(d.hashes, h)
			d.slots[i] = n + 1
			return n
		}
		if d.hashes[s-1] == h && bytes.Equal(d.value(s-1), v) {
			return s - 1
		}
	}
}

// rehash rebuilds the slots, size of them (a power of two), from the
// values.
func (d *dictionary) rehash(size int) {
	if cap(d.slots) >= size {
		d.slots = d.slots[:size]
		clear(d.slots)
	} else {
		d.slots = make([]int32, size)
	}
	mask := size - 1
	for n, h := range d.hashes {
		i := int(h) & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = int32(n) + 1
	}
}

// truncate forgets the values numbered n and above: those a value taken
// back added (see converter.member), which no row refers to.
func (d *dictionary) truncate(n int) {
	if n >= d.len() {
		return
	}
	d.offs, d.hashes = d.offs[:n+1], d.hashes[:n]
	d.data = d.data[:d.offs[n]]
	d.last = -1
	d.rehash(len(d.slots))
}

// reset empties the dictionary for the next row group, keeping its memory.
func (d *dictionary) reset() {
	d.offs, d.data, d.hashes = d.offs[:1], d.data[:0], d.hashes[:0]
	clear(d.slots)
	d.last = -1
}

// size is the memory the dictionary holds.
func (d *dictionary) size() int {
	return len(d.data) + 4*len(d.offs) + 8*len(d.hashes) + 4*len(d.slots)
}

// dataSize is the size of its dictionary page, before compression: each
// value and its 4-byte length.
func (d *dictionary) dataSize() int { return len(d.data) + 4*d.len() }
