package gocardless

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/quota"
)

// The bank-level quota. GoCardless lets each institution cap the successful
// calls per account and per endpoint (details, balances, transactions) in a
// rolling 24 hours, down to 4. The connector never spends a call it knows
// will fail: every answer's per-account rate-limit headers (or a 429's
// "try again in N seconds") are recorded in the run's quota.Ledger, per
// account and endpoint, and kept in the state of the stream that calls
// that endpoint, so the next run knows too.

// capReset bounds a reset the API announced to quota.Window (the window
// is a rolling 24 hours), and says whether it had to: one absurd value (a
// reset in 999999999 seconds) would otherwise skip the account until 2058.
func capReset(d time.Duration) (time.Duration, bool) {
	if d > quota.Window {
		return quota.Window, true
	}
	return d, false
}

// allowance is what the bank said of one account's quota for one
// endpoint: an entry of the quota books (quota.Entry), stored in stream
// state as {"remaining": 0, "reset_at": "…"}.
type allowance struct {
	// Remaining is the number of calls left in the window; -1 when unknown.
	Remaining int `json:"remaining"`
	// ResetAt is when Remaining next grows (RFC 3339, UTC): the oldest
	// counted call leaves the window.
	ResetAt string `json:"reset_at,omitempty"`
	// Failed counts the endpoint's failed accesses in a row (the bank's
	// 500s), over runs, and FailedAt is the last one's time: GoCardless
	// suspends an account after 10 failed accesses in a row, and a run
	// alone cannot know how many earlier runs spent (see suspensionGuard).
	// A call that succeeds clears them on every endpoint of the account.
	Failed   int    `json:"failed,omitempty"`
	FailedAt string `json:"failed_at,omitempty"`
}

// ledger is the run's quota books.
type ledger = quota.Ledger[allowance, *allowance]

func (q *allowance) failedAt() time.Time {
	t, _ := time.Parse(time.RFC3339, q.FailedAt)
	return t
}

func (q *allowance) resetAt() time.Time {
	t, _ := time.Parse(time.RFC3339, q.ResetAt)
	return t
}

// spent reports that a call now would fail, and until when.
func (q *allowance) spent(now time.Time) (time.Time, bool) {
	r := q.resetAt()
	return r, q.Remaining == 0 && r.After(now)
}

// Check implements quota.Entry.
func (q *allowance) Check() error {
	if q.Remaining < -1 {
		return fmt.Errorf("remaining %d is negative", q.Remaining)
	}
	if q.Failed < 0 {
		return fmt.Errorf("failed %d is negative", q.Failed)
	}
	if _, err := time.Parse(time.RFC3339, q.FailedAt); err != nil && q.FailedAt != "" {
		return fmt.Errorf("failed_at %q is not an RFC 3339 timestamp", q.FailedAt)
	}
	if _, err := time.Parse(time.RFC3339, q.ResetAt); err != nil && q.ResetAt != "" {
		return fmt.Errorf("reset_at %q is not an RFC 3339 timestamp", q.ResetAt)
	}
	return nil
}

// Trim implements quota.Entry: a reset further than a day from now cannot
// be right, so nothing is known; the account is called and its answer says
// where it stands.
func (q *allowance) Trim(now time.Time) string {
	if r := q.resetAt(); r.After(now.Add(quota.Window + time.Minute)) {
		*q = allowance{Failed: q.Failed, FailedAt: q.FailedAt}
		return "it resets at " + httpclient.FormatTime(r)
	}
	return ""
}

// Keep implements quota.Entry: whatever the bank said is kept.
func (q *allowance) Keep(time.Time) bool { return *q != allowance{} }

// Clone implements quota.Entry.
func (q *allowance) Clone() *allowance { c := *q; return &c }

// rateLimitHeader returns the value of a rate-limit header however the API
// or a proxy spelled it: HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING,
// x-ratelimit-account-success-remaining, any case. name is the x- spelling.
func rateLimitHeader(h http.Header, name string) (string, bool) {
	for k, v := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		n = strings.TrimPrefix(n, "http-")
		if n == name && len(v) > 0 {
			return strings.TrimSpace(v[0]), true
		}
	}
	return "", false
}

func rateLimitInt(h http.Header, name string) (int, bool) {
	v, ok := rateLimitHeader(h, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// accountQuota reads the per-account headers of an answer, if it has them.
func accountQuota(h http.Header, now time.Time) (allowance, bool) {
	remaining, ok := rateLimitInt(h, "x-ratelimit-account-success-remaining")
	if !ok {
		return allowance{}, false
	}
	q := allowance{Remaining: remaining}
	if reset, ok := rateLimitInt(h, "x-ratelimit-account-success-reset"); ok {
		d, _ := capReset(time.Duration(min(reset, 1<<30)) * time.Second)
		q.ResetAt = httpclient.FormatTime(now.Add(d))
	} else if remaining == 0 {
		q.ResetAt = httpclient.FormatTime(now.Add(quota.Window))
	}
	return q, true
}

// tryAgainIn matches the seconds of a 429's detail: "The rate limit for this
// resource is 4/day. Please try again in 85092 seconds".
var tryAgainIn = regexp.MustCompile(`(?i)try again in (\d+) seconds?`)

// detailSeconds reads the seconds a 429's detail asks to wait.
func detailSeconds(detail string) (time.Duration, bool) {
	m := tryAgainIn.FindStringSubmatch(detail)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return time.Duration(n) * time.Second, err == nil
}
