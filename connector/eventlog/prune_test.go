package eventlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// atStamp reads a test line's "at" (RFC 3339), as a receiver's receivedAt.
func atStamp(line []byte) (time.Time, bool) {
	var v struct {
		At time.Time `json:"at"`
	}
	if json.Unmarshal(line, &v) != nil || v.At.IsZero() {
		return time.Time{}, false
	}
	return v.At, true
}

func line(id string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"at":%q}`, id, at.Format(time.RFC3339Nano)))
}

// writeSegments writes one segment per group of ids, each by a writer of
// its own (a receiver's restarts), its lines stamped at the group's time,
// and returns the segments' numbers.
func writeSegments(t *testing.T, dir string, at []time.Time, ids ...[]string) []uint64 {
	t.Helper()
	var segs []uint64
	for i, group := range ids {
		w, err := Open(dir, idKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range group {
			if _, err := w.Append(line(id, at[i])); err != nil {
				t.Fatal(err)
			}
		}
		segs = append(segs, w.seg)
		w.Close()
	}
	return segs
}

// TestRetainRemovesOldSegmentsOldestFirst: a writer opened with a retention
// removes the segments whose successor was begun before it, reads only the
// rest (their keys alone are known), keeps the newest segment, and a
// later Prune removes the next once the current segment is old enough;
// a reader's position in a removed segment is gone, one in a kept segment
// reads every later line.
func TestRetainRemovesOldSegmentsOldestFirst(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	segs := writeSegments(t, dir, []time.Time{now.Add(-40 * day), now.Add(-35 * day), now.Add(-2 * day)},
		[]string{"a1", "a2"}, []string{"b1"}, []string{"c1"})
	var inA, inB Position
	_, _ = Read(dir, Position{}, func(p Position, l []byte) error {
		switch idKey(l) {
		case "a1":
			inA = p
		case "b1":
			inB = p
		}
		return nil
	})

	w, err := OpenWith(dir, idKey, Options{Retain: 30 * day, Stamp: atStamp, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// a's successor b was begun 35 days ago: a goes. b's successor c was
	// begun 2 days ago: b stays, though its line is 35 days old (a reader
	// that read in the last 30 days may hold a position at its end).
	p := w.OpenPruned()
	if fmt.Sprint(p.Segments) != fmt.Sprint([]string{segmentName(segs[0])}) || p.Bytes == 0 {
		t.Fatalf("opening pruned %+v, want segment %d", p, segs[0])
	}
	if n, err := PrunedThrough(dir); err != nil || n != segs[0] {
		t.Fatalf("PrunedThrough = %d, %v; want %d, the segment removed", n, err, segs[0])
	}
	if w.Len() != 2 {
		t.Fatalf("the writer knows %d keys, want 2 (b1, c1: only the retained segments are read)", w.Len())
	}
	if _, err := w.Append(line("b1", now)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("b1 again: %v, want ErrDuplicate", err)
	}
	if _, err := w.Append(line("a1", now)); err != nil {
		t.Fatalf("a1, whose segment was removed: %v, want it appended", err)
	}
	if _, err := Read(dir, inA, func(Position, []byte) error { return nil }); !errors.Is(err, ErrPositionGone) {
		t.Fatalf("Read from %v, in the removed segment: %v, want ErrPositionGone", inA, err)
	}
	if ids, _ := readAll(t, dir, inB); fmt.Sprint(ids) != "[c1 a1]" {
		t.Fatalf("read from %v, in a kept segment: %v, want [c1 a1]", inB, ids)
	}

	// The current segment's first line (a1, stamped now) dates it: in 30
	// days, c goes; b went first, as it comes before it. The current
	// segment never goes.
	p, err = w.Prune(now.Add(30*day + time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.Segments) != fmt.Sprint([]string{segmentName(segs[1]), segmentName(segs[2])}) || p.Keys != 2 {
		t.Fatalf("Prune removed %+v, want segments %d and %d and 2 keys", p, segs[1], segs[2])
	}
	left, err := Segments(dir)
	if err != nil || fmt.Sprint(left) != fmt.Sprint([]string{segmentName(w.seg)}) {
		t.Fatalf("segments left %v (%v), want only the current one", left, err)
	}
	if _, err := w.Append(line("c1", now)); err != nil {
		t.Fatalf("c1, whose segment was removed: %v", err)
	}
	if _, err := w.Append(line("a1", now)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a1, in the current segment: %v, want ErrDuplicate", err)
	}
}

// TestReadNoticesASegmentPrunedWhileItReads: a segment the reader listed
// and a writer removed before the reader opened it is reported as
// ErrPositionGone, not skipped: reading on from the next segment would
// lose its lines without a word.
func TestReadNoticesASegmentPrunedWhileItReads(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	segs := writeSegments(t, dir, []time.Time{now, now, now}, []string{"a"}, []string{"b"}, []string{"c"})
	var got []string
	_, err := Read(dir, Position{}, func(_ Position, l []byte) error {
		got = append(got, idKey(l))
		if len(got) == 1 { // a prune while the reader is in the first segment
			for _, n := range segs[:2] {
				if err := os.Remove(filepath.Join(dir, segmentName(n))); err != nil {
					t.Fatal(err)
				}
			}
		}
		return nil
	})
	if !errors.Is(err, ErrPositionGone) || fmt.Sprint(got) != "[a]" {
		t.Fatalf("Read handed %v and returned %v; want [a] and ErrPositionGone", got, err)
	}
}
