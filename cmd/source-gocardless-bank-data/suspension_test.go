package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
)

// TestFailingBankIsTriedOnceADayBeforeSuspension: GoCardless suspends an
// account after 10 failed accesses in a row, and only a new requisition
// brings it back. A run tries a failing bank twice at most; with its
// state the next runs know how many failed before. From 6 in a row the
// account is tried once a day, without a second try, until a call
// succeeds, which clears the count. An hourly job used to have the
// account suspended in its fifth run.
func TestFailingBankIsTriedOnceADayBeforeSuspension(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	failing := e.accounts()[0]
	e.fake.SetInstitutionError(failing, http.StatusInternalServerError)
	cat, state := e.catalog(true), filepath.Join(t.TempDir(), "state.json")
	failedCalls := func() (n int) {
		s := e.fake.Stats()
		for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
			n += s.Requests[route][500]
			if s.Requests[route][409] > 0 {
				t.Fatalf("an account was suspended (%s answered 409)", route)
			}
		}
		return n
	}
	run := func() int {
		e.fake.ResetStats()
		r := e.run(cat, nil, "--state-file", state)
		if r.Code != 1 {
			t.Fatalf("exit %d with a failing bank, want 1", r.Code)
		}
		return failedCalls()
	}

	total := 0
	for i := 1; i <= 6; i++ { // hourly runs
		total += run()
		e.fake.AdvanceClock(time.Hour)
	}
	if total != 6 {
		t.Errorf("%d failed calls in six hourly runs; want 2, 2 and 2, then none", total)
	}
	r := e.run(cat, nil, "--state-file", state)
	if len(errorsMention(r, failing, "tries it once a day", "not before")) == 0 {
		t.Errorf("no error saying the account is tried once a day: %+v", r.ErrorTraces())
	}

	e.fake.AdvanceClock(24 * time.Hour)
	if n := run(); n != 1 {
		t.Errorf("%d failed calls a day later; want one try, no second", n)
	}
	if n := run(); n != 0 {
		t.Errorf("%d failed calls in the next run of the same day; want none", n)
	}

	// The bank answers again: the next day's try succeeds, and the count
	// is cleared, so the run after it reads the account as usual.
	e.fake.SetInstitutionError(failing, 0)
	e.fake.AdvanceClock(24 * time.Hour)
	e.fake.ResetStats()
	if r := e.run(cat, nil, "--state-file", state); r.Code != 0 {
		t.Fatalf("exit %d once the bank answers: %+v", r.Code, r.ErrorTraces())
	}
	e.fake.SetInstitutionError(failing, http.StatusInternalServerError)
	e.fake.AdvanceClock(time.Hour)
	if n := run(); n != 2 {
		t.Errorf("%d failed calls after the count was cleared; want the usual 2", n)
	}
}
