package webhook

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestReadChangesFoldsEventsPerAccount(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	add := func(body string) {
		t.Helper()
		ev, err := Parse([]byte(body))
		if err != nil {
			t.Fatalf("Parse %s: %v", body, err)
		}
		if _, err := w.Append(context.Background(), ev, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	add(`{"event":"transactions/deleted","eventId":"e1","itemId":"i","accountId":"A","transactionIds":["X","y"]}`)
	add(`{"event":"transactions/updated","eventId":"e2","itemId":"i","accountId":"A","transactionIds":["x","z"]}`)
	add(`{"event":"transactions/created","eventId":"e3","itemId":"i","accountId":"B","transactionsCreatedAtFrom":"2026-01-02T00:00:00.000Z"}`)
	add(`{"event":"transactions/created","eventId":"e4","itemId":"i","accountId":"B","transactionsCreatedAtFrom":"2026-01-01T00:00:00.000Z"}`)
	add(`{"event":"item/updated","eventId":"e5","itemId":"i","triggeredBy":"SYNC"}`)
	ch, err := ReadChanges(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := ch.Accounts["A"], ch.Accounts["B"]
	if ch.Events != 5 || fmt.Sprint(a.IDs()) != "[x y z]" || !b.Created || b.CreatedAtFrom.Day() != 1 || !ch.Items["i"] {
		t.Fatalf("changes %+v, A %+v, B %+v", ch, a, b)
	}
	// From the end: nothing. From a position the log does not have: the
	// whole log again, flagged.
	again, err := ReadChanges(context.Background(), dir, ch.End)
	if err != nil || again.Events != 0 || again.Reset {
		t.Fatalf("from the end: %+v %v", again, err)
	}
	reset, err := ReadChanges(context.Background(), dir, "99:0")
	if err != nil || !reset.Reset || reset.Events != 5 {
		t.Fatalf("from a lost position: %+v %v", reset, err)
	}
}
