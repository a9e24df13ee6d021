package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReadChangesFoldsEventsPerAccount(t *testing.T) {
	dir := t.TempDir()
	w, _, err := Open(context.Background(), dir, 0)
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
	add(`{"event":"transactions/deleted","eventId":"e1","itemId":"11111111-1111-4111-8111-111111111111","accountId":"aaaaaaaa-0000-4000-8000-000000000001","transactionIds":["CCCCCCCC-0000-4000-8000-000000000001","cccccccc-0000-4000-8000-000000000002"]}`)
	add(`{"event":"transactions/updated","eventId":"e2","itemId":"11111111-1111-4111-8111-111111111111","accountId":"aaaaaaaa-0000-4000-8000-000000000001","transactionIds":["cccccccc-0000-4000-8000-000000000001","cccccccc-0000-4000-8000-000000000003"]}`)
	add(`{"event":"transactions/created","eventId":"e3","itemId":"11111111-1111-4111-8111-111111111111","accountId":"bbbbbbbb-0000-4000-8000-000000000002","transactionsCreatedAtFrom":"2026-01-02T00:00:00.000Z"}`)
	add(`{"event":"transactions/created","eventId":"e4","itemId":"11111111-1111-4111-8111-111111111111","accountId":"bbbbbbbb-0000-4000-8000-000000000002","transactionsCreatedAtFrom":"2026-01-01T00:00:00.000Z"}`)
	add(`{"event":"item/updated","eventId":"e5","itemId":"11111111-1111-4111-8111-111111111111","triggeredBy":"SYNC"}`)
	ch, err := ReadChanges(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := ch.Accounts["aaaaaaaa-0000-4000-8000-000000000001"], ch.Accounts["bbbbbbbb-0000-4000-8000-000000000002"]
	if ch.Events != 5 || fmt.Sprint(a.IDs()) != "[cccccccc-0000-4000-8000-000000000001 cccccccc-0000-4000-8000-000000000002 cccccccc-0000-4000-8000-000000000003]" || !b.Created || b.CreatedAtFrom.Day() != 1 || !ch.Items["11111111-1111-4111-8111-111111111111"] {
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

// TestNonUUIDIDs: the receiver's check refuses an event with any id that is
// not a UUID, naming the field; a log that holds such an event (an older
// receiver's) is read without those ids, and the event is listed.
func TestNonUUIDIDs(t *testing.T) {
	const item, acct, tx = "11111111-1111-4111-8111-111111111111", "aaaaaaaa-0000-4000-8000-000000000001", "cccccccc-0000-4000-8000-000000000001"
	for body, field := range map[string]string{
		`{"event":"transactions/deleted","eventId":"e1","itemId":"` + item + `","accountId":"` + acct + `","transactionIds":["a","b"]}`:              "transactionIds",
		`{"event":"transactions/updated","eventId":"e1","itemId":"i","accountId":"` + acct + `","transactionIds":["` + tx + `"]}`:                    "itemId",
		`{"event":"transactions/created","eventId":"e1","itemId":"` + item + `","accountId":"A","transactionsCreatedAtFrom":"2026-01-01T00:00:00Z"}`: "accountId",
		`{"event":"item/updated","eventId":"e1","itemId":"i1"}`:                                                                                      "itemId",
	} {
		ev, err := Parse([]byte(body))
		if err != nil {
			t.Fatalf("Parse %s: %v", body, err)
		}
		var se *ShapeError
		if err := CheckIDs(ev); !errors.As(err, &se) || !strings.Contains(se.Msg, `"`+field+`"`) {
			t.Errorf("CheckIDs(%s) = %v, want a ShapeError naming %s", body, err, field)
		}
	}
	ev, _ := Parse([]byte(`{"event":"transactions/deleted","eventId":"e1","itemId":"` + item + `","accountId":"` + acct + `","transactionIds":["` + strings.ToUpper(tx) + `"]}`))
	if err := CheckIDs(ev); err != nil {
		t.Errorf("an upper-case UUID: %v", err)
	}

	ch := newChanges()
	ch.addPayload([]byte(`{"event":"transactions/deleted","eventId":"e1","itemId":"` + item + `","accountId":"` + acct + `","transactionIds":["a","` + tx + `","b"]}`))
	ch.addPayload([]byte(`{"event":"transactions/updated","eventId":"e2","itemId":"` + item + `","accountId":"bbbbbbbb-0000-4000-8000-000000000002","transactionIds":["c"]}`))
	ch.addPayload([]byte(`{"event":"transactions/created","eventId":"e3","itemId":"` + item + `","accountId":"A","transactionsCreatedAtFrom":"2026-01-01T00:00:00Z"}`))
	if a := ch.Accounts[acct]; a == nil || fmt.Sprint(a.IDs()) != "["+tx+"]" || len(ch.Accounts) != 1 {
		t.Fatalf("accounts %v, want only %s with %s", ch.Accounts, acct, tx)
	}
	if got := fmt.Sprint(ch.NonUUID); got != "[{transactions/deleted e1 transactionIds [a b]} {transactions/updated e2 transactionIds [c]} {transactions/created e3 accountId [A]}]" {
		t.Fatalf("NonUUID %s", got)
	}
}
