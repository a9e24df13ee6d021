package enablebanking

import (
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/quota"
)

func TestLedger(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	l := newLedger(2, false, func() time.Time { return now })
	for range 2 {
		if _, _, ok := l.allow("a", quota.Balances); !ok {
			t.Fatal("refused within the limit")
		}
		l.spend("a", quota.Balances)
		now = now.Add(time.Hour)
	}
	until, refusal, ok := l.allow("a", quota.Balances)
	if ok || refusal || !until.Equal(time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("third call: allowed %v (for a refusal %v) until %v", ok, refusal, until)
	}
	if _, _, ok := l.allow("b", quota.Balances); !ok {
		t.Fatal("another account was limited")
	}
	now = now.Add(23 * time.Hour) // the first call leaves the window
	if _, _, ok := l.allow("a", quota.Balances); !ok {
		t.Fatal("still limited after the window")
	}
	// A refusal the books do not explain (someone else's calls, or a
	// coarser unit) holds a day, says so, and survives the state round
	// trip.
	until, made := l.refused("c", quota.Transactions)
	if made != 0 || !until.Equal(now.Add(quota.Window)) {
		t.Fatalf("unexplained refusal: until %v, %d calls made", until, made)
	}
	l2 := newLedger(2, false, func() time.Time { return now })
	l2.Seed(quota.Transactions, l.Snapshot(quota.Transactions))
	if got, refusal, ok := l2.allow("c", quota.Transactions); ok || !refusal || !got.Equal(until) {
		t.Fatalf("seeded refusal: allowed %v (for a refusal %v) until %v", ok, refusal, got)
	}
	// Attended: no counting.
	la := newLedger(1, true, func() time.Time { return now })
	la.spend("a", quota.Details)
	if _, _, ok := la.allow("a", quota.Details); !ok {
		t.Fatal("attended calls were limited")
	}
}
