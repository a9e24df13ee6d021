package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSameDaysInEveryMachineZone: at 10:30 UTC by the API's clock, when
// it is already tomorrow in Pacific/Kiritimati (UTC+14) and still
// yesterday in Pacific/Pago_Pago (UTC-11), machines in those zones and in
// UTC agree with the API on today: check takes a start_date of the API's
// today, and a read from the default start_date (90 days back, where the
// fake books a row) gives the same booked and pending rows and the same
// booked_through, with no date_from after the API's today (the fake
// refuses one, DATE_FROM_IN_FUTURE).
func TestSameDaysInEveryMachineZone(t *testing.T) {
	_, _ = time.Now().Zone() // this process's zone is loaded before TZ changes: TZ is for the binary
	at := time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)
	var want string
	for _, zone := range []string{"UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		t.Setenv("TZ", zone)
		started := time.Now()
		e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20, Now: func() time.Time { return at.Add(time.Since(started)) }})
		if cs, _ := st.CheckRun(t, e.bin, e.config(map[string]any{"start_date": at.Format(time.DateOnly)})); cs.Status != protocol.StatusSucceeded {
			t.Errorf("TZ=%s: check with start_date %s, the API's today: %s %q", zone, at.Format(time.DateOnly), cs.Status, cs.Message)
		}
		r := e.run(e.catalog(true, "transactions", "pending_transactions"), map[string]any{"start_date": nil})
		if r.Code != 0 {
			t.Fatalf("TZ=%s: read exited %d: %v", zone, r.Code, r.ErrorTraces())
		}
		got := daysSeen(t, r)
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("TZ=%s read other days than TZ=UTC:\n%s", zone, st.Diff(want, got, 1, 20))
		}
	}
}

// daysSeen is what a read made of the days: its transactions and pending
// rows, sorted, and each account's booked_through.
func daysSeen(t *testing.T, r *st.Result) string {
	t.Helper()
	var lines []string
	for _, stream := range []string{"transactions", "pending_transactions"} {
		for _, raw := range r.Records()[stream] {
			lines = append(lines, stream+" "+string(raw))
		}
	}
	var state struct {
		Accounts map[string]struct {
			BookedThrough string `json:"booked_through"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(r.FinalStates()["transactions"], &state), "transactions state")
	for k, a := range state.Accounts {
		lines = append(lines, "booked_through "+k+" "+a.BookedThrough)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
