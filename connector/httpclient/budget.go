package httpclient

import (
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
// peaks near 300 MiB, inside a 512 MiB pod (TestHugeBodiesStayInBudget).
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
// a read's CPU. Without one (a gzipped answer), the buffer doubles, each
// growth reserved before it is made. It reads into buf instead when buf's
// capacity holds the first buffer (see Request.Buffer).
func readBody(body io.Reader, length, limit int64, budget *Budget, buf []byte) (b []byte, held int64, err error) {
	n := length
	if n > limit {
		return nil, 0, errTooLarge{announced: n}
	}
	size := n + 1 // +1: room to see EOF without growing
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
		b = buf[:0]
	} else {
		b = make([]byte, 0, size)
	}
	r := io.LimitReader(body, limit+1)
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return nil, held, errTooLarge{announced: -1}
			}
			grown := min(2*int64(cap(b)), limit+1)
			if !budget.take(grown) {
				return nil, held, errBudget{limit: budget.limit, read: int64(len(b))}
			}
			nb := make([]byte, len(b), grown)
			copy(nb, b)
			budget.give(held)
			b, held = nb, grown
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			if int64(len(b)) > limit {
				return nil, held, errTooLarge{announced: -1}
			}
			return b, held, nil
		}
		if err != nil {
			return b, held, err
		}
	}
}
