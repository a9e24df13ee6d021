package parquet

import (
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow is the window of the sink's zstd encoders. Parquet compresses
// each page on its own (about 1 MiB at most, arrow-go's default page size),
// so a match can never reach further back than a page: a larger window
// finds nothing more. arrow-go's own encoders keep zstd's default 8 MiB
// window, and each holds a 16 MiB history buffer for it, the largest single
// item of the sink's live heap; with 1 MiB it is 2 MiB. Every zstd reader
// decodes frames of any window.
const zstdWindow = 1 << 20

// zstdCodec is arrow-go's zstd codec with smaller encoders (see
// zstdWindow) kept from page to page, and without a checksum in each
// frame: a Parquet page's integrity is its page header's (optional) CRC,
// and a frame's xxhash of every uncompressed byte is work no Parquet reader
// asks for. Decoding and the streaming API are arrow-go's. arrow-go keeps
// its encoders in a sync.Pool, which the collector empties: each collection
// then cost a new encoder and its history buffer (393 MB of allocations per
// million rows, measured).
type zstdCodec struct {
	compress.Codec // arrow-go's, for everything but block encoding
	mu             sync.Mutex
	free           map[zstd.EncoderLevel][]*zstd.Encoder
}

// maxFreeEncoders bounds the idle encoders kept per level: one stream is
// written at a time, by one goroutine.
const maxFreeEncoders = 2

func init() {
	orig, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(err)
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdCodec{Codec: orig, free: map[zstd.EncoderLevel][]*zstd.Encoder{}})
}

// DecodeWithError is arrow-go's, so malformed input is an error, not a
// panic.
func (z *zstdCodec) DecodeWithError(dst, src []byte) ([]byte, error) {
	if ec, ok := z.Codec.(compress.ErrorCodec); ok {
		return ec.DecodeWithError(dst, src)
	}
	return compress.Decode(z.Codec, dst, src)
}

// NewReader, NewWriter and NewWriterLevel are arrow-go's streaming API,
// which its readers use when a codec offers it.
func (z *zstdCodec) NewReader(r io.Reader) io.ReadCloser {
	return z.Codec.(compress.StreamingCodec).NewReader(r)
}

func (z *zstdCodec) NewWriter(w io.Writer) io.WriteCloser {
	return z.Codec.(compress.StreamingCodec).NewWriter(w)
}

func (z *zstdCodec) NewWriterLevel(w io.Writer, level int) (io.WriteCloser, error) {
	return z.Codec.(compress.StreamingCodec).NewWriterLevel(w, level)
}

func (z *zstdCodec) get(level zstd.EncoderLevel) *zstd.Encoder {
	z.mu.Lock()
	if free := z.free[level]; len(free) > 0 {
		enc := free[len(free)-1]
		z.free[level] = free[:len(free)-1]
		z.mu.Unlock()
		return enc
	}
	z.mu.Unlock()
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true),
		zstd.WithWindowSize(zstdWindow), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(err) // the options are constants
	}
	return enc
}

func (z *zstdCodec) put(level zstd.EncoderLevel, enc *zstd.Encoder) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.free[level]) < maxFreeEncoders {
		z.free[level] = append(z.free[level], enc)
	}
}

// Encode compresses one page at zstd's default level.
func (z *zstdCodec) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel compresses one page at level.
func (z *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.EncoderLevelFromZstd(level)
	if level == compress.DefaultCompressionLevel {
		l = zstd.SpeedDefault
	}
	enc := z.get(l)
	defer z.put(l, enc)
	return enc.EncodeAll(src, dst[:0])
}
