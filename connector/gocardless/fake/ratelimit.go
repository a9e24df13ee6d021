package fake

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// window counts events in a rolling period, the way both GoCardless limit
// layers work: a slot frees up exactly one period after the call that used it.
type window struct {
	limit  int // < 0: unlimited
	period time.Duration
	events []time.Time // oldest first
}

func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.events) && !w.events[i].Add(w.period).After(now) {
		i++
	}
	w.events = w.events[i:]
}

func (w *window) remaining(now time.Time) int {
	if w.limit < 0 {
		return 1 << 30
	}
	w.prune(now)
	return max(0, w.limit-len(w.events))
}

// reset returns the whole seconds until the oldest counted call leaves the
// window, that is until remaining next grows; 0 when nothing is counted.
func (w *window) reset(now time.Time) int {
	w.prune(now)
	if len(w.events) == 0 {
		return 0
	}
	d := w.events[0].Add(w.period).Sub(now)
	return int((d + time.Second - 1) / time.Second)
}

func (w *window) add(now time.Time) { w.events = append(w.events, now) }

// fill spends every remaining slot at now.
func (w *window) fill(now time.Time) {
	for w.remaining(now) > 0 {
		w.add(now)
	}
}

// describe is the period as the API's 429 detail names it.
func (w *window) describe() string {
	switch {
	case w.period <= time.Minute: // a test's shorter window still says minute
		return "minute"
	case w.period <= time.Hour:
		return "hour"
	default:
		return "day"
	}
}

// group is a company-level limit bucket: GoCardless limits groups of
// endpoints together, not each path.
type group string

const (
	groupNone         group = ""
	groupTokenNew     group = "token_new"
	groupTokenRefresh group = "token_refresh"
	groupAccounts     group = "accounts"
	groupInstitutions group = "institutions"
	groupRequisitions group = "requisitions"
	groupAgreements   group = "agreements"
)

func newCompanyLimits(tokensPerHour, accountsPerMinute int, accountsWindow time.Duration) map[group]*window {
	return map[group]*window{
		groupTokenNew:     {limit: tokensPerHour, period: time.Hour},
		groupTokenRefresh: {limit: 100, period: time.Minute},
		groupAccounts:     {limit: accountsPerMinute, period: accountsWindow},
		groupInstitutions: {limit: 300, period: time.Minute},
		groupRequisitions: {limit: 300, period: time.Minute},
		groupAgreements:   {limit: 300, period: time.Minute},
	}
}

// Endpoints subject to the bank-level quota, as ExhaustQuota names them.
const (
	EndpointDetails      = "details"
	EndpointBalances     = "balances"
	EndpointTransactions = "transactions"
)

var quotaEndpoints = []string{EndpointDetails, EndpointBalances, EndpointTransactions}

type quotaKey struct{ account, endpoint string }

// quota returns the bank-level window of an account and endpoint.
func (s *Server) quota(accountID, endpoint string) *window {
	k := quotaKey{accountID, endpoint}
	w, ok := s.quotas[k]
	if !ok {
		w = &window{limit: s.opts.DailyLimit, period: 24 * time.Hour}
		s.quotas[k] = w
	}
	return w
}

// QuotaRemaining returns how many calls the bank-level quota still allows
// for an account and endpoint ("details", "balances" or "transactions").
func (s *Server) QuotaRemaining(accountID, endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quota(accountID, endpoint).remaining(s.now())
}

// Header names per style: general (company-level) and per account.
var headerNames = map[HeaderStyle][2][3]string{
	HeadersHTTPPrefix: {
		{"HTTP_X_RATELIMIT_LIMIT", "HTTP_X_RATELIMIT_REMAINING", "HTTP_X_RATELIMIT_RESET"},
		{"HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT", "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING", "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET"},
	},
	HeadersXPrefix: {
		{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"},
		{"x-ratelimit-account-success-limit", "x-ratelimit-account-success-remaining", "x-ratelimit-account-success-reset"},
	},
}

// setLimitHeaders writes the three headers of one layer; an unlimited
// window (AccountsPerMinute < 0) has none. It assigns to the map directly:
// Header.Set would canonicalise HTTP_X_RATELIMIT_LIMIT to
// Http_x_ratelimit_limit, and the point is to send the documented spelling.
func (s *Server) setLimitHeaders(h http.Header, perAccount bool, w *window, now time.Time) {
	if w.limit < 0 {
		return
	}
	layer := 0
	if perAccount {
		layer = 1
	}
	names := headerNames[s.opts.HeaderStyle][layer]
	h[names[0]] = []string{strconv.Itoa(w.limit)}
	h[names[1]] = []string{strconv.Itoa(w.remaining(now))}
	h[names[2]] = []string{strconv.Itoa(w.reset(now))}
}

// bankLimited is the 429 of a spent bank-level quota, in the form
// Options.QuotaAnswer picks.
func (s *Server) bankLimited(w *window, now time.Time) apiError {
	switch s.opts.QuotaAnswer {
	case QuotaGoCardless:
		return rateLimited(w, now, "")
	case QuotaInstitution:
		return apiError{
			Summary:    "Rate limit exceeded",
			Detail:     "Daily request limit set by the Institution has been exceeded.",
			StatusCode: http.StatusTooManyRequests,
			Type:       "RateLimitError",
		}
	}
	return rateLimited(w, now, "RateLimitError")
}

// rateLimited is the 429 body of both layers. Only the bank-level one
// carries a type, as on the real API.
func rateLimited(w *window, now time.Time, typ string) apiError {
	return apiError{
		Summary:    "Rate limit exceeded",
		Detail:     fmt.Sprintf("The rate limit for this resource is %d/%s. Please try again in %d seconds", w.limit, w.describe(), w.reset(now)),
		StatusCode: http.StatusTooManyRequests,
		Type:       typ,
	}
}
