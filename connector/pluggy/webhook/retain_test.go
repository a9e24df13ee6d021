package webhook

import (
	"context"
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
