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
// collections, on a second core the read mostly leaves idle; it never
// forces more: the limit follows the live heap (see followLive), so a read
// whose live heap is large collects no more often than without it.
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
// collection: the floor, or twice the live heap less half the floor,
// whichever is larger. Go's default (GOGC=100) lets the heap reach twice
// the live heap; up to half the floor live, the limit holds it at the
// floor, and beyond it the limit rises twice as fast as the live heap,
// approaching the default, so a large live heap is not collected over and
// over (with a 64 MiB floor and 100 MiB live, a collection comes after 68
// MiB of allocation instead of 100). Called with state.mu held.
func followLive() {
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := liveSample[0].Value.Uint64()
	limit := state.floor
	if live > math.MaxInt64/4 {
		limit = math.MaxInt64
	} else if l := 2*int64(live) - state.floor/2; l > limit {
		limit = l
	}
	debug.SetMemoryLimit(limit)
}
