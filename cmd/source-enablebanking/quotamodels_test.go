package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The daily limit's counting unit and window are bank-specific and
// UNCERTAIN (enablebanking-api.md §5: per account, per endpoint or per
// consent; a rolling 24 hours or a calendar day; the first request after
// consent maybe free). The connector's books count per account and
// endpoint over a rolling 24 hours, the fake's default; these tests run it
// over days of reads under every other model the fake serves.

// accountCall is one account call the fake answered.
type accountCall struct {
	uid, endpoint string
	status        int
}

// callRecorder records the account calls that count (first pages).
type callRecorder struct {
	mu    sync.Mutex
	calls []accountCall
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (c *callRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "accounts" || r.URL.Query().Get("continuation_key") != "" {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		c.mu.Lock()
		c.calls = append(c.calls, accountCall{parts[1], parts[2], sw.status})
		c.mu.Unlock()
	})
}

func (c *callRecorder) take() []accountCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// recordedEnv is newEnv with the fake's account calls recorded.
func recordedEnv(t *testing.T, o fake.Options) (*env, *callRecorder) {
	t.Helper()
	f := fake.New(o)
	rec := &callRecorder{}
	srv := httptest.NewServer(rec.wrap(f.Handler()))
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-enablebanking"), fake: f, srv: srv, cfg: map[string]any{
		"application_id": f.ApplicationID(), "private_key": f.PrivateKeyPEM(), "session_ids": f.SessionIDs(),
		"base_url": srv.URL, "start_date": "2000-01-01", "lookback_days": 7, "include_pending": true,
	}}, rec
}

// streamOf is the stream whose state keeps an endpoint's books.
var streamOf = map[string]string{fake.EndpointDetails: "accounts", fake.EndpointBalances: "balances", fake.EndpointTransactions: "transactions"}

// callKey is an account (uid) and endpoint.
type callKey struct{ uid, endpoint string }

// ledgerSays is what a run's state books say of every account's
// endpoints at now: until when a refusal holds (zero when none), and the
// calls of the last 24 hours.
func ledgerSays(t *testing.T, e *env, states map[string]json.RawMessage, now time.Time) (blocked map[callKey]time.Time, calls map[callKey]int) {
	t.Helper()
	blocked, calls = map[callKey]time.Time{}, map[callKey]int{}
	for _, uid := range e.accounts() {
		hash := e.fake.IdentificationHash(uid)
		for ep, stream := range streamOf {
			if states[stream] == nil {
				continue
			}
			b := booksOf(t, states[stream])[hash]
			if u, err := time.Parse(time.RFC3339, b.BlockedUntil); err == nil && u.After(now) {
				blocked[callKey{uid, ep}] = u
			}
			for _, c := range b.Calls {
				if at, _ := time.Parse(time.RFC3339, c); now.Sub(at) < 24*time.Hour {
					calls[callKey{uid, ep}]++
				}
			}
		}
	}
	return blocked, calls
}

// TestDailyLimitUnderEveryCountingModel reads every 6 hours for three days
// (a row booked on every account before each read), then until a read
// skips no account, under each counting model, and checks each read and
// all of them together:
//   - no call is made that the state's books say would be refused (a
//     refusal in force, or the limit's calls made), and every other
//     account's transactions and balances are called: an account skipped
//     is resumed at the first read after its reset;
//   - a refusal (429) is never retried: at most one per account and
//     endpoint per read, and a day apart;
//   - the WARN says why: a refusal the connector's own calls do not
//     explain says the bank counts more of them, a skip for a refusal kept
//     in the state says so, and neither claims the connector made the
//     calls config.daily_limit allows;
//   - merged by primary key as a destination does, the reads hold every
//     booked row of the bank once.
func TestDailyLimitUnderEveryCountingModel(t *testing.T) {
	start := time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)
	for _, m := range []struct {
		name string
		opts fake.Options
		// spent is the account whose transactions someone else (another
		// application) spends before the first read, or -1.
		spent int
		// refusals: the model refuses some of the connector's own calls
		// (per account or consent); else only the spent account's.
		refusals bool
		// only are the streams read, when not accounts, balances and
		// transactions.
		only []string
	}{
		{"per account and endpoint, rolling (the default)", fake.Options{}, 1, false, nil},
		{"per account", fake.Options{QuotaUnit: fake.QuotaPerAccount}, -1, true, nil},
		{"per consent", fake.Options{QuotaUnit: fake.QuotaPerSession}, -1, true, nil},
		// 20:00 and a day that starts at 02:00 UTC: the bank resets 6
		// hours after the refusal, the connector does not know it.
		{"calendar day from 02:00 UTC", fake.Options{QuotaWindow: fake.QuotaCalendarDay, QuotaResetHour: 2}, 1, false, nil},
		{"per consent over a calendar day from 02:00 UTC, transactions only", fake.Options{QuotaUnit: fake.QuotaPerSession, QuotaWindow: fake.QuotaCalendarDay, QuotaResetHour: 2}, -1, true, []string{"transactions"}},
		// Every 20:00 read finds the accounts' details due (a day old) and
		// their balances allowed. When those streams ran before
		// transactions they spent the consent's 4 calls, so the
		// transactions calls were refused, held a day, and met the same at
		// the next 20:00: the accounts' transactions were never read again
		// (the books count per account and endpoint and cannot see it).
		// Transactions are read first now.
		{"per consent over a calendar day from 02:00 UTC", fake.Options{QuotaUnit: fake.QuotaPerSession, QuotaWindow: fake.QuotaCalendarDay, QuotaResetHour: 2}, -1, true, nil},
		{"per account, the first call after consent free", fake.Options{QuotaUnit: fake.QuotaPerAccount, QuotaFirstCallFree: true}, -1, true, nil},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			o := m.opts
			o.Sessions, o.TransactionsPerAccount, o.PageSize = 2, 12, 5
			o.Now = func() time.Time { return start }
			e, rec := recordedEnv(t, o)
			only := m.only
			if only == nil {
				only = []string{"accounts", "balances", "transactions"}
			}
			cat := e.catalog(true, only...)
			accounts := e.accounts()
			if m.spent >= 0 {
				e.fake.ExhaustQuota(accounts[m.spent], fake.EndpointTransactions)
			}
			var reads []*st.Result
			states := map[string]json.RawMessage{}
			lastRefusal := map[callKey]time.Time{}
			refusals, resumed := 0, 0
			wasBlocked := map[callKey]bool{}
			caughtUp := map[string]bool{} // uid: transactions read after the last new row
			for i := 0; i < 13+12; i++ {
				if i > 0 {
					e.fake.AdvanceClock(6 * time.Hour)
				}
				if i > 0 && i < 13 {
					for _, uid := range accounts {
						e.fake.AddBooked(uid, 1)
					}
				}
				now := e.fake.Now()
				blocked, made := ledgerSays(t, e, states, now)
				var args []string
				if i > 0 {
					args = []string{"--state", reads[len(reads)-1].StateFile(t)}
				}
				r := e.read(cat, args...)
				reads = append(reads, r)
				called := map[callKey]int{}
				refusedNow := map[callKey]bool{}
				calls := rec.take()
				for _, c := range calls {
					k := callKey{c.uid, c.endpoint}
					called[k]++
					if _, ok := blocked[k]; ok {
						t.Errorf("read %d (%s): %s of %s called while the state holds the bank's refusal until %s", i, now, c.endpoint, c.uid, blocked[k])
					}
					if made[k] >= 4 {
						t.Errorf("read %d: %s of %s called with the limit's %d calls made", i, c.endpoint, c.uid, made[k])
					}
					if c.status != http.StatusTooManyRequests {
						if c.status != http.StatusOK {
							t.Errorf("read %d: %s of %s answered %d", i, c.endpoint, c.uid, c.status)
						}
						continue
					}
					refusals++
					if refusedNow[k] {
						t.Errorf("read %d: %s of %s refused twice in one read: a refusal is never retried", i, c.endpoint, c.uid)
					}
					refusedNow[k] = true
					if last, ok := lastRefusal[k]; ok && now.Sub(last) < 24*time.Hour {
						t.Errorf("read %d: %s of %s refused at %s and again at %s: the connector did not hold off a day", i, c.endpoint, c.uid, last, now)
					}
					lastRefusal[k] = now
					hash := e.fake.IdentificationHash(c.uid)
					if !r.Warned(hash, "endpoint="+c.endpoint, "the bank refused the call (ASPSP_RATE_LIMIT_EXCEEDED)", "the bank also counts other calls", "not called for a full day") {
						t.Errorf("read %d: no WARN that the bank refused %s of %s though the connector's own calls do not explain it:\n%s", i, c.endpoint, hash, warnings(r))
					}
				}
				for _, uid := range accounts {
					hash := e.fake.IdentificationHash(uid)
					for _, ep := range []string{fake.EndpointBalances, fake.EndpointTransactions} {
						if !slices.Contains(only, streamOf[ep]) {
							continue
						}
						k := callKey{uid, ep}
						_, isBlocked := blocked[k]
						switch {
						case isBlocked:
							wasBlocked[k] = true
							if !r.Warned(hash, "endpoint="+ep, "the bank refused a call of it earlier") {
								t.Errorf("read %d: no WARN that %s of %s is skipped for the bank's earlier refusal:\n%s", i, ep, hash, warnings(r))
							}
						case made[k] < 4 && called[k] != 1:
							t.Errorf("read %d (%s): %s of %s called %d times; the state's books allow it once", i, now, ep, uid, called[k])
						case wasBlocked[k]:
							resumed++
							wasBlocked[k] = false
						}
					}
				}
				for _, msg := range warnings(r) {
					if strings.Contains(msg, "the connector has made the") {
						t.Errorf("read %d: a WARN says the connector made the limit's calls, which it never does here: %s", i, msg)
					}
				}
				if t.Failed() {
					t.FailNow()
				}
				for name, s := range r.FinalStates() {
					states[name] = s
				}
				for _, c := range calls {
					if c.endpoint == fake.EndpointTransactions && c.status == http.StatusOK {
						if i >= 12 {
							caughtUp[c.uid] = true
						}
					}
				}
				if len(caughtUp) == len(accounts) {
					break
				}
			}
			if len(caughtUp) != len(accounts) {
				t.Fatalf("after %d reads, %d of %d accounts' transactions were not read since their last new row: %v", len(reads), len(accounts)-len(caughtUp), len(accounts), blockedAt(t, e, states, e.fake.Now()))
			}
			if m.refusals && refusals == 0 || m.spent >= 0 && refusals == 0 {
				t.Fatal("the bank refused nothing: the test proves less than it says")
			}
			if refusals > 0 && resumed == 0 {
				t.Error("no skipped account was resumed")
			}
			t.Logf("%d reads, %d refusals, %d resumed", len(reads), refusals, resumed)
			checkMergedEqualsBank(t, e, reads)
		})
	}
}

// blockedAt lists the refusals the books hold at now.
func blockedAt(t *testing.T, e *env, states map[string]json.RawMessage, now time.Time) []string {
	blocked, _ := ledgerSays(t, e, states, now)
	var out []string
	for k, u := range blocked {
		out = append(out, fmt.Sprintf("%s of %s until %s", k.endpoint, k.uid, u.Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

// warnings returns a read's WARN messages.
func warnings(r *st.Result) []string {
	var out []string
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn {
			out = append(out, m.Log.Message)
		}
	}
	return out
}
