package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// TestLastPageSpellings: the last transactions page ends the chain
// whether its continuation_key is null, absent (the reference allows
// both) or an empty string, and every row of every page is read.
func TestLastPageSpellings(t *testing.T) {
	for _, style := range []string{"", "absent", "empty"} {
		t.Run("continuation_key "+map[string]string{"": "null"}[style]+style, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60, PageSize: 7, LastPageKey: style})
			r := e.read(e.catalog(true, "transactions"))
			read := byUID(t, r.Records()["transactions"])
			for _, uid := range e.accounts() {
				if got, want := len(read[uid]), len(e.fake.Booked(uid)); got != want {
					t.Errorf("account %s: %d rows read, the bank has %d", uid, got, want)
				}
			}
			if s := e.fake.Stats(); s.Chains != len(e.accounts()) {
				t.Errorf("%d chains for %d accounts", s.Chains, len(e.accounts()))
			}
		})
	}
}

// TestRepeatedContinuationKeyStops: a bank that answers a continuation
// page with the key it was given would have a blind client call it until
// the page cap, a thousand calls against a bank that allows four a day.
// The read stops at the repeat, after two calls: a transient error naming
// the account, its state kept, the other accounts read.
func TestRepeatedContinuationKeyStops(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60, PageSize: 7})
	uids := e.accounts()
	looping := uids[0]
	e.fake.RepeatKey(looping)
	r := e.run(e.catalog(true, "transactions"), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	hash := e.fake.IdentificationHash(looping)
	found := false
	for _, tr := range r.ErrorTraces() {
		found = found || tr.FailureType == protocol.TransientError && strings.Contains(tr.Message, hash) && strings.Contains(tr.Message, "same continuation key twice")
	}
	if !found {
		t.Errorf("no transient error naming %s and the repeated key: %q", hash, errorTexts(r))
	}
	calls := e.fake.Stats().Requests[fake.RouteTransactions][200]
	other := len(e.fake.Booked(uids[1]))
	otherPages := (other + len(e.fake.Pending(uids[1])) + 6) / 7
	if calls > 2+otherPages+1 {
		t.Errorf("%d transactions calls; the looping account should have cost 2", calls)
	}
	read := byUID(t, r.Records()["transactions"])
	if len(read[looping]) != 0 {
		t.Errorf("%d rows of the looping account emitted", len(read[looping]))
	}
	if got := len(read[uids[1]]); got != other {
		t.Errorf("the other account: %d rows, the bank has %d", got, other)
	}
}

// TestAccountWithoutUIDIsNamed: the reference says a session's account may
// come without a uid when its data cannot be fetched (blocked, closed).
// Such an account cannot be called; the read says so once, naming the
// session and the account's identification_hash, and reads the others.
func TestAccountWithoutUIDIsNamed(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20})
	uids := e.accounts()
	e.fake.BlockAccount(uids[0])
	r := e.read(e.catalog(true, "accounts", "transactions"))
	if !r.Warned("without a uid", e.fake.SessionIDs()[0], e.fake.IdentificationHash(uids[0])) {
		t.Error("no WARN naming the session and the account without a uid")
	}
	read := byUID(t, r.Records()["transactions"])
	if len(read[uids[1]]) == 0 {
		t.Error("the other account was not read")
	}
	if n := len(r.Records()["accounts"]); n != 1 {
		t.Errorf("%d accounts records, want 1", n)
	}
}
