package enablebanking

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/quota"
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
// bank's (per account, per endpoint or per consent, rolling or calendar
// day, which banks do not say; the reference, §5, UNCERTAIN). A rolling 24
// hours is the conservative reading of the window: calls it allows are
// allowed by a calendar day too, so the connector's own calls never meet a
// refusal under either. The unit per account and endpoint is the least
// conservative, and the only one the books can count (a coarser unit is
// shared with other endpoints, accounts or applications the connector
// cannot see): under a coarser one the bank's refusal is what tells, and
// since the connector cannot know when a refusal it did not expect ends,
// it holds a full day (at most one refused call per account and endpoint
// a day, and nothing read too early). The books are a quota.Ledger, kept
// in the state of the stream that calls each endpoint (quota.State).

// usage is what the connector knows of one account's limit for one
// endpoint: an entry of the quota books (quota.Entry), kept in stream
// state as {"calls": [...], "blocked_until": "..."}.
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

// prune drops calls older than the window, and a refusal that has ended.
func (u *usage) prune(now time.Time) {
	var keep []string
	for _, c := range u.Calls {
		if parseTime(c).Add(quota.Window).After(now) {
			keep = append(keep, c)
		}
	}
	u.Calls = keep
	if u.BlockedUntil != "" && !parseTime(u.BlockedUntil).After(now) {
		u.BlockedUntil = ""
	}
}

// Check implements quota.Entry.
func (u *usage) Check() error {
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

// Trim implements quota.Entry: a refusal holding more than a day, or a
// call made in the future, cannot be right.
func (u *usage) Trim(now time.Time) string {
	var dropped []string
	if parseTime(u.BlockedUntil).After(now.Add(quota.Window + time.Minute)) {
		dropped = append(dropped, "a refusal holds until "+u.BlockedUntil)
		u.BlockedUntil = ""
	}
	var keep []string
	for _, c := range u.Calls {
		if parseTime(c).After(now.Add(time.Minute)) {
			dropped = append(dropped, "a call was made at "+c)
			continue
		}
		keep = append(keep, c)
	}
	u.Calls = keep
	return strings.Join(dropped, " and ")
}

// Keep implements quota.Entry.
func (u *usage) Keep(now time.Time) bool {
	u.prune(now)
	return len(u.Calls) > 0 || u.BlockedUntil != ""
}

// Clone implements quota.Entry.
func (u *usage) Clone() *usage {
	return &usage{Calls: slices.Clone(u.Calls), BlockedUntil: u.BlockedUntil}
}

// ledger is the run's books, with config's reading of the limit.
type ledger struct {
	*quota.Ledger[usage, *usage]
	limit    int  // calls per window; 0: do not count
	attended bool // the limit does not apply; refusals still count
}

func newLedger(limit int, attended bool, now func() time.Time) *ledger {
	return &ledger{Ledger: quota.NewLedger[usage](now), limit: limit, attended: attended}
}

// allow says whether a call may be made now, and if not, until when not
// and whether for a refusal the bank gave earlier (else for the calls
// counted).
func (l *ledger) allow(account, endpoint string) (until time.Time, refusal, ok bool) {
	u := l.Get(account, endpoint)
	u.prune(l.Now())
	if u.BlockedUntil != "" {
		return parseTime(u.BlockedUntil), true, false
	}
	if !l.attended && l.limit > 0 && len(u.Calls) >= l.limit {
		return parseTime(u.Calls[len(u.Calls)-l.limit]).Add(quota.Window), false, false
	}
	return time.Time{}, false, true
}

// spend records a successful call.
func (l *ledger) spend(account, endpoint string) {
	if l.attended {
		return
	}
	now := httpclient.FormatTime(l.Now())
	l.Update(account, endpoint, func(u *usage) {
		u.Calls = append(u.Calls, now)
		sort.Strings(u.Calls)
		if l.limit > 0 && len(u.Calls) > l.limit {
			u.Calls = u.Calls[len(u.Calls)-l.limit:]
		}
	})
}

// refused records a refusal and returns until when it holds, and how many
// calls of the window this connector made: when the oldest of them leaves
// the window if they are the limit's, else a full window from now
// (someone else spent the calls, or the bank counts them per account or
// consent, or over a calendar day: its reset is unknown, and no later than
// that).
func (l *ledger) refused(account, endpoint string) (until time.Time, made int) {
	now := l.Now()
	until = now.Add(quota.Window)
	l.Update(account, endpoint, func(u *usage) {
		u.prune(now)
		made = len(u.Calls)
		if len(u.Calls) > 0 && l.limit > 0 && len(u.Calls) >= l.limit {
			until = parseTime(u.Calls[0]).Add(quota.Window)
		}
		u.BlockedUntil = httpclient.FormatTime(until)
	})
	return until, made
}
