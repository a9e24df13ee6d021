package eventlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func idKey(line []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(line, &v)
	return v.ID
}

func readAll(t *testing.T, dir string, from Position) ([]string, Position) {
	t.Helper()
	var ids []string
	pos, err := Read(dir, from, func(_ Position, line []byte) error {
		ids = append(ids, idKey(line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, pos
}

func TestAppendReadDedupeAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "a"} {
		_, err := w.Append([]byte(fmt.Sprintf(`{"id":%q}`, id)))
		if id == "a" && err != nil && !errors.Is(err, ErrDuplicate) {
			t.Fatal(err)
		}
	}
	ids, pos := readAll(t, dir, Position{})
	if fmt.Sprint(ids) != "[a b]" {
		t.Fatalf("read %v, want [a b]", ids)
	}
	// A second writer must not open the same log.
	if _, err := Open(dir, idKey); err == nil {
		t.Fatal("a second writer opened a locked log")
	}
	w.Close()

	w, err = Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append([]byte(`{"id":"b"}`)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("redelivery after a restart: %v, want ErrDuplicate", err)
	}
	if _, err := w.Append([]byte(`{"id":"c"}`)); err != nil {
		t.Fatal(err)
	}
	more, pos2 := readAll(t, dir, pos)
	if fmt.Sprint(more) != "[c]" {
		t.Fatalf("read from %v: %v, want [c]", pos, more)
	}
	if again, _ := readAll(t, dir, pos2); len(again) != 0 {
		t.Fatalf("read past the end: %v", again)
	}
	p, err := ParsePosition(pos2.String())
	if err != nil || p != pos2 {
		t.Fatalf("position round trip: %v %v", p, err)
	}
	if _, err := ParsePosition("3"); err == nil {
		t.Fatal("ParsePosition accepted 3")
	}
}

func TestTornLinesAreNeverConsumed(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	// What a writer killed mid-line leaves: the start of a line.
	seg := filepath.Join(dir, segmentName(w.seg))
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"to`)
	f.Close()
	ids, pos := readAll(t, dir, Position{})
	if fmt.Sprint(ids) != "[a]" {
		t.Fatalf("read %v, want [a]", ids)
	}
	// The writer finishing the line (the live case) makes it readable.
	f, _ = os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("rn\"}\n")
	f.Close()
	if ids, _ := readAll(t, dir, pos); fmt.Sprint(ids) != "[torn]" {
		t.Fatalf("after completion read %v, want [torn]", ids)
	}
	// A torn line and garbage at the end of an older segment are skipped
	// once a newer segment exists.
	f, _ = os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\x00\x00\n{\"id\":\"x")
	f.Close()
	w.Close()
	w, err = Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append([]byte(`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if ids, _ := readAll(t, dir, Position{}); fmt.Sprint(ids) != "[a torn b]" {
		t.Fatalf("read %v, want [a torn b]", ids)
	}
}

func TestSegmentsRotate(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetSegmentBytes(30)
	var want []string
	var mid Position
	for i := range 10 {
		id := fmt.Sprint(i)
		p, err := w.Append([]byte(fmt.Sprintf(`{"id":%q}`, id)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			mid = p
		}
		want = append(want, id)
	}
	segs, _ := segments(dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	if ids, _ := readAll(t, dir, Position{}); fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", ids, want)
	}
	if ids, _ := readAll(t, dir, mid); fmt.Sprint(ids) != fmt.Sprint(want[5:]) {
		t.Fatalf("read from %v: %v, want %v", mid, ids, want[5:])
	}
}

func TestReadRefusesAPositionTheLogDoesNotHave(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p, _ := w.Append([]byte(`{"id":"a"}`))
	for _, bad := range []Position{{Segment: p.Segment + 1}, {Segment: p.Segment, Offset: p.Offset + 1}} {
		if _, err := Read(dir, bad, func(Position, []byte) error { return nil }); !errors.Is(err, ErrPositionGone) {
			t.Errorf("Read from %v: %v, want ErrPositionGone", bad, err)
		}
	}
}

// TestReadRefusesAPositionInsideALine: a reader may consume a line before
// it is fsynced; if the fsync fails, Append takes the line back (truncates
// the segment) and answers an error, and the next lines are appended over
// it. The reader's position then points into one of them: reading on from
// there skipped that line (its tail is no JSON) with no word. The position
// is gone instead, and the reader reconciles.
func TestReadRefusesAPositionInsideALine(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	taken, err := w.Append([]byte(`{"id":"taken-back-after-a-failed-fsync"}`))
	if err != nil {
		t.Fatal(err)
	}
	// What Append does when its fsync fails.
	if err := w.f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	w.size = 0
	delete(w.keys, "taken-back-after-a-failed-fsync")
	for _, id := range []string{"b", "c", "d", "e", "f"} {
		if _, err := w.Append([]byte(`{"id":"` + id + `"}`)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Read(dir, taken, func(Position, []byte) error { return nil })
	if !errors.Is(err, ErrPositionGone) {
		t.Fatalf("Read from %v, inside a line appended over the one taken back: %v, want ErrPositionGone", taken, err)
	}
}

// TestAReaderOfATakenBackLineLosesNoLaterLine: a reader consumes a line
// in the moment between its write and its fsync, which fails; the line is
// taken back, and the sender's retry, of the same length (Pluggy's
// deliveries of one kind differ in their ids alone, UUIDs all as long),
// is appended after it. The reader's position, past the line taken back,
// was then just past the new line's newline: taken for one the log holds,
// and the new line, acknowledged, was never read. The log goes on in a new
// segment after a line is taken back, so no such position ever holds
// another line: it is gone, and the reader reconciles.
func TestAReaderOfATakenBackLineLosesNoLaterLine(t *testing.T) {
	for _, full := range []bool{false, true} {
		// full: the directory takes no new file when the fsync fails (a
		// full disk), so the new segment is begun by the next write.
		t.Run(fmt.Sprint("directory full ", full), func(t *testing.T) {
			dir := t.TempDir()
			var (
				read  Position
				fail  = true
				allow = func() {}
			)
			if full {
				allow = readOnly(t, dir)
				allow()
			}
			w, err := OpenWith(dir, idKey, Options{fsync: func(f *os.File) error {
				if fi, err := f.Stat(); !fail || err == nil && fi.IsDir() {
					return f.Sync()
				}
				fail = false
				// A reader reads the log while the fsync is under way.
				_, read = readAll(t, dir, Position{})
				if full {
					readOnly(t, dir)
				}
				return errors.New("injected EIO")
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.Append([]byte(`{"id":"taken-back-1"}`)); err == nil {
				t.Fatal("an append whose fsync failed succeeded")
			}
			if read.Offset == 0 {
				t.Fatalf("the reader read no line before the fsync failed (position %v)", read)
			}
			allow()
			if _, err := w.Append([]byte(`{"id":"acknowledged"}`)); err != nil {
				t.Fatal(err)
			}
			var after []string
			_, err = Read(dir, read, func(_ Position, line []byte) error {
				after = append(after, idKey(line))
				return nil
			})
			if !errors.Is(err, ErrPositionGone) && !slices.Contains(after, "acknowledged") {
				t.Fatalf("read on from %v, past the line taken back: lines %q, error %v; want the acknowledged line or ErrPositionGone", read, after, err)
			}
		})
	}
}

// TestASegmentNotBegunIsBegunByTheNextTry: a segment is begun (after
// lines were taken back, or at the size limit) by creating its file and
// fsyncing the directory. A directory whose fsync failed (the disk's
// trouble that failed the append) left the file there, unbegun, and every
// later try to begin it was refused (the name exists): every append failed
// until the receiver was restarted, once the disk was well again too, and
// /healthz, whose probe writes a file of its own, answered 200. The file
// is removed with the failure, and the next append begins it.
func TestASegmentNotBegunIsBegunByTheNextTry(t *testing.T) {
	dir := t.TempDir()
	failSegment, failDir := true, true
	w, err := OpenWith(dir, idKey, Options{fsync: func(f *os.File) error {
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			if failDir && !failSegment {
				failDir = false
				return errors.New("injected EIO on the directory")
			}
			return f.Sync()
		}
		if failSegment {
			failSegment = false
			return errors.New("injected EIO on the segment")
		}
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append([]byte(`{"id":"a"}`)); err == nil {
		t.Fatal("an append whose fsync failed succeeded")
	}
	if failDir {
		t.Fatal("no segment was begun after the failed append (the directory was not synced)")
	}
	for _, id := range []string{"b", "c"} {
		if _, err := w.Append([]byte(`{"id":"` + id + `"}`)); err != nil {
			t.Fatalf("append %s once the disk is well again: %v", id, err)
		}
	}
	if ids, _ := readAll(t, dir, Position{}); !slices.Equal(ids, []string{"b", "c"}) {
		t.Fatalf("the log holds %v, want [b c]", ids)
	}
}

// TestANewLogDoesNotHoldAnOldLogsPositions: a directory wiped and started
// again must not hold the positions of the log it replaces, even once it is
// longer; a reader's old position is then gone (and it reconciles) rather
// than pointing into the new log's middle (and skipping its first events).
func TestANewLogDoesNotHoldAnOldLogsPositions(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	old, err := w.Append([]byte(`{"id":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	w, err = Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 5 {
		if _, err := w.Append([]byte(fmt.Sprintf(`{"id":"n%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Read(dir, old, func(Position, []byte) error { return nil }); !errors.Is(err, ErrPositionGone) {
		t.Fatalf("Read from the old log's position %v in the new log: %v, want ErrPositionGone", old, err)
	}
}

// TestHealthyAfterAFailedAppend: a failed append (a full disk, say) makes
// the writer unhealthy while the directory takes no write, and healthy
// again as soon as it does, though no event came to append meanwhile (a
// health probe that takes the receiver out of a load balancer must not
// keep it out). It used to stay healthy through a full disk.
func TestHealthyAfterAFailedAppend(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append([]byte(`{"id":"a"}`)); err != nil || w.Healthy() != nil {
		t.Fatalf("append %v, healthy %v", err, w.Healthy())
	}
	// The directory takes no new file, and the segment no more bytes.
	allow := readOnly(t, dir)
	w.f.Close() // its next write fails, as on a full disk
	if _, err := w.Append([]byte(`{"id":"b"}`)); err == nil {
		t.Fatal("an append to a closed segment succeeded")
	}
	if err := w.Healthy(); err == nil {
		t.Fatal("healthy after a failed append, while the directory takes no write")
	}
	allow()
	if err := w.Healthy(); err != nil {
		t.Fatalf("unhealthy once the directory takes writes again: %v", err)
	}
}

// readOnly makes dir take no new file, even for root where it can (an
// immutable directory); it skips the test where it cannot. allow undoes it.
func readOnly(t *testing.T, dir string) (allow func()) {
	t.Helper()
	var deny func()
	if os.Geteuid() != 0 {
		deny = func() { os.Chmod(dir, 0o500) }
		allow = func() { os.Chmod(dir, 0o700) }
	} else {
		deny = func() { exec.Command("chattr", "+i", dir).Run() }
		allow = func() { exec.Command("chattr", "-i", dir).Run() }
	}
	deny()
	t.Cleanup(allow)
	if f, err := os.CreateTemp(dir, "probe-"); err == nil {
		f.Close()
		os.Remove(f.Name())
		allow()
		t.Skip("no directory here refuses new files (chattr is missing or not allowed)")
	}
	return allow
}

// TestASegmentNotBegunAtTheSizeLimitIsUnhealthy: an append that must begin
// the next segment (the current one is full) and cannot (the directory
// takes no new file: out of inodes, read-only) fails, and the writer is
// unhealthy while that lasts, as after a failed write. It stayed healthy:
// /healthz answered 200 while every append was answered 503.
func TestASegmentNotBegunAtTheSizeLimitIsUnhealthy(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetSegmentBytes(1) // every append after the first begins a segment
	if _, err := w.Append([]byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	allow := readOnly(t, dir)
	if _, err := w.Append([]byte(`{"id":"b"}`)); err == nil {
		t.Fatal("an append whose segment could not be begun succeeded")
	}
	if err := w.Healthy(); err == nil {
		t.Fatal("healthy after an append that could not begin its segment, while the directory takes no new file")
	}
	allow()
	if err := w.Healthy(); err != nil {
		t.Fatalf("unhealthy once the directory takes files again: %v", err)
	}
	if _, err := w.Append([]byte(`{"id":"b"}`)); err != nil {
		t.Fatalf("append once the directory takes files again: %v", err)
	}
}

// TestLogRemovedAtTheSizeLimitIsBegunAgain: a directory removed while the
// receiver runs is begun again by the next append (its directory, lock
// and a new segment), also when that append is the one that begins the
// next segment at the size limit. That append stopped on "creating log
// segment: no such file or directory", and so did every later one, for as
// long as the receiver ran.
func TestLogRemovedAtTheSizeLimitIsBegunAgain(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, idKey)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetSegmentBytes(1)
	if _, err := w.Append([]byte(`{"id":"a"}`)); err != nil {
		t.Fatal(err)
	}
	_, old := readAll(t, dir, Position{})
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "c"} {
		if _, err := w.Append([]byte(fmt.Sprintf(`{"id":%q}`, id))); err != nil {
			t.Fatalf("append of %s after the directory was removed: %v", id, err)
		}
	}
	if err := w.Healthy(); err != nil {
		t.Fatalf("unhealthy once the log was begun again: %v", err)
	}
	if ids, _ := readAll(t, dir, Position{}); fmt.Sprint(ids) != "[b c]" {
		t.Fatalf("the log begun again holds %v, want [b c]", ids)
	}
	if _, err := Read(dir, old, func(Position, []byte) error { return nil }); !errors.Is(err, ErrPositionGone) {
		t.Fatalf("a position in the removed log: %v, want ErrPositionGone", err)
	}
}
