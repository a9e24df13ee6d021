package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// Holders stack: the largest floor applies while held, the limit follows
// the live heap after a collection, the previous limit comes back when the
// last releases, and GOMEMLIMIT wins.
func TestHold(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: Hold leaves the limit alone")
	}
	const small, large = 32 << 20, 64 << 20
	before := debug.SetMemoryLimit(-1)
	a := Hold(small)
	if got := debug.SetMemoryLimit(-1); got != small {
		t.Fatalf("limit with one holder of %d: %d", small, got)
	}
	b := Hold(large)
	if got := debug.SetMemoryLimit(-1); got != large {
		t.Fatalf("limit with holders of %d and %d: %d, want the larger", small, large, got)
	}
	b()
	b() // twice is once
	if got := debug.SetMemoryLimit(-1); got != small {
		t.Fatalf("limit once the larger floor is released: %d, want %d", got, small)
	}
	runtime.GC()
	runtime.GC() // the finalizer of the first collection has run by the second's end
	if got := debug.SetMemoryLimit(-1); got < small || got == math.MaxInt64 {
		t.Fatalf("limit following the live heap: %d", got)
	}
	a()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after the last holder released: %d, want %d", got, before)
	}

	t.Setenv("GOMEMLIMIT", "off")
	c := Hold(large)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit with GOMEMLIMIT set: %d, want %d", got, before)
	}
	c()
}

// A live heap over half the floor raises the limit to at least twice the
// live heap less half the floor (the memory in use, at least the live
// heap, plus the live heap less half the floor).
func TestFollowLiveRaisesTheLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: Hold leaves the limit alone")
	}
	const floor = 8 << 20
	release := Hold(floor)
	defer release()
	keep := make([]byte, 24<<20)
	runtime.GC()
	state.mu.Lock()
	followLive()
	got := debug.SetMemoryLimit(-1)
	state.mu.Unlock()
	runtime.KeepAlive(keep)
	if got < 2*(24<<20)-floor/2 {
		t.Fatalf("limit with 24 MiB live and a floor of 8 MiB: %d, want at least %d", got, 2*(24<<20)-floor/2)
	}
}

// A live heap scattered among garbage keeps more spans than its bytes. The
// limit leaves room above the memory in use all the same, about the live
// heap less half the floor, where a limit of twice the live heap less half
// the floor fell under the memory in use (32 MiB live in about 130 MiB of
// spans: a limit of 60 MiB), and the collector ran over and over, each
// time freeing nothing it could give back.
func TestFragmentedHeapLeavesRoomToGrow(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: Hold leaves the limit alone")
	}
	keep := scattered()
	const floor = 8 << 20
	release := Hold(floor)
	defer release()
	runtime.GC()
	runtime.GC() // the finalizer of the first has set the limit by the second's end
	state.mu.Lock()
	limit := debug.SetMemoryLimit(-1)
	metrics.Read(samples)
	state.mu.Unlock()
	live := int64(samples[0].Value.Uint64())
	inUse := int64(samples[1].Value.Uint64() - samples[2].Value.Uint64() - samples[3].Value.Uint64())
	if inUse < 2*live {
		t.Skipf("the heap is not fragmented enough to tell: %d MiB in use for %d MiB live", inUse>>20, live>>20)
	}
	if want := inUse + live - floor/2 - 1<<20; limit < want {
		t.Errorf("limit %d MiB with %d MiB live in %d MiB in use: want at least %d MiB", limit>>20, live>>20, inUse>>20, want>>20)
	}
	runtime.KeepAlive(keep)
}

// scattered returns 32 MiB in 1 KiB objects, each allocated next to three
// that die when it returns (with collection off meanwhile, or the next ones
// would fill the holes of the first).
func scattered() [][]byte {
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	keep := make([][]byte, 0, 32<<10)
	dying := make([][]byte, 0, 96<<10)
	for range 32 << 10 {
		keep = append(keep, make([]byte, 1<<10))
		for range 3 {
			dying = append(dying, make([]byte, 1<<10))
		}
	}
	runtime.KeepAlive(dying)
	return keep
}
