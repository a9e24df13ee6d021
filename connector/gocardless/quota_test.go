package gocardless

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/quota"
)

var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func TestAccountQuotaHeaderSpellings(t *testing.T) {
	for name, h := range map[string]http.Header{
		"documented": {"HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING": {"0"}, "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET": {"3600"}},
		"canonical":  {"Http_x_ratelimit_account_success_remaining": {"0"}, "Http_x_ratelimit_account_success_reset": {"3600"}},
		"x-prefix":   {"X-Ratelimit-Account-Success-Remaining": {"0"}, "X-Ratelimit-Account-Success-Reset": {"3600"}},
		"lowercase":  {"x-ratelimit-account-success-remaining": {"0"}, "x-ratelimit-account-success-reset": {"3600"}},
	} {
		q, ok := accountQuota(h, t0)
		if !ok || q.Remaining != 0 || q.ResetAt != "2025-03-14T10:30:00Z" {
			t.Errorf("%s: %+v %v", name, q, ok)
		}
	}
	// The general headers are not the account's.
	if _, ok := accountQuota(http.Header{"X-Ratelimit-Remaining": {"0"}}, t0); ok {
		t.Error("general header read as the account's")
	}
	// Spent without a reset: the whole window.
	q, _ := accountQuota(http.Header{"X-Ratelimit-Account-Success-Remaining": {"0"}}, t0)
	if q.ResetAt != "2025-03-15T09:30:00Z" {
		t.Errorf("reset %s", q.ResetAt)
	}
}

func TestDetailSeconds(t *testing.T) {
	d, ok := detailSeconds("The rate limit for this resource is 4/day. Please try again in 85092 seconds")
	if !ok || d != 85092*time.Second {
		t.Fatalf("%v %v", d, ok)
	}
	if _, ok := detailSeconds("Daily request limit set by the Institution has been exceeded"); ok {
		t.Fatal("seconds found in a detail without any")
	}
}

func TestLedgerRunObservationsWinOverState(t *testing.T) {
	l := quota.NewLedger[allowance](func() time.Time { return t0 })
	l.Update("a", quota.Transactions, func(q *allowance) { *q = allowance{Remaining: 2, ResetAt: httpclient.FormatTime(t0)} })
	inAnHour := httpclient.FormatTime(t0.Add(time.Hour))
	l.Seed(quota.Transactions, map[string]*allowance{"a": {Remaining: 0, ResetAt: inAnHour}, "b": {Remaining: 0, ResetAt: inAnHour}})
	if q := l.Get("a", quota.Transactions); q.Remaining != 2 {
		t.Errorf("state overwrote this run's observation: %+v", q)
	}
	q := l.Get("b", quota.Transactions)
	if reset, spent := q.spent(t0); !spent || !reset.Equal(t0.Add(time.Hour)) {
		t.Errorf("b not spent until its reset: %+v", q)
	}
	if _, spent := q.spent(t0.Add(time.Hour)); spent {
		t.Error("still spent at its reset")
	}
	if n := len(l.Snapshot(quota.Details)); n != 0 {
		t.Errorf("details snapshot has %d entries", n)
	}
}

// TestLedgerDropsAResetBeyondADay: a state's reset more than a day away is
// dropped (nothing is known: the account is called), and said so.
func TestLedgerDropsAResetBeyondADay(t *testing.T) {
	l := quota.NewLedger[allowance](func() time.Time { return t0 })
	dropped := l.Seed(quota.Transactions, map[string]*allowance{"a": {Remaining: 0, ResetAt: "2058-01-01T00:00:00Z"}})
	if !strings.Contains(dropped["a"], "2058-01-01T00:00:00Z") {
		t.Errorf("dropped %v", dropped)
	}
	if _, spent := l.Get("a", quota.Transactions).spent(t0); spent {
		t.Error("an account with an absurd reset is skipped")
	}
	if n := len(l.Snapshot(quota.Transactions)); n != 0 {
		t.Errorf("the dropped entry is written back: %v", l.Snapshot(quota.Transactions))
	}
}
