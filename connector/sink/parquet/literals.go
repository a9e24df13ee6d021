package parquet

import (
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/klauspost/compress/huff0"
)

// appendLiteralsFrame appends to dst a zstd frame (RFC 8878) of src whose
// blocks hold literals only, Huffman-coded, and no sequences: zstd without
// its match search. Any zstd reader decodes it like any other frame.
//
// Columns of random text find almost no matches: a million transaction ids,
// hex UUIDs, are 40 MB, of which zstd's level 1 made 20.3 MB in 210 ms of
// the encoding goroutine's CPU, most of it the search, and Huffman coding
// alone 21.3 MB in 67 ms. fileWriter.compressPage chooses, per column, which
// one a page gets.
//
// Each block is at most zstd's 128 KiB and has a Huffman table of its own:
// reusing the last one (a treeless block), which zstd's encoder allows
// where it is smaller, was never smaller on pages of ids, and no faster.
// A block Huffman coding would not shrink is stored raw, and a block of one
// byte repeated as RLE.
func appendLiteralsFrame(dst, src []byte, h *huff0.Scratch) []byte {
	dst = appendFrameHeader(dst, len(src))
	if len(src) == 0 {
		return appendBlockHeader(dst, blockRaw, 0, true)
	}
	h.Reuse = huff0.ReusePolicyNone // every block has its own table
	for len(src) > 0 {
		lits := src[:min(len(src), maxBlockSize)]
		src = src[len(lits):]
		dst = appendLiteralsBlock(dst, lits, len(src) == 0, h)
	}
	return dst
}

// maxBlockSize is zstd's Block_Maximum_Size.
const maxBlockSize = 128 << 10

// zstd's block types (Block_Type) and literals block types
// (Literals_Block_Type).
const (
	blockRaw        = 0
	blockRLE        = 1
	blockCompressed = 2

	literalsCompressed = 2 // Huffman-coded, with its table
)

// appendFrameHeader appends a frame header without checksum or dictionary
// for size bytes of content. Like zstd's own encoder with the sink's
// options (see zstdWindow), a page of up to the window is a single segment,
// and a larger one declares the window.
func appendFrameHeader(dst []byte, size int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 0xFD2FB528)
	single := size <= zstdWindow
	var fcs byte // Frame_Content_Size_flag: the size's field, 1, 2, 4 or 8 bytes
	switch {
	case size < 256 && single:
		fcs = 0
	case size < 1<<16+256:
		fcs = 1
	case size < 1<<32:
		fcs = 2
	default:
		fcs = 3
	}
	descriptor := fcs << 6
	if single {
		descriptor |= 1 << 5
	}
	dst = append(dst, descriptor)
	if !single {
		// Window_Descriptor: exponent log2(window)-10, mantissa 0.
		dst = append(dst, byte(bits.Len(zstdWindow-1)-10)<<3)
	}
	switch fcs {
	case 0:
		return append(dst, byte(size))
	case 1:
		return binary.LittleEndian.AppendUint16(dst, uint16(size-256))
	case 2:
		return binary.LittleEndian.AppendUint32(dst, uint32(size))
	default:
		return binary.LittleEndian.AppendUint64(dst, uint64(size))
	}
}

// appendBlockHeader appends a block's header: its last flag, type and
// size (the content's, or for RLE the bytes it stands for).
func appendBlockHeader(dst []byte, typ, size int, last bool) []byte {
	v := uint32(typ)<<1 | uint32(size)<<3
	if last {
		v |= 1
	}
	return append(dst, byte(v), byte(v>>8), byte(v>>16))
}

// appendLiteralsBlock appends one block of lits, at most maxBlockSize bytes.
func appendLiteralsBlock(dst, lits []byte, last bool, h *huff0.Scratch) []byte {
	var out []byte
	err := huff0.ErrIncompressible
	// One Huffman stream is for fewer than 1,024 literals (its sizes are
	// 10 bits), four streams for more; too few are not worth a table.
	single := len(lits) < 1024
	switch {
	case !single:
		out, _, err = huff0.Compress4X(lits, h)
	case len(lits) > 16:
		out, _, err = huff0.Compress1X(lits, h)
	}
	if err == nil && len(out)+literalsHeaderSize(len(lits), len(out)) >= len(lits) {
		err = huff0.ErrIncompressible
	}
	switch {
	case errors.Is(err, huff0.ErrUseRLE):
		dst = appendBlockHeader(dst, blockRLE, len(lits), last)
		return append(dst, lits[0])
	case err != nil:
		// Incompressible, or any other reason Huffman coding gave up:
		// the block is stored as it is.
		dst = appendBlockHeader(dst, blockRaw, len(lits), last)
		return append(dst, lits...)
	}
	size := literalsHeaderSize(len(lits), len(out)) + len(out) + 1
	dst = appendBlockHeader(dst, blockCompressed, size, last)
	dst = appendLiteralsHeader(dst, len(lits), len(out), single)
	dst = append(dst, out...)
	return append(dst, 0) // Number_of_Sequences: none
}

// literalsHeaderSize is the size of a Huffman-coded literals section's
// header: 3, 4 or 5 bytes, for sizes of 10, 14 or 18 bits.
func literalsHeaderSize(regenerated, compressed int) int {
	switch n := max(regenerated, compressed); {
	case n < 1<<10:
		return 3
	case n < 1<<14:
		return 4
	default:
		return 5
	}
}

// appendLiteralsHeader appends a Huffman-coded literals section's header:
// its type (with its own table), Size_Format (one stream, or four and the
// sizes' width), and the regenerated and compressed sizes.
func appendLiteralsHeader(dst []byte, regenerated, compressed int, single bool) []byte {
	n := literalsHeaderSize(regenerated, compressed)
	width := []int{3: 10, 4: 14, 5: 18}[n]
	format := n - 2 // 1, 2 or 3: four streams
	if single {
		format = 0 // one stream: sizes of 10 bits
	}
	v := uint64(literalsCompressed) | uint64(format)<<2 | uint64(regenerated)<<4 | uint64(compressed)<<(4+width)
	for i := range n {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}
