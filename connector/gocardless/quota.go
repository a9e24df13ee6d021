package gocardless

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
)

// The bank-level quota. GoCardless lets each institution cap the successful
// calls per account and per endpoint (details, balances, transactions) in a
// rolling 24 hours, down to 4. The connector never spends a call it knows
// will fail: every answer's per-account rate-limit headers (or a 429's
// "try again in N seconds") are recorded here, per account and endpoint, and
// kept in the state of the stream that calls that endpoint, so the next run
// knows too.

// Endpoints with a bank-level quota, as state and messages name them.
const (
	endpointDetails      = "details"
	endpointBalances     = "balances"
	endpointTransactions = "transactions"
)

// quotaWindow is how long a spent quota lasts at most: the window is a
// rolling 24 hours. It is the reset assumed when the API says nothing, and
// the most any header, 429 detail or state can claim: one absurd value
// (a reset in 999999999 seconds) would otherwise skip the account until
// 2058 in every later run.
const quotaWindow = 24 * time.Hour

// capReset bounds a reset the API announced to quotaWindow, and says
// whether it had to.
func capReset(d time.Duration) (time.Duration, bool) {
	if d > quotaWindow {
		return quotaWindow, true
	}
	return d, false
}

// quota is what is known of one account's quota for one endpoint. It is
// stored in stream state as {"remaining": 0, "reset_at": "…"}.
type quota struct {
	// Remaining is the number of calls left in the window; -1 when unknown.
	Remaining int `json:"remaining"`
	// ResetAt is when Remaining next grows (RFC 3339, UTC): the oldest
	// counted call leaves the window.
	ResetAt string `json:"reset_at,omitempty"`
}

func (q quota) resetAt() time.Time {
	t, _ := time.Parse(time.RFC3339, q.ResetAt)
	return t
}

// spent reports that a call now would fail, and until when.
func (q quota) spent(now time.Time) (time.Time, bool) {
	r := q.resetAt()
	return r, q.Remaining == 0 && r.After(now)
}

type quotaKey struct{ account, endpoint string }

// ledger is the run's knowledge of every account's quotas, shared by the
// streams: seeded from each stream's state as it starts, updated by every
// answer. What this run observed wins over what a state says.
type ledger struct {
	mu       sync.Mutex
	m        map[quotaKey]quota
	observed map[quotaKey]bool
	capped   map[quotaKey]bool // warned about an absurd reset this run
}

func newLedger() *ledger {
	return &ledger{m: map[quotaKey]quota{}, observed: map[quotaKey]bool{}, capped: map[quotaKey]bool{}}
}

// firstCap reports whether an absurd reset of account's endpoint is new
// this run, so it is warned about once.
func (l *ledger) firstCap(account, endpoint string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := quotaKey{account, endpoint}
	first := !l.capped[k]
	l.capped[k] = true
	return first
}

// seed loads what a stream's state says about endpoint. A reset further
// than a day from now cannot be right (no window is longer), so it is
// dropped: the account is called and its answer says where it stands.
// dropped lists the accounts whose reset was.
func (l *ledger) seed(endpoint string, st map[string]quota, now time.Time) (dropped []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for acct, q := range st {
		k := quotaKey{acct, endpoint}
		if r := q.resetAt(); r.After(now.Add(quotaWindow + time.Minute)) {
			dropped = append(dropped, acct)
			continue
		}
		if !l.observed[k] {
			l.m[k] = q
		}
	}
	return dropped
}

func (l *ledger) observe(account, endpoint string, q quota) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := quotaKey{account, endpoint}
	l.m[k] = q
	l.observed[k] = true
}

func (l *ledger) get(account, endpoint string) (quota, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, ok := l.m[quotaKey{account, endpoint}]
	return q, ok
}

// snapshot returns what is known of endpoint for every account, for a
// stream's state.
func (l *ledger) snapshot(endpoint string) map[string]quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]quota{}
	for k, q := range l.m {
		if k.endpoint == endpoint {
			out[k.account] = q
		}
	}
	return out
}

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
func accountQuota(h http.Header, now time.Time) (quota, bool) {
	remaining, ok := rateLimitInt(h, "x-ratelimit-account-success-remaining")
	if !ok {
		return quota{}, false
	}
	q := quota{Remaining: remaining}
	if reset, ok := rateLimitInt(h, "x-ratelimit-account-success-reset"); ok {
		d, _ := capReset(time.Duration(min(reset, 1<<30)) * time.Second)
		q.ResetAt = httpclient.FormatTime(now.Add(d))
	} else if remaining == 0 {
		q.ResetAt = httpclient.FormatTime(now.Add(quotaWindow))
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
