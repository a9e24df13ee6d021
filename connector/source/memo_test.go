package source

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMemoFetchesOncePerKey(t *testing.T) {
	var m Memo[int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Get("a", func() (int, error) { calls.Add(1); return 7, nil })
			if v != 7 || err != nil {
				t.Errorf("Get = %d, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d fetches, want 1", calls.Load())
	}
	boom := errors.New("boom")
	for range 2 {
		if _, err := m.Get("b", func() (int, error) { calls.Add(1); return 0, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("a failed fetch was repeated: %d fetches", calls.Load())
	}
}
