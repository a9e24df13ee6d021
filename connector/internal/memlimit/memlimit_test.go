package memlimit

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
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

// A live heap over half the floor raises the limit to twice the live heap
// less half the floor.
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
