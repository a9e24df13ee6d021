package eventlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAppendsShareAnFsync: a burst of concurrent appends (Pluggy
// delivers its daily sync's events many at a time) is written in batches,
// one fsync each, where every append was written and fsynced alone, the
// last of a burst answered after the sum of every fsync before it. Every
// line is appended once, each answered with the position just past its
// own line, and a second delivery of each, sent at the same time, is a
// duplicate.
func TestConcurrentAppendsShareAnFsync(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	appended := map[string]Position{}
	dups := 0
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("e%03d", i%n)
			<-start
			pos, err := w.Append([]byte(fmt.Sprintf(`{"id":%q}`, id)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrDuplicate):
				dups++
			case err != nil:
				t.Errorf("append %s: %v", id, err)
			default:
				if _, twice := appended[id]; twice {
					t.Errorf("%s appended twice", id)
				}
				appended[id] = pos
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(appended) != n || dups != n {
		t.Fatalf("%d appended, %d duplicates; want %d of each", len(appended), dups, n)
	}
	ends := map[Position]string{}
	_, err = Read(dir, Position{}, func(p Position, line []byte) error {
		if _, twice := ends[p]; twice {
			t.Errorf("two lines end at %v", p)
		}
		ends[p] = idKey(line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != n {
		t.Fatalf("the log holds %d lines, want %d", len(ends), n)
	}
	for id, pos := range appended {
		if ends[pos] != id {
			t.Errorf("append of %s answered %v, where the log has %q", id, pos, ends[pos])
		}
	}
	st := w.Stats()
	if st.Appended != n || st.Syncs >= n {
		t.Fatalf("stats %+v: want %d lines appended with fewer fsyncs than lines", st, n)
	}
	t.Logf("%d concurrent appends: %d fsyncs", n, st.Syncs)
}

// TestDuplicateOfAFailedAppendIsAppended: a delivery of an event whose
// first delivery is still being appended waits for that append. If it
// fails (here its segment was removed under the writer, so it is refused
// and the log begun again), the second is appended, not answered as a
// duplicate of a line the log does not hold: an acknowledged event must
// be in the log.
func TestDuplicateOfAFailedAppendIsAppended(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Hold the commit back until both deliveries are under way, and
	// remove the segment meanwhile.
	w.file.Lock()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := w.Append([]byte(`{"id":"a"}`))
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := os.Remove(filepath.Join(dir, segmentName(w.seg))); err != nil {
		t.Fatal(err)
	}
	w.file.Unlock()
	var failed, ok int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, ErrDuplicate):
			t.Error("a delivery was answered as a duplicate of one that failed")
		default:
			failed++
		}
	}
	if ok != 1 || failed != 1 {
		t.Fatalf("%d appended, %d failed; want one of each", ok, failed)
	}
	if ids, _ := readAll(t, dir, Position{}); fmt.Sprint(ids) != "[a]" {
		t.Fatalf("the log holds %v, want [a]", ids)
	}
}
