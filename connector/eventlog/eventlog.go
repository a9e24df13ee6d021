// Package eventlog is an append-only log of events kept as a directory of
// segment files, written by one process and read by others while it writes.
//
// Each segment is named by its number (00001796552295687123.jsonl, ...: the
// segment a writer begins when it opens the log is numbered by the clock,
// in microseconds, or by the next number if the log holds a higher one,
// and each segment begun at a size limit by the next number) and holds one
// JSON object per line. A
// line counts only once its newline is on disk: Append writes the whole
// line and fsyncs before it returns (concurrent appends share one write
// and one fsync: Group), so a process killed mid-write leaves
// at most a torn last line, which readers never consume and the next
// writer never appends after (it starts a new segment). Segments are never rewritten, so a Position (segment number and
// byte offset just past a complete line) means the same thing forever,
// across restarts of both the writer and its readers, for as long as its
// segment is there. A writer opened with a retention (Options.Retain)
// removes old segments, always the oldest first, so that what remains is
// the log's newest part and a position in a removed segment is gone
// (ErrPositionGone), never taken for another.
package eventlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// suffix names segment files; the name before it is the segment number,
// zero-padded so the files also sort by name.
const suffix = ".jsonl"

// DefaultSegmentBytes is when Append moves on to a new segment.
const DefaultSegmentBytes = 64 << 20

// Position is a place in the log: the byte offset just past the last line
// consumed in a segment. The zero Position is the start of the log.
type Position struct {
	Segment uint64
	Offset  int64
}

// String writes the position as "SEGMENT:OFFSET", the form states keep.
func (p Position) String() string {
	return strconv.FormatUint(p.Segment, 10) + ":" + strconv.FormatInt(p.Offset, 10)
}

// ParsePosition reads what String writes; "" is the start of the log.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Position{}, nil
	}
	seg, off, ok := strings.Cut(s, ":")
	if ok {
		n, err1 := strconv.ParseUint(seg, 10, 64)
		o, err2 := strconv.ParseInt(off, 10, 64)
		if err1 == nil && err2 == nil && o >= 0 {
			return Position{Segment: n, Offset: o}, nil
		}
	}
	return Position{}, fmt.Errorf("log position %q is not SEGMENT:OFFSET (two non-negative integers)", s)
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

func segmentName(n uint64) string { return fmt.Sprintf("%020d%s", n, suffix) }

// firstSegment numbers the segment a writer begins on opening the log (at
// least; Open takes the next number if the log holds a higher one): the
// time in microseconds, not 1. A reader's position names a segment and an offset;
// if the directory is replaced (a new volume, a wiped directory) and a new
// log started at 1, a position of the old log would fall inside the new
// one once it grew past it, and the reader would silently skip the new
// log's first events instead of noticing that its position is gone. A new
// log's numbers are above every number an older log used (one segment per
// receiver start or 64 MiB, and a start takes more than a microsecond).
func firstSegment(now time.Time) uint64 { return uint64(max(now.UnixMicro(), 1)) }

// segments lists the segment numbers in dir, ascending.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Segments lists the segment files of the log in dir, by name, ascending:
// none in a directory no writer has opened (every Open begins one).
func Segments(dir string) ([]string, error) {
	segs, err := segments(dir)
	names := make([]string, len(segs))
	for i, n := range segs {
		names[i] = segmentName(n)
	}
	return names, err
}

// Writer appends to the log. Only one Writer may have a directory open at a
// time; Open takes an exclusive lock file to make sure.
type Writer struct {
	dir          string
	segmentBytes int64
	key          func(line []byte) string
	stamp        func(line []byte) (time.Time, bool)
	opened       Pruned

	// file is held by whatever writes the directory: an append's commit,
	// Prune, Healthy's probe, Close. It guards f, seg, size and lock.
	file sync.Mutex
	f    *os.File
	seg  uint64
	size int64
	lock *os.File
	// takenBack is set when lines were taken back from the segment (a
	// failed write or fsync) and no new segment could be begun then: the
	// next write begins one first (writeSynced says why).
	takenBack bool

	// mu guards keys, pending, broken and failed; taken after file when
	// both are.
	mu sync.Mutex
	// keys maps each key the log holds to the newest segment holding it,
	// so that Prune forgets the keys of the segments it removes.
	keys map[string]uint64
	// pending holds the keys of the lines waiting for their commit; the
	// channel is closed once it is done. A second line with one of them
	// waits for that commit: it is a duplicate if the first was appended,
	// and is appended itself if the first failed (it must not be answered
	// as a duplicate of a line the log does not hold).
	pending map[string]chan struct{}
	broken  error
	// failed is the last append's failure (a full disk, say) until an
	// append or Healthy's probe writes again: the log is not unusable, but
	// a health check must not call it healthy meanwhile.
	failed error

	group Group[pendingLine, Position]
	// fsync makes a segment's writes durable: (*os.File).Sync, which a
	// test replaces to fail in ways a disk cannot be made to.
	fsync  func(*os.File) error
	events atomic.Int64
	syncs  atomic.Int64
}

// pendingLine is a line waiting for its commit, newline included.
type pendingLine struct {
	line []byte
	key  string
}

// Stats counts what a Writer did since it was opened.
type Stats struct {
	// Appended is how many lines appends wrote.
	Appended int64
	// Syncs is how many fsyncs of a segment made them durable: one for
	// each commit of concurrent appends (Group), which is fewer than the
	// lines when appends come together.
	Syncs int64
}

// Stats returns what the writer did since it was opened.
func (w *Writer) Stats() Stats {
	return Stats{Appended: w.events.Load(), Syncs: w.syncs.Load()}
}

// Open opens dir for appending, creating it if needed. key returns the
// deduplication key of a line (Append refuses a second line with the same
// key); every complete line already in the log is read once to learn the
// keys, so a redelivery after a restart is still recognised.
func Open(dir string, key func(line []byte) string) (*Writer, error) {
	return OpenWith(dir, key, Options{})
}

// Options are a Writer's settings beyond its key.
type Options struct {
	// Retain, if positive, is how long the log keeps a segment after the
	// next one was begun (Prune): OpenWith removes the segments already
	// that old before it reads the rest, so a writer reads, and holds the
	// keys of, only what is retained.
	Retain time.Duration
	// Stamp returns when a line was written (a receiver's receivedAt):
	// the first line of a segment that has one dates the segment's
	// beginning (Prune). Without it, or for a segment without such a
	// line, the segment file's modification time is taken.
	Stamp func(line []byte) (time.Time, bool)
	// Now is the clock, time.Now if nil.
	Now func() time.Time

	// fsync replaces (*os.File).Sync, for a test.
	fsync func(*os.File) error
}

// OpenWith is Open with options.
func OpenWith(dir string, key func(line []byte) string, o Options) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil { // bank events: the user's only
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	w := &Writer{dir: dir, segmentBytes: DefaultSegmentBytes, key: key, keys: map[string]uint64{}, pending: map[string]chan struct{}{}, lock: lock, stamp: o.Stamp}
	w.group.Commit = w.commit
	w.fsync = (*os.File).Sync
	if o.fsync != nil {
		w.fsync = o.fsync
	}
	segs, err := segments(dir)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listing the log directory: %w", err)
	}
	if o.Retain > 0 {
		// Before the keys are read: the removed segments' lines are
		// neither read nor held. The newest segment stays (the one this
		// writer begins is its successor, begun now).
		w.opened, err = w.prune(segs, now().Add(-o.Retain))
		if err != nil {
			lock.Close()
			return nil, err
		}
		segs = segs[len(w.opened.Segments):]
	}
	if err := w.syncSegments(segs); err != nil {
		lock.Close()
		return nil, err
	}
	_, err = Read(dir, Position{}, func(p Position, line []byte) error {
		if k := key(line); k != "" {
			w.keys[k] = p.Segment
		}
		return nil
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	// Always a fresh segment: the last one may end in a torn line, and a
	// line appended after it would be glued to it. It is numbered by the
	// clock, as a new log's first one, unless the log already holds a
	// higher number: a directory restored from a backup has lost the
	// segments begun after the backup, and a segment that took the next
	// number after the restored ones would take a lost one's, so a
	// reader's position in the lost segment would point into the new
	// one's middle once it grew past it (firstSegment says why).
	next := firstSegment(time.Now())
	if len(segs) > 0 {
		next = max(next, segs[len(segs)-1]+1)
	}
	if err := w.startSegment(next); err != nil {
		lock.Close()
		return nil, err
	}
	return w, nil
}

// syncSegments fsyncs the segments whose keys OpenWith is about to take.
// A writer that died between a write and its fsync (killed, or stopped
// after a commit panicked: Group) left lines that may be in the page cache
// only, answered with an error; their keys taken unsynced, the sender's
// redelivery of such an event is answered ErrDuplicate, acknowledged,
// and a power cut then loses the line the acknowledgement stood for.
// Synced here, every key the writer holds stands for a line on disk. A
// segment with nothing left to write costs an fsync that finds nothing to
// do (under a millisecond), a fraction of reading its lines.
func (w *Writer) syncSegments(segs []uint64) error {
	for _, n := range segs {
		f, err := os.Open(filepath.Join(w.dir, segmentName(n)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = w.fsync(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("syncing log segment %d, whose lines a receiver may have written without syncing them before it stopped: %w", n, err)
		}
	}
	return nil
}

// Pruned is what a Prune removed.
type Pruned struct {
	// Segments are the removed segments' file names, oldest first.
	Segments []string
	// Bytes is their size.
	Bytes int64
	// Keys is how many keys the writer forgot with them.
	Keys int
}

// OpenPruned is what OpenWith removed as it opened the log.
func (w *Writer) OpenPruned() Pruned { return w.opened }

// Prune removes the segments whose successor was begun before cutoff,
// oldest first, never the segment being written, and forgets the keys
// only they held.
//
// A segment's successor, not its newest line, decides: every line of a
// segment was written before its successor was begun, and a reader's
// position after a read is in the newest segment there was (Read moves
// it to the last segment's end), so a reader that read since cutoff holds
// a position in a segment that is kept. One that did not may find its
// position removed, which Read reports as ErrPositionGone: its events
// since are partly gone, and it must reconcile. Removing only a prefix of
// the log keeps that true: a reader whose position is in a kept segment
// finds every later segment there.
func (w *Writer) Prune(cutoff time.Time) (Pruned, error) {
	w.file.Lock()
	defer w.file.Unlock()
	w.mu.Lock()
	broken := w.broken
	w.mu.Unlock()
	if broken != nil {
		return Pruned{}, broken
	}
	segs, err := segments(w.dir)
	if err != nil {
		return Pruned{}, fmt.Errorf("listing the log directory: %w", err)
	}
	// Never the segment being written, nor any a reopen() numbered after
	// it should the listing be stale: only those before it count.
	segs = slices.DeleteFunc(segs, func(n uint64) bool { return n > w.seg })
	if !slices.Contains(segs, w.seg) {
		segs = append(segs, w.seg)
	}
	return w.prune(segs, cutoff)
}

// prune removes, oldest first, the segments of segs (ascending) whose
// successor in segs was begun before cutoff; the last one is never
// removed. It stops at the first segment it keeps, so that what remains is
// always the log's newest part.
func (w *Writer) prune(segs []uint64, cutoff time.Time) (Pruned, error) {
	var p Pruned
	n := 0
	for ; n+1 < len(segs); n++ {
		begun, err := w.begun(segs[n+1])
		if err != nil {
			return p, err
		}
		if !begun.Before(cutoff) {
			break
		}
	}
	if n == 0 {
		return p, nil
	}
	last := segs[n-1]
	// Recorded before a segment goes (PrunedThrough says why).
	if err := writePruned(w.dir, last); err != nil {
		return p, err
	}
	for _, seg := range segs[:n] {
		path := filepath.Join(w.dir, segmentName(seg))
		if fi, err := os.Stat(path); err == nil {
			p.Bytes += fi.Size()
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return p, fmt.Errorf("removing log segment %d: %w", seg, err)
		}
		p.Segments = append(p.Segments, segmentName(seg))
	}
	w.mu.Lock()
	for k, s := range w.keys {
		if s <= last {
			delete(w.keys, k)
			p.Keys++
		}
	}
	w.mu.Unlock()
	return p, syncDir(w.dir)
}

// prunedFile holds the number of the newest segment a writer removed.
const prunedFile = "PRUNED"

func writePruned(dir string, seg uint64) error {
	tmp := filepath.Join(dir, prunedFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(seg, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the pruned segments: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, prunedFile)); err != nil {
		return fmt.Errorf("recording the pruned segments: %w", err)
	}
	return syncDir(dir)
}

// PrunedThrough returns the number of the newest segment a writer's
// retention removed from the log in dir, 0 if none was. A reader's
// position in a removed segment is gone (Read says so), but the start of
// the log, the position of a read that found no segment at all (no
// writer had opened the log yet), names none: such a reader whose next
// read finds segments removed since has missed their lines.
func PrunedThrough(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, prunedFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the log's record of pruned segments: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the log's record of pruned segments, %s, holds %q, not a segment number", filepath.Join(dir, prunedFile), b)
	}
	return n, nil
}

// begun returns when segment n was begun, or a time after that: its
// first stamped line's time (a line is written after its segment is
// begun), else the file's modification time (at least its creation's).
func (w *Writer) begun(n uint64) (time.Time, error) {
	path := filepath.Join(w.dir, segmentName(n))
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading log segment %d: %w", n, err)
	}
	if w.stamp == nil {
		return fi.ModTime(), nil
	}
	var at time.Time
	errFound := errors.New("found")
	_, err = readSegment(path, n, 0, func(_ Position, line []byte) error {
		if t, ok := w.stamp(line); ok {
			at = t
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return at, nil
	case err != nil:
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// SetSegmentBytes changes the size at which Append starts a new segment.
func (w *Writer) SetSegmentBytes(n int64) { w.segmentBytes = n }

// Len is how many distinct keys the log holds.
func (w *Writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys)
}

// startSegment begins segment n: its file, made durable by an fsync of
// the directory. If that fsync fails the file is removed again: left,
// unbegun, its name refused every later try to begin it (O_EXCL), and
// every append failed until a restart, though the disk was well again.
func (w *Writer) startSegment(n uint64) error {
	name := filepath.Join(w.dir, segmentName(n))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating log segment %d: %w", n, err)
	}
	if err := w.syncDir(); err != nil {
		f.Close()
		_ = os.Remove(name)
		return err
	}
	if w.f != nil {
		_ = w.f.Close()
	}
	w.f, w.seg, w.size, w.takenBack = f, n, 0, false
	return nil
}

// ErrDuplicate is Append's answer to a line whose key the log already has.
var ErrDuplicate = errors.New("already in the log")

// Append writes line (one JSON object, no newline) and a newline, and
// returns once both are on disk. A line with a key already in the log is
// not written and ErrDuplicate is returned.
//
// Concurrent appends are written together and made durable by one fsync
// (Group): each returns once the fsync that covers its line is done.
func (w *Writer) Append(line []byte) (Position, error) {
	if bytes.IndexByte(line, '\n') >= 0 || len(line) == 0 {
		return Position{}, errors.New("a log line must be non-empty and hold no newline")
	}
	k := w.key(line)
	var mine chan struct{} // the pending entry this append made for k
	for {
		w.mu.Lock()
		if w.broken != nil {
			err := w.broken
			w.mu.Unlock()
			return Position{}, err
		}
		if k == "" {
			w.mu.Unlock()
			break
		}
		if _, dup := w.keys[k]; dup {
			w.mu.Unlock()
			return Position{}, ErrDuplicate
		}
		wait, ok := w.pending[k]
		if !ok {
			mine = make(chan struct{})
			w.pending[k] = mine
			w.mu.Unlock()
			break
		}
		w.mu.Unlock()
		<-wait
	}
	buf := make([]byte, 0, len(line)+1)
	pos, err := w.group.Do(pendingLine{line: append(append(buf, line...), '\n'), key: k})
	if mine != nil && err != nil {
		// A group whose commit panicked answers this line without
		// committing it (it came after the panic, or waited behind
		// it), so commit never released its key: release it here, or
		// a redelivery of the same key waits for ever.
		w.mu.Lock()
		if w.pending[k] == mine {
			close(mine)
			delete(w.pending, k)
		}
		w.mu.Unlock()
	}
	return pos, err
}

// commit writes a batch of lines, in order, and fsyncs them: one write and
// one fsync for the lines that go in one segment. A line that does not fit
// in the segment begins the next one, as a lone line would. If a write
// or fsync fails, its lines and every later line of the batch fail.
func (w *Writer) commit(batch []pendingLine) ([]Position, []error) {
	pos := make([]Position, len(batch))
	errs := make([]error, len(batch))
	written := false
	defer func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !written {
			// The write panicked, on its way to Group, which answers
			// the batch and every later append with it. What reached
			// the segment is unknown (a torn line the next would be
			// glued to), so nothing more is appended to it; the lock
			// is released (w.write) and the batch's keys too, so that
			// Healthy, Prune, Close and a redelivery waiting for one of
			// them do not wait for ever.
			w.broken = errors.New("the event log takes no more appends: an append panicked, and what it wrote is unknown; start the receiver again (it begins a new segment)")
		}
		for i, l := range batch {
			if l.key == "" {
				continue
			}
			if written && errs[i] == nil {
				w.keys[l.key] = pos[i].Segment
			}
			close(w.pending[l.key])
			delete(w.pending, l.key)
		}
	}()
	w.write(batch, pos, errs)
	written = true
	return pos, errs
}

// write writes commit's batch and sets each line's position or error.
func (w *Writer) write(batch []pendingLine, pos []Position, errs []error) {
	w.file.Lock()
	defer w.file.Unlock()
	w.mu.Lock()
	err := w.broken
	w.mu.Unlock()
	i := 0 // the lines before i are on disk
	for i < len(batch) && err == nil {
		if w.takenBack || w.size > 0 && w.size+int64(len(batch[i].line)) > w.segmentBytes {
			if err = w.nextSegment(); err != nil {
				break
			}
		}
		// The lines from i that fit in the segment, one at least.
		var buf []byte
		size, j := w.size, i
		for ; j < len(batch) && (j == i || size+int64(len(batch[j].line)) <= w.segmentBytes); j++ {
			buf = append(buf, batch[j].line...)
			size += int64(len(batch[j].line))
			pos[j] = Position{Segment: w.seg, Offset: size}
		}
		if err = w.writeSynced(buf); err == nil {
			i = j
		}
	}
	for ; i < len(batch); i++ {
		pos[i], errs[i] = Position{}, err
	}
}

// nextSegment begins the segment after the current, full one. If the
// directory was removed (the segment with it), it begins the log again
// (reopen), as a write that finds its segment removed does: nothing of the
// batch is written yet, so it goes on in the new segment. A failure is
// recorded as a failed write's is, so that Healthy tells it: every append
// fails while the segment cannot be begun. Called with w.file held.
func (w *Writer) nextSegment() error {
	err := w.startSegment(w.seg + 1)
	if err != nil && w.removed() != nil {
		err = w.reopen()
	}
	if err != nil {
		w.mu.Lock()
		w.failed = fmt.Errorf("the last append failed: %w", err)
		w.mu.Unlock()
	}
	return err
}

// writeSynced appends buf (whole lines) to the segment and fsyncs it. On
// failure it takes back what may have reached the file, so that the next
// line does not follow a torn one, and records the failure (Healthy).
// Called with w.file held.
func (w *Writer) writeSynced(buf []byte) error {
	n, err := w.f.Write(buf)
	if err == nil {
		err = w.fsync(w.f)
		w.syncs.Add(1)
	}
	if err == nil {
		if gone := w.removed(); gone != nil {
			// The lines went to a file no reader will see: refuse them
			// (the sender retries) and go on in a new segment, as a new
			// log.
			rerr := w.reopen()
			w.mu.Lock()
			if rerr != nil {
				w.broken = fmt.Errorf("the event log is unusable: %w; starting it again failed: %w", gone, rerr)
			}
			w.failed = fmt.Errorf("the last append failed: %w", gone)
			w.mu.Unlock()
			return gone
		}
	}
	if err != nil {
		// What reached the file is taken back, and the log goes on in a
		// new segment: a reader may have read those lines before the
		// fsync failed, and holds a position past them. Appended over in
		// this segment, the lines after the cut would end where that
		// position is for as often as their lengths add up to it (a
		// retry, or another event of the same kind, is as long to the
		// byte but for its ids' case and its receivedAt's digits), and
		// the reader would take the position for one the log holds and
		// never read them; the segment left as cut, the position is past
		// its end, gone (checkPosition), and the reader reconciles. A new
		// segment that cannot be begun now (a full disk) is begun by the
		// next write. If even taking back fails, the lines stay and the
		// log goes on in a new segment all the same, and if that fails
		// too, everything is refused from now on.
		var broken error
		if n > 0 {
			terr := w.f.Truncate(w.size)
			if serr := w.startSegment(w.seg + 1); serr != nil {
				if terr != nil {
					broken = fmt.Errorf("the event log is unusable after a failed write: %w", err)
				}
				w.takenBack = true
			}
		}
		w.mu.Lock()
		if broken != nil {
			w.broken = broken
		}
		w.failed = fmt.Errorf("the last append failed: %w", err)
		w.mu.Unlock()
		return fmt.Errorf("appending to log segment %d: %w", w.seg, err)
	}
	w.mu.Lock()
	w.failed = nil
	w.mu.Unlock()
	w.size += int64(len(buf))
	w.events.Add(int64(bytes.Count(buf, []byte{'\n'})))
	return nil
}

// removed reports an error if the segment being appended to is no longer
// in the directory (the directory, or the segment, was removed while the
// writer ran): appends to its open file would succeed, and be acknowledged,
// while no reader can ever read them.
//
// Only a segment not found counts: inode numbers, which would also tell a
// file put in its place, are not what stat and fstat agree on everywhere
// (some network and FUSE filesystems), and a false alarm would refuse
// every event.
func (w *Writer) removed() error {
	if _, err := os.Stat(filepath.Join(w.dir, segmentName(w.seg))); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("log segment %d was removed from %s while the receiver ran", w.seg, w.dir)
	}
	return nil
}

// reopen begins a new segment after the current one was removed: the
// directory is created again if it is gone, its lock taken again if the
// lock file went with it, and the segment is numbered as Open numbers it,
// so a reader whose position was in the removed segments finds it gone.
func (w *Writer) reopen() error {
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return fmt.Errorf("creating the log directory: %w", err)
	}
	held, err1 := w.lock.Stat()
	now, err2 := os.Stat(filepath.Join(w.dir, "LOCK"))
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		lock, err := lockDir(w.dir)
		if err != nil {
			return err
		}
		_ = w.lock.Close() // not unlockDir: the name is the new lock's now
		w.lock = lock
	}
	segs, err := segments(w.dir)
	if err != nil {
		return fmt.Errorf("listing the log directory: %w", err)
	}
	next := max(firstSegment(time.Now()), w.seg+1)
	if len(segs) > 0 {
		next = max(next, segs[len(segs)-1]+1)
	}
	return w.startSegment(next)
}

// Healthy reports whether the writer can still append.
//
// After a failed append it writes a probe file beside the segments (the
// size of a large event, synced, then removed), so that a health check
// reports a full disk while it lasts, and recovers once space is freed
// even when no event comes to append: a probe that takes the receiver out
// of a load balancer must not keep it out.
func (w *Writer) Healthy() error {
	w.file.Lock()
	defer w.file.Unlock()
	w.mu.Lock()
	broken, failed := w.broken, w.failed
	w.mu.Unlock()
	if broken != nil || failed == nil {
		return broken
	}
	if err := probeWrite(w.dir); err != nil {
		return fmt.Errorf("%w; a probe write fails too: %w", failed, err)
	}
	w.mu.Lock()
	w.failed = nil
	w.mu.Unlock()
	return nil
}

// probeWrite writes, syncs and removes a probe file in dir.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".healthz-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 64<<10))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// Close closes the current segment and releases the directory.
func (w *Writer) Close() error {
	w.file.Lock()
	defer w.file.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if w.lock != nil {
		unlockDir(w.lock)
		w.lock = nil
	}
	w.broken = errors.New("the event log is closed")
	return err
}

// syncDir fsyncs the writer's directory through w.fsync.
func (w *Writer) syncDir() error {
	d, err := os.Open(w.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := w.fsync(d); err != nil {
		return fmt.Errorf("syncing the log directory: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing the log directory: %w", err)
	}
	return nil
}

// Read calls fn with every complete line after from, in order, and the
// position just past it; it returns the position after the last line
// handed to fn (from itself when there is none). A line without its
// newline at the end of the newest segment is being written (or torn) and
// is left for a later Read; at the end of an older segment it was torn by
// a crash and is skipped. A complete line that is not JSON (what a crash
// on some filesystems leaves) is skipped too. An error from fn stops the
// read; the position returned is then that of the last line fn accepted.
func Read(dir string, from Position, fn func(next Position, line []byte) error) (Position, error) {
	segs, err := segments(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return from, fmt.Errorf("the event log directory %s does not exist: %w", dir, err)
		}
		return from, fmt.Errorf("listing the event log %s: %w", dir, err)
	}
	if err := checkPosition(dir, segs, from); err != nil {
		return from, err
	}
	pos := from
	for _, seg := range segs {
		if seg < pos.Segment {
			continue
		}
		off := int64(0)
		if seg == pos.Segment {
			off = pos.Offset
		}
		end, err := readSegment(filepath.Join(dir, segmentName(seg)), seg, off, func(next Position, line []byte) error {
			if err := fn(next, line); err != nil {
				return err
			}
			pos = next
			return nil
		})
		if errors.Is(err, os.ErrNotExist) {
			// Listed, and removed before it was opened: a writer pruned
			// it (it removes the oldest first, so every segment before
			// it is gone too). Its lines were never handed to fn, and
			// reading on from the next would skip them without a word.
			return pos, fmt.Errorf("%w: segment %d was removed (pruned) while the log was read", ErrPositionGone, seg)
		}
		if err != nil {
			return pos, err
		}
		// Past every complete line of this segment (skipped ones included).
		pos = Position{Segment: seg, Offset: end}
	}
	return pos, nil
}

// ErrPositionGone is Read's answer to a position the log does not have:
// its segment was removed, or is shorter than the offset (the directory was
// replaced). What happened between that position and the log's start is
// unknown, so the reader must fall back on a full reconciliation.
var ErrPositionGone = errors.New("the log does not hold this position")

func checkPosition(dir string, segs []uint64, p Position) error {
	if p == (Position{}) {
		return nil
	}
	if !slices.Contains(segs, p.Segment) {
		if len(segs) > 0 && p.Segment < segs[0] {
			return fmt.Errorf("%w: segment %d is not in %s, which begins at segment %d (older segments were removed, or pruned)", ErrPositionGone, p.Segment, dir, segs[0])
		}
		return fmt.Errorf("%w: segment %d is not in %s", ErrPositionGone, p.Segment, dir)
	}
	f, err := os.Open(filepath.Join(dir, segmentName(p.Segment)))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: segment %d was removed (pruned) while the log was read", ErrPositionGone, p.Segment)
	}
	if err != nil {
		return fmt.Errorf("reading log segment %d: %w", p.Segment, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading log segment %d: %w", p.Segment, err)
	}
	if fi.Size() < p.Offset {
		return fmt.Errorf("%w: segment %d holds %d bytes, fewer than offset %d", ErrPositionGone, p.Segment, fi.Size(), p.Offset)
	}
	// A position is just past a line's newline. One that is not points
	// into a line the segment did not hold when the position was taken:
	// a line the reader consumed before an append whose fsync failed took
	// it back, and the next appended over it; reading on would drop the
	// part of the line before the position, and the line with it.
	if p.Offset > 0 {
		var b [1]byte
		if _, err := f.ReadAt(b[:], p.Offset-1); err != nil {
			return fmt.Errorf("reading log segment %d: %w", p.Segment, err)
		}
		if b[0] != '\n' {
			return fmt.Errorf("%w: offset %d of segment %d is not at the end of a line", ErrPositionGone, p.Offset, p.Segment)
		}
	}
	return nil
}

// readSegment reads the complete lines of one segment from off and returns
// the offset past the last complete line.
func readSegment(path string, seg uint64, off int64, fn func(Position, []byte) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return off, fmt.Errorf("opening log segment %d: %w", seg, err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, fmt.Errorf("seeking log segment %d: %w", seg, err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: collect it whole.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return off, nil // a partial line, if any, is not consumed
			}
			return off, fmt.Errorf("reading log segment %d: %w", seg, err)
		}
		off += int64(len(line))
		body := line[:len(line)-1]
		if !json.Valid(body) {
			continue
		}
		if err := fn(Position{Segment: seg, Offset: off}, body); err != nil {
			return off, err
		}
	}
}
