package parquet

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// The sinks hold the soft memory limit while any of them is open and
// restore the previous one when the last closes; GOMEMLIMIT wins.
func TestHoldMemory(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the sink leaves the limit alone")
	}
	before := debug.SetMemoryLimit(-1)
	a := holdMemory()
	if got := debug.SetMemoryLimit(-1); got != softLimit {
		t.Fatalf("limit with a sink open: %d, want %d", got, softLimit)
	}
	b := holdMemory()
	a()
	a() // twice is once
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got < softLimit || got == math.MaxInt64 {
		t.Fatalf("limit with one sink still open: %d", got)
	}
	b()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after the last sink closed: %d, want %d", got, before)
	}

	t.Setenv("GOMEMLIMIT", "off")
	c := holdMemory()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit with GOMEMLIMIT set: %d, want %d", got, before)
	}
	c()
}
