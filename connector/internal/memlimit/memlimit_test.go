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

// A live heap over three quarters of the floor raises the limit to the
// live heap plus a quarter of it (at least a quarter of the floor): the
// headroom of GOGC=25, not Go's default of the live heap again.
func TestFollowLiveRaisesTheLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: Hold leaves the limit alone")
	}
	for _, floor := range []int64{8 << 20, 28 << 20} {
		release := Hold(floor)
		keep := make([]byte, 24<<20)
		runtime.GC()
		state.mu.Lock()
		followLive()
		got := debug.SetMemoryLimit(-1)
		debug.SetMemoryLimit(got)
		metrics.Read(liveSample)
		live := int64(liveSample[0].Value.Uint64())
		state.mu.Unlock()
		runtime.KeepAlive(keep)
		release()
		if want := live + max(floor/4, live/4); got != want || live < 24<<20 {
			t.Errorf("limit with %d MiB live and a floor of %d MiB: %.1f MiB, want %.1f", live>>20, floor>>20, float64(got)/(1<<20), float64(want)/(1<<20))
		}
	}
}
