package once

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestFirstOncePerKey: of many goroutines asking for the same keys, exactly
// one caller per key is first.
func TestFirstOncePerKey(t *testing.T) {
	var k Keys
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, key := range []string{"a", "b", "c"} {
				if k.First(key) {
					firsts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := firsts.Load(); n != 3 {
		t.Errorf("%d first callers for 3 keys, want 3", n)
	}
	if k.First("a") {
		t.Error("a key seen before was first again")
	}
}
