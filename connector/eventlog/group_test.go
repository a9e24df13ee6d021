package eventlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestAPanickingCommitAnswersEveryCall: a Commit that panics answers every
// call of its batch, every call waiting for the next batch and every later
// call with a *PanicError, at once, and is never called again. The panic
// went up the committing caller alone, and left every other call waiting
// for a batch that never ended.
func TestAPanickingCommitAnswersEveryCall(t *testing.T) {
	var g Group[int, int]
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	commits := 0
	g.Commit = func(ins []int) ([]int, []error) {
		commits++
		<-release[commits-1]
		if commits == 2 {
			panic("injected")
		}
		return ins, make([]error, len(ins))
	}
	queued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			g.mu.Lock()
			q := len(g.queue)
			g.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls queued, want %d", q, n)
			}
		}
	}
	type answer struct {
		in, out int
		err     error
	}
	answers := make(chan answer, 11)
	do := func(in int) {
		out, err := g.Do(in)
		answers <- answer{in, out, err}
	}
	go do(0) // commits alone, held back
	queued(0)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		leading := g.leading
		g.mu.Unlock()
		if leading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first call does not commit")
		}
	}
	for i := 1; i <= 5; i++ {
		go do(i) // the second batch, which panics
	}
	queued(5)
	close(release[0])
	queued(0)
	for i := 6; i <= 10; i++ {
		go do(i) // waiting for the batch after it
	}
	queued(5)
	close(release[1])
	for range 11 {
		select {
		case a := <-answers:
			var pe *PanicError
			switch {
			case a.in == 0:
				if a.err != nil || a.out != 0 {
					t.Errorf("the first call: %d, %v", a.out, a.err)
				}
			case !errors.As(a.err, &pe) || pe.Value != "injected" || len(pe.Stack) == 0:
				t.Errorf("call %d answered %d, %v; want the commit's panic", a.in, a.out, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("calls are still waiting 10 s after the commit panicked")
		}
	}
	if _, err := g.Do(11); !errors.As(err, new(*PanicError)) || g.Err() == nil {
		t.Fatalf("a call after the panic: %v, Err %v; want the panic", err, g.Err())
	}
	if commits != 2 {
		t.Fatalf("Commit was called %d times, want 2: never again after it panicked", commits)
	}
}

// TestAPanickingAppendStopsTheWriter: an append whose write panics (here
// its fsync) is answered with the panic, as is every append of its batch;
// the writer takes no more appends (what reached the segment is unknown),
// says so to Healthy, and releases what it held: a redelivery of an event
// of the batch, Prune and Close return, where the segment's lock stayed
// held and every one of them waited for ever.
func TestAPanickingAppendStopsTheWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	w.fsync = func(*os.File) error { panic("injected") }
	done := make(chan error, 3)
	for _, id := range []string{"a", "b", "a"} {
		go func() {
			_, err := w.Append([]byte(`{"id":"` + id + `"}`))
			done <- err
		}()
	}
	for range 3 {
		select {
		case err := <-done:
			if err == nil || errors.Is(err, ErrDuplicate) {
				t.Errorf("an append whose fsync panicked: %v, want an error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("appends are still waiting 10 s after a commit panicked")
		}
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if _, err := w.Append([]byte(`{"id":"c"}`)); err == nil {
			t.Error("an append after the panic succeeded")
		}
		if err := w.Healthy(); err == nil {
			t.Error("Healthy after an append panicked: nil, want an error")
		}
		if _, err := w.Prune(time.Now()); err == nil {
			t.Error("Prune after an append panicked: nil, want an error")
		}
		_ = w.Close()
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer's Append, Healthy, Prune or Close still waits 10 s after an append panicked")
	}
}

// TestARestartSyncsTheLinesItTakesKeysFrom: a writer whose commit panicked
// after the write, before the fsync, leaves its line in the page cache
// only, answered with an error; the writer started next takes the line's
// key and answers the sender's redelivery ErrDuplicate, an
// acknowledgement. It did so without syncing the line, which a power cut
// then lost. The writer now fsyncs every segment it takes keys from, and
// one it cannot sync fails its start, never answering a redelivery from an
// unsynced line.
func TestARestartSyncsTheLinesItTakesKeysFrom(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	w.fsync = func(*os.File) error { panic("injected") }
	if _, err := w.Append([]byte(`{"id":"a"}`)); !errors.As(err, new(*PanicError)) {
		t.Fatalf("an append whose fsync panicked: %v, want the panic", err)
	}
	unsynced := filepath.Join(dir, segmentName(w.seg))
	_ = w.Close() // the process exits, for its supervisor to start it again

	var synced []string
	w, err = OpenWith(dir, idKey, Options{fsync: func(f *os.File) error {
		synced = append(synced, f.Name())
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(synced, unsynced) {
		t.Errorf("the restarted writer synced %v, not %s, whose line it holds the key of", synced, unsynced)
	}
	if _, err := w.Append([]byte(`{"id":"a"}`)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("the redelivery: %v, want ErrDuplicate (the line is in the log, synced)", err)
	}
	_ = w.Close()

	if _, err := OpenWith(dir, idKey, Options{fsync: func(*os.File) error { return errors.New("injected EIO") }}); err == nil || !strings.Contains(err.Error(), "injected EIO") {
		t.Fatalf("a start whose fsync of the log's segments fails: %v, want that error", err)
	}
}
