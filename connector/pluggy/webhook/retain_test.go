package webhook

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReadChangesNoticesPruningSinceAReadOfNoLog: a read that found no
// segment (the receiver had not started) takes the log's start as its
// position, which names no segment. If a receiver with --retain has
// removed segments before the next read, that read must reset (a WARN, the
// whole log, every account reconciled), not take the rest for the whole
// log: the removed segments' events were never read.
func TestReadChangesNoticesPruningSinceAReadOfNoLog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first, err := ReadChanges(ctx, dir, "")
	if err != nil || first.Reset || !first.Unwritten {
		t.Fatalf("a log no receiver opened: %+v %v", first, err)
	}
	old := time.Now().AddDate(0, 0, -40)
	for i, id := range []string{"e1", "e2"} {
		l, _, err := Open(ctx, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Parse([]byte(`{"event":"item/updated","eventId":"` + id + `","itemId":"11111111-1111-4111-8111-111111111111"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, ev, old.AddDate(0, 0, i)); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	unpruned, err := ReadChanges(ctx, dir, first.End)
	if err != nil || unpruned.Reset || unpruned.Events != 2 {
		t.Fatalf("from the start of a log not pruned: %+v %v, want its 2 events and no reset", unpruned, err)
	}
	l, p, err := Open(ctx, dir, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(p.Segments) != 1 || l.Len() != 1 {
		t.Fatalf("opening with a retention of 30 days pruned %+v, want e1's segment", p)
	}
	got, err := ReadChanges(ctx, dir, first.End)
	if err != nil || !got.Reset || got.Events != 1 {
		t.Fatalf("from the start of a log pruned since: %+v %v, want a reset and e2", got, err)
	}
	if again, err := ReadChanges(ctx, dir, ""); err != nil || again.Reset {
		t.Fatalf("a first read (no position) of a pruned log: %+v %v, want no reset", again, err)
	}
}

// TestReadChangesNoticesPruningDuringAReadOfNoLog: a read from the start
// of a log that held no segment checks PRUNED, then reads the log. A prune
// that comes between the two (it records PRUNED and removes the oldest
// segment in a moment) left the read the segments after it and no sign
// that one went: the read took them for the whole log, without a reset,
// and the removed segment's event was never applied. PRUNED is checked
// again once the log is read.
func TestReadChangesNoticesPruningDuringAReadOfNoLog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first, err := ReadChanges(ctx, dir, "")
	if err != nil || !first.Unwritten {
		t.Fatalf("a log no receiver opened: %+v %v", first, err)
	}
	old := time.Now().AddDate(0, 0, -40)
	for i, id := range []string{"e1", "e2"} {
		l, _, err := Open(ctx, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Parse([]byte(`{"event":"item/updated","eventId":"` + id + `","itemId":"11111111-1111-4111-8111-111111111111"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, ev, old.AddDate(0, 0, i)); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	// The receiver runs, keeping everything until its prune comes: in
	// the middle of the read.
	l, _, err := Open(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var pruned Pruned
	afterPrunedCheck = func() {
		if pruned, err = l.Prune(ctx, time.Now().AddDate(0, 0, -30)); err != nil {
			t.Errorf("pruning: %v", err)
		}
	}
	defer func() { afterPrunedCheck = func() {} }()
	got, err := ReadChanges(ctx, dir, first.End)
	if len(pruned.Segments) != 1 {
		t.Fatalf("the prune in the middle of the read removed %+v, want e1's segment", pruned)
	}
	if err != nil || !got.Reset || got.Events != 1 || !strings.Contains(got.ResetReason, "while it was read") {
		t.Fatalf("from the start of a log pruned while it was read: %+v %v, want a reset and e2", got, err)
	}
}
