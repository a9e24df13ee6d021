package parquet

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// softLimit is the soft memory limit (runtime/debug.SetMemoryLimit) the
// sinks keep while they are open, unless GOMEMLIMIT is set: the process's
// Go memory is held near softLimit while the live heap is small, instead of
// growing to twice the live heap between collections (Go's default,
// GOGC=100). The sink's own live heap is about 30 MiB (two row groups of
// RowGroupBytes in Arrow builders, the zstd encoder, the file's row group
// metadata), the read's about 15 MiB more; without the limit the heap
// reached 130 MiB before a collection on a million Pluggy transactions,
// with it the process peaked at 89 MB RSS. The limit follows the live heap
// (it is never below twice the live heap measured at the last collection),
// so a read whose live heap is large, such as a connector holding a whole
// account's transactions, collects no more often than without it.
const softLimit = 64 << 20

var memLimit struct {
	mu    sync.Mutex
	users int   // open Sinks
	prev  int64 // the limit before the first of them
	gen   int   // bumped when the last closes, which stops the tick
}

// holdMemory sets the soft limit for an opened Sinks; the returned func,
// called at Close, restores the previous limit once no Sinks is open.
func holdMemory() (release func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	memLimit.mu.Lock()
	defer memLimit.mu.Unlock()
	memLimit.users++
	if memLimit.users == 1 {
		memLimit.prev = debug.SetMemoryLimit(softLimit)
		memLimit.gen++
		armTick(memLimit.gen)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			memLimit.mu.Lock()
			defer memLimit.mu.Unlock()
			memLimit.users--
			if memLimit.users == 0 {
				memLimit.gen++
				debug.SetMemoryLimit(memLimit.prev)
			}
		})
	}
}

// armTick runs followLive after the next garbage collection, and again
// after every one until generation gen ends.
func armTick(gen int) {
	t := new([16]byte) // a finalizer needs an object of non-zero size
	runtime.SetFinalizer(t, func(*[16]byte) {
		memLimit.mu.Lock()
		defer memLimit.mu.Unlock()
		if memLimit.gen != gen {
			return
		}
		followLive()
		armTick(gen)
	})
}

var liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// followLive sets the limit from the live heap measured at the last
// collection: softLimit, or twice the live heap less half of softLimit,
// whichever is larger. Go's default (GOGC=100) lets the heap reach twice
// the live heap; up to 32 MiB live the limit holds it at 64 MiB, and beyond
// it the limit rises twice as fast as the live heap, approaching the
// default, so a large live heap is not collected over and over (at 100 MiB
// live a collection comes after 68 MiB of allocation instead of 100).
// Called with memLimit.mu held.
func followLive() {
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := liveSample[0].Value.Uint64()
	limit := int64(softLimit)
	if live > math.MaxInt64/4 {
		limit = math.MaxInt64
	} else if l := 2*int64(live) - softLimit/2; l > limit {
		limit = l
	}
	debug.SetMemoryLimit(limit)
}
