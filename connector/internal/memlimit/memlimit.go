// Package memlimit holds a process's Go heap near a floor while a sink is
// open, instead of letting it grow to twice the live heap between
// collections (Go's default, GOGC=100).
//
// A sink's live heap is small and flat, but a read's is not: the
// transactions state, with the ids of every row inside the re-read window,
// grows with the rows read (3 MB of JSON at 1,000,000 Pluggy transactions,
// several copies of it in flight between the stream and the sinks). Under
// GOGC alone every megabyte of it costs two of peak RSS. A soft limit
// (runtime/debug.SetMemoryLimit) makes the collector work against a fixed
// budget instead while the live heap fits in it, which costs some CPU in
// collections, on a second core the read mostly leaves idle. A live heap
// too large for the floor raises the limit (see followLive), so that
// collections come no more than about four times as often as Go's
// default would have them.
//
// GOMEMLIMIT, when set, wins: Hold then leaves the limit alone.
package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
)

var state struct {
	mu     sync.Mutex
	floors []int64 // the floor of each holder
	floor  int64   // the largest of them
	prev   int64   // the limit before the first holder
	gen    int     // bumped when the last releases, which stops the tick
}

// Hold keeps the soft memory limit at floor bytes, or higher as the live
// heap requires (see followLive), until release is called. Holders stack:
// the largest floor of those not released applies, and the limit before
// the first is restored once every one is released. release may be called
// more than once.
func Hold(floor int64) (release func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if len(state.floors) == 0 {
		state.prev = debug.SetMemoryLimit(-1)
		state.gen++
		armTick(state.gen)
	}
	state.floors = append(state.floors, floor)
	setFloor()
	var once sync.Once
	return func() {
		once.Do(func() {
			state.mu.Lock()
			defer state.mu.Unlock()
			i := slices.Index(state.floors, floor)
			state.floors = slices.Delete(state.floors, i, i+1)
			if len(state.floors) == 0 {
				state.gen++
				debug.SetMemoryLimit(state.prev)
				return
			}
			setFloor()
		})
	}
}

// setFloor sets the limit to the largest holder's floor. Called with
// state.mu held and at least one holder.
func setFloor() {
	state.floor = slices.Max(state.floors)
	debug.SetMemoryLimit(state.floor)
}

// armTick runs followLive after the next garbage collection, and again
// after every one until generation gen ends.
func armTick(gen int) {
	t := new([16]byte) // a finalizer needs an object of non-zero size
	runtime.SetFinalizer(t, func(*[16]byte) {
		state.mu.Lock()
		defer state.mu.Unlock()
		if state.gen != gen {
			return
		}
		followLive()
		armTick(gen)
	})
}

var liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// followLive sets the limit from the live heap measured at the last
// collection: the floor, or the live heap plus a quarter of it (at least a
// quarter of the floor), whichever is larger. Go's default (GOGC=100) lets
// the heap reach twice the live heap; up to three quarters of the floor
// live, the limit holds it at the floor, and beyond, it leaves the
// collector the headroom GOGC=25 would. A read's live heap passes the
// floor when it holds large answers: a GoCardless account's whole history
// is one body, and four accounts are read at once, 40 – 65 MiB live at
// 10,000 rows an account. The limit this replaced, twice the live heap
// less half the floor, let such a read's heap reach 100 MiB and its RSS
// 112 – 119 MB at a million rows; this one holds them to about 70 MiB and
// 91 – 97 MB, for 2% more CPU (docs/performance.md#gocardless-transactions).
// A collection then comes after a quarter of the live heap is allocated,
// not all of it, which bounds the collector's extra work to about four
// times Go's default however large the live heap grows. Called with
// state.mu held.
func followLive() {
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := liveSample[0].Value.Uint64()
	limit := state.floor
	if live > math.MaxInt64/4 {
		limit = math.MaxInt64
	} else if l := int64(live) + max(state.floor/4, int64(live)/4); l > limit {
		limit = l
	}
	debug.SetMemoryLimit(limit)
}
