package parquet

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bufferPool is the memory.Allocator of a stream's column writers: it hands
// out page buffers freed by earlier column chunks instead of new ones.
// Without it every column chunk allocates its buffers afresh, doubling each
// as it grows, and the garbage keeps the collector busy and the heap's peak
// high. A buffer comes back when its column chunk is written.
//
// Buffers are powers of two of at least 64 bytes, 64-byte aligned as Arrow
// wants, and zeroed when handed out, as Go's allocator would: arrow-go's
// buffers may rely on it, and bytes of an earlier row group must never show
// through. Safe for concurrent use.
type bufferPool struct {
	mu   sync.Mutex
	free [maxPoolClass + 1][][]byte
}

const (
	minPoolClass = 6  // 64 bytes
	maxPoolClass = 30 // 1 GiB; larger buffers are not pooled
	// maxPoolPerClass bounds the buffers kept per size: a stream's
	// column writers hold about one buffer per column and size at a time.
	maxPoolPerClass = 256
)

var _ memory.Allocator = (*bufferPool)(nil)

func poolClass(size int) int {
	if size <= 1<<minPoolClass {
		return minPoolClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes.
func (p *bufferPool) Allocate(size int) []byte {
	c := poolClass(size)
	if c > maxPoolClass {
		return memory.DefaultAllocator.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.mu.Unlock()
		clear(b)
		return b[:size]
	}
	p.mu.Unlock()
	b := make([]byte, 1<<c)
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 != 0 {
		// Go places power-of-two objects at multiples of their size; a
		// runtime that did not would get unpooled, padded buffers.
		return memory.DefaultAllocator.Allocate(size)
	}
	return b[:size]
}

// Reallocate grows b to size, keeping its contents (and its buffer when it
// is large enough).
func (p *bufferPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a buffer Allocate handed out; others are left to the
// collector.
func (p *bufferPool) Free(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < minPoolClass || c > maxPoolClass || cap(b) != 1<<c ||
		uintptr(unsafe.Pointer(unsafe.SliceData(b)))%64 != 0 {
		return
	}
	p.mu.Lock()
	if len(p.free[c]) < maxPoolPerClass {
		p.free[c] = append(p.free[c], b[:cap(b)])
	}
	p.mu.Unlock()
}
