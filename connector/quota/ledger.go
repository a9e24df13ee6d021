package quota

import (
	"sync"
	"time"
)

// The endpoints a bank limits, as states and messages name them: the
// three reads of an account PSD2 defines.
const (
	Details      = "details"
	Balances     = "balances"
	Transactions = "transactions"
)

// Window is the longest any bank's limit lasts: calls are counted over a
// day (rolling or calendar, which banks do not say), and a refusal holds
// until the day is over. So no entry can rightly claim more than a Window
// from now: one that does (an absurd answer, a hand-edited state, a clock
// gone wrong) would otherwise leave the account unread for years.
const Window = 24 * time.Hour

// Entry is the constraint on what a provider records of one account's
// limit on one endpoint, E, as its state stores it (a JSON object).
type Entry[E any] interface {
	*E
	// Check names the first field of an entry decoded from a state that
	// is not valid, for a config error.
	Check() error
	// Trim drops what the entry claims beyond now plus a Window (see
	// Window), and describes what it dropped for a WARN ("" when nothing).
	Trim(now time.Time) (dropped string)
	// Keep drops what has run out by now and reports whether anything is
	// left worth keeping in state.
	Keep(now time.Time) bool
	// Clone returns a copy that shares nothing with the entry.
	Clone() *E
}

type key struct{ account, endpoint string }

// Ledger is one run's knowledge of every account's limits, shared by the
// streams (an account's transactions endpoint is called for two of them):
// seeded from each stream's state as the stream starts, updated with what
// every call teaches. What this run learnt wins over what a state says.
// It is safe for concurrent use.
type Ledger[E any, P Entry[E]] struct {
	now func() time.Time

	mu       sync.Mutex
	m        map[key]P
	observed map[key]bool
}

// NewLedger returns an empty ledger on the clock now (the API's clock,
// which the entries' times are in).
func NewLedger[E any, P Entry[E]](now func() time.Time) *Ledger[E, P] {
	return &Ledger[E, P]{now: now, m: map[key]P{}, observed: map[key]bool{}}
}

// Now is the ledger's clock.
func (l *Ledger[E, P]) Now() time.Time { return l.now() }

// Get returns a copy of what is known of account's endpoint: the zero
// entry when nothing is.
func (l *Ledger[E, P]) Get(account, endpoint string) P {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[key{account, endpoint}]; ok {
		return e.Clone()
	}
	return new(E)
}

// Update records what a call taught of account's endpoint: fn changes the
// entry (the zero one when nothing was known). It wins over any state
// seeded later in the run.
func (l *Ledger[E, P]) Update(account, endpoint string, fn func(e P)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key{account, endpoint}
	e, ok := l.m[k]
	if !ok {
		e = new(E)
		l.m[k] = e
	}
	l.observed[k] = true
	fn(e)
}

// Seed loads what a stream's state says of endpoint, for the accounts this
// run has not called yet, less what no Window allows (see Entry.Trim):
// dropped says, per account, what was dropped, for a WARN.
func (l *Ledger[E, P]) Seed(endpoint string, books map[string]*E) (dropped map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for account, e := range books {
		k := key{account, endpoint}
		if l.observed[k] || e == nil {
			continue
		}
		c := P(e).Clone()
		if what := P(c).Trim(now); what != "" {
			if dropped == nil {
				dropped = map[string]string{}
			}
			dropped[account] = what
		}
		if P(c).Keep(now) {
			l.m[k] = c
		}
	}
	return dropped
}

// Snapshot returns copies of what is known of endpoint for every account
// with something to keep, for a stream's state.
func (l *Ledger[E, P]) Snapshot(endpoint string) map[string]*E {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := map[string]*E{}
	for k, e := range l.m {
		if k.endpoint == endpoint && e.Keep(now) {
			out[k.account] = e.Clone()
		}
	}
	return out
}
