package enablebanking

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
)

// The unattended-access limit. PSD2 lets a bank refuse more than a few reads
// of an account a day without the account holder present (commonly 4);
// Enable Banking passes the refusal on as ASPSP_RATE_LIMIT_EXCEEDED and says
// nothing in advance (no rate-limit headers). So the connector keeps its own
// books, per account and endpoint (details, balances, transactions): the
// times of its successful unattended calls in the last 24 hours, and until
// when a refusal holds. A call that config.daily_limit says would go over,
// or that falls before a refusal's end, is not made: the stream warns and
// completes, and a run after the reset reads the account. A refusal is never
// retried in the run that got it. The counting unit and window are the
// bank's (per account or per consent, rolling or calendar day, which banks
// do not say): a rolling 24 hours per account and endpoint is the
// conservative reading of both.

// Endpoints with a bank-level limit, as state and messages name them.
const (
	endpointDetails      = "details"
	endpointBalances     = "balances"
	endpointTransactions = "transactions"
)

// limitWindow is the span over which calls are counted, and how long a
// refusal lasts when nothing better is known.
const limitWindow = 24 * time.Hour

// usage is what is known of one account's limit for one endpoint. It is
// kept in stream state as {"calls": [...], "blocked_until": "..."}.
type usage struct {
	// Calls are the times (RFC 3339) of this connector's successful
	// unattended calls within the last 24 hours, oldest first.
	Calls []string `json:"calls,omitempty"`
	// BlockedUntil is when a refusal (429) stops holding.
	BlockedUntil string `json:"blocked_until,omitempty"`
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// prune drops calls older than the window.
func (u *usage) prune(now time.Time) {
	keep := u.Calls[:0]
	for _, c := range u.Calls {
		if parseTime(c).Add(limitWindow).After(now) {
			keep = append(keep, c)
		}
	}
	u.Calls = keep
	if u.BlockedUntil != "" && !parseTime(u.BlockedUntil).After(now) {
		u.BlockedUntil = ""
	}
}

func (u *usage) validate() error {
	for _, c := range u.Calls {
		if _, err := time.Parse(time.RFC3339, c); err != nil {
			return fmt.Errorf("calls: %q is not an RFC 3339 timestamp", c)
		}
	}
	if _, err := time.Parse(time.RFC3339, u.BlockedUntil); err != nil && u.BlockedUntil != "" {
		return fmt.Errorf("blocked_until: %q is not an RFC 3339 timestamp", u.BlockedUntil)
	}
	return nil
}

type usageKey struct{ account, endpoint string }

// ledger is the run's knowledge of every account's limits, shared by the
// streams: seeded from each stream's state as it starts, updated by every
// call. What this run did wins over what a state says.
type ledger struct {
	limit    int  // calls per window; 0: do not count
	attended bool // the limit does not apply; refusals still count
	now      func() time.Time

	mu       sync.Mutex
	m        map[usageKey]*usage
	observed map[usageKey]bool
}

func newLedger(limit int, attended bool, now func() time.Time) *ledger {
	return &ledger{limit: limit, attended: attended, now: now, m: map[usageKey]*usage{}, observed: map[usageKey]bool{}}
}

// seed loads what a stream's state says about endpoint.
//
// No window is longer than a day, so a state claiming a refusal that holds
// further than that, or calls made in the future, cannot be right (a
// hand-edited state, a clock gone wrong): those entries are dropped rather
// than leave the account unread for years. dropped lists the accounts.
func (l *ledger) seed(endpoint string, st map[string]*usage) (dropped []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for acct, u := range st {
		k := usageKey{acct, endpoint}
		if l.observed[k] || u == nil {
			continue
		}
		c := usage{BlockedUntil: u.BlockedUntil}
		bad := parseTime(c.BlockedUntil).After(now.Add(limitWindow + time.Minute))
		if bad {
			c.BlockedUntil = ""
		}
		for _, call := range u.Calls {
			if parseTime(call).After(now.Add(time.Minute)) {
				bad = true
				continue
			}
			c.Calls = append(c.Calls, call)
		}
		if bad {
			dropped = append(dropped, acct)
		}
		l.m[k] = &c
	}
	return dropped
}

func (l *ledger) get(k usageKey) *usage {
	u := l.m[k]
	if u == nil {
		u = &usage{}
		l.m[k] = u
	}
	return u
}

// allow says whether a call may be made now, and if not, until when not.
func (l *ledger) allow(account, endpoint string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	u := l.get(usageKey{account, endpoint})
	u.prune(now)
	if u.BlockedUntil != "" {
		return parseTime(u.BlockedUntil), false
	}
	if !l.attended && l.limit > 0 && len(u.Calls) >= l.limit {
		return parseTime(u.Calls[len(u.Calls)-l.limit]).Add(limitWindow), false
	}
	return time.Time{}, true
}

// spend records a successful call.
func (l *ledger) spend(account, endpoint string) {
	if l.attended {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := usageKey{account, endpoint}
	l.observed[k] = true
	u := l.get(k)
	u.Calls = append(u.Calls, httpclient.FormatTime(l.now()))
	sort.Strings(u.Calls)
	if l.limit > 0 && len(u.Calls) > l.limit {
		u.Calls = u.Calls[len(u.Calls)-l.limit:]
	}
}

// refused records a refusal and returns until when it holds: when the
// oldest call this connector knows of leaves the window, else a full
// window from now (someone else spent the calls, or the bank counts
// differently).
func (l *ledger) refused(account, endpoint string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := usageKey{account, endpoint}
	l.observed[k] = true
	u := l.get(k)
	u.prune(now)
	until := now.Add(limitWindow)
	if len(u.Calls) > 0 && l.limit > 0 && len(u.Calls) >= l.limit {
		until = parseTime(u.Calls[0]).Add(limitWindow)
	}
	u.BlockedUntil = httpclient.FormatTime(until)
	return until
}

// snapshot returns what is known of endpoint for every account, for a
// stream's state. Entries with nothing to say are left out.
func (l *ledger) snapshot(endpoint string) map[string]*usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := map[string]*usage{}
	for k, u := range l.m {
		if k.endpoint != endpoint {
			continue
		}
		u.prune(now)
		if len(u.Calls) > 0 || u.BlockedUntil != "" {
			c := *u
			c.Calls = append([]string(nil), u.Calls...)
			out[k.account] = &c
		}
	}
	return out
}
