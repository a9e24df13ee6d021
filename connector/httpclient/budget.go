package httpclient

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Budget bounds the bytes of response bodies held at once by every Client
// sharing it, so that concurrent workers reading large pages cannot add up
// to more memory than the process has: a per-response cap alone let four
// accounts answering 200 MB each peak at 1.26 GB.
//
// A body holds its share from the moment it is read until Client.Do returns,
// which covers the Accept hook's decoding; the caller's copy of the bytes
// afterwards is the caller's (a page of rows, released as they are emitted).
type Budget struct {
	mu          sync.Mutex
	limit, used int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Bodies is the process's budget, used by every Client New returns: 96 MiB,
// room for dozens of the largest real pages (a Pluggy page of 500
// transactions is about 1 MB) and for one body at MaxBody. Go's collector
// lets the heap reach about twice what is live, so a read under attack
// could peak near 300 MiB, inside a 512 MiB pod; bodies of 200 MB or
// endless, announced or not, peak at 31 – 123 MiB
// (TestHugeBodiesStayInBudget).
var Bodies = NewBudget(96 << 20)

// take reserves n bytes, or reports that they would pass the limit.
func (b *Budget) take(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// give returns n reserved bytes.
func (b *Budget) give(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// TooLargeError is a response body over Client.MaxBody: far larger than any
// real page, so a broken or hostile server. It is not retried.
type TooLargeError struct {
	Route string
	Limit int64
	// Announced is the Content-Length, or -1 when the body was cut off
	// reading.
	Announced int64
}

func (e *TooLargeError) Error() string {
	size := "more"
	if e.Announced >= 0 {
		size = fmt.Sprintf("%d bytes", e.Announced)
	}
	return fmt.Sprintf("%s: the response body is %s than %d MiB, far larger than any real page; the connector stopped reading it so that a broken or hostile server cannot exhaust memory", e.Route, size, e.Limit>>20)
}

// Class is permanent: the same request would get the same body.
func (e *TooLargeError) Class() Class { return Permanent }

// errBudget is a body that would pass the Budget while others are read: a
// transient failure, retried once they are done.
type errBudget struct{ limit, read int64 }

func (e errBudget) Error() string {
	return fmt.Sprintf("after %d MiB of this body, the response bodies being read at once would pass the process's %d MiB budget for them (a broken or hostile server sending pages far larger than any real one)", e.read>>20, e.limit>>20)
}

// errTooLarge is readBody's signal that the body passed the limit.
type errTooLarge struct{ announced int64 }

func (errTooLarge) Error() string { return "response body over the limit" }

// readBody reads a body of at most limit bytes, reserving what it holds from
// budget; held is what the caller gives back when done with the bytes.
// length is the body's Content-Length, -1 when unknown. With a
// Content-Length it reads into one buffer of that size: io.ReadAll's
// doubling copied a 360 KB transactions page about ten times over, ~12% of
// a read's CPU. Without one (a gzipped or chunked answer) it reads into a
// first buffer of 32 KiB, which holds most answers, and the rest of a
// larger body into pooled pieces, joined at the end into one buffer of
// the body's exact size (see readRest). It reads into buf instead when
// buf's capacity holds the first buffer (see Request.Buffer).
func readBody(body io.Reader, length, limit int64, budget *Budget, buf []byte) (b []byte, held int64, err error) {
	n := length
	if n > limit {
		return nil, 0, errTooLarge{announced: n}
	}
	size := n + 1 // +1: room to see EOF without reading on
	if n < 0 {
		size = 32 << 10
	}
	size = min(size, limit+1)
	if int64(cap(buf)) >= size {
		size = int64(cap(buf)) // held whole: it is all the body's
	} else {
		buf = nil
	}
	if !budget.take(size) {
		return nil, 0, errBudget{limit: budget.limit}
	}
	held = size
	if buf != nil {
		b = buf[:size]
	} else {
		b = make([]byte, size)
	}
	r := io.LimitReader(body, limit+1)
	m, err := fill(r, b)
	b = b[:m]
	switch {
	case errors.Is(err, io.EOF):
		if int64(len(b)) > limit {
			return nil, held, errTooLarge{announced: -1}
		}
		return b, held, nil
	case err != nil:
		return b, held, err
	}
	return readRest(r, b, held, limit, budget)
}

// pieceSize is the size of the pieces readRest reads into.
const pieceSize = 256 << 10

// pieces keeps readRest's pieces from body to body: they are garbage the
// moment the body is joined.
var pieces = sync.Pool{New: func() any { return new([pieceSize]byte) }}

// readRest reads the rest of a body whose first buffer, first, is full:
// into pieces from a pool, then joined into one buffer of the body's exact
// size. A body of N bytes costs N of new memory and 2N at the join; the
// doubling buffer it replaced allocated about 2N in all, peaked at up to
// 3N, kept up to N of slack for as long as the body lived (the rows of a
// GoCardless answer are slices of it), and could not pass 32 MiB in the
// budget. held is what first holds of the budget; the result holds the
// body's exact size, each piece reserved while it is read.
func readRest(r io.Reader, first []byte, held, limit int64, budget *Budget) ([]byte, int64, error) {
	var rest []*[pieceSize]byte
	defer func() {
		for _, p := range rest {
			pieces.Put(p)
		}
	}()
	total := int64(len(first))
	last := 0 // bytes in the last piece
	for {
		if total > limit {
			return nil, held, errTooLarge{announced: -1}
		}
		if !budget.take(pieceSize) {
			return nil, held, errBudget{limit: budget.limit, read: total}
		}
		held += pieceSize
		p := pieces.Get().(*[pieceSize]byte)
		rest = append(rest, p)
		m, err := fill(r, p[:])
		total += int64(m)
		last = m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, held, err
		}
	}
	if total > limit {
		return nil, held, errTooLarge{announced: -1}
	}
	// The pieces' reservation becomes the joined body's. For the moment of
	// the copy the body is in memory twice, which the budget does not
	// count: at most MaxBody more, and the pieces go back to the pool at
	// once. Reserving both would refuse every body over half the budget
	// (48 MiB), alone or not, and a refusal is retried: a GoCardless
	// account's whole history that size would spend its day's calls and
	// fail.
	budget.give(held - total)
	b := make([]byte, total)
	n := copy(b, first)
	for i, p := range rest {
		if i == len(rest)-1 {
			copy(b[n:], p[:last])
			break
		}
		n += copy(b[n:], p[:])
	}
	return b, total, nil
}

// readSize bounds each read of a body. Over HTTPS it changes nothing: a
// read returns at most one TLS record, 16 KiB. Over plain HTTP (a proxy, or
// the fakes on loopback) one read could copy the socket's whole backlog,
// hundreds of KiB, and a 1,000,000-row read to --parquet-dir, which keeps
// both cores busy, was slower so: 2.58 against 2.45 s and 4.15 against
// 3.98 CPU s (medians of 10 alternating reads of one fake; faster in 8),
// and in pluggy-bench 2.47 - 2.55 s against 2.33 - 2.54 s and 75 against
// 72 MB peak RSS (two sets of 3 each). JSON lines, which leaves a core
// idle, took 1.44 s either way. 16 and 32 KiB were no faster, 128 and 256
// KiB in between. Why is not proven; a guess: the smaller copy evicts less
// of what the read's other goroutines have in cache.
const readSize = 64 << 10

// fill reads into p until it is full (a nil error) or the body ends
// (io.EOF, p perhaps part full) or fails, at most readSize at a time.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:min(len(p), n+readSize)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
