package fake

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// HeaderStyle is how the rate-limit headers are spelled. GoCardless
// documents HTTP_X_RATELIMIT_*, while clients behind some proxies see
// x-ratelimit-*; a connector must match both, ignoring case.
type HeaderStyle int

const (
	// HeadersHTTPPrefix spells headers HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING etc.
	HeadersHTTPPrefix HeaderStyle = iota
	// HeadersXPrefix spells headers x-ratelimit-account-success-remaining etc.
	HeadersXPrefix
)

// Options configures a Server. The zero value is usable: every zero field
// takes the default given in its comment.
type Options struct {
	// Seed drives all generated data. Default 1.
	Seed uint64
	// Requisitions is the number of linked requisitions, each with two
	// accounts. Default 2.
	Requisitions int
	// TransactionsPerAccount is the number of booked rows per account; a few
	// pending rows come on top. Default 80.
	TransactionsPerAccount int
	// SecretID and SecretKey are the credentials POST /token/new/ accepts.
	// Defaults "demo-secret-id" and "demo-secret-key".
	SecretID, SecretKey string
	// Now is the wall clock. Default time.Now. AdvanceClock moves the fake's
	// view of time forward from whatever Now returns.
	Now func() time.Time
	// DailyLimit is the bank-level quota: successful calls per account and
	// per endpoint (details, balances, transactions) in a rolling 24 hours.
	// Default 4, the lowest GoCardless documents.
	DailyLimit int
	// HeaderStyle selects the spelling of the rate-limit headers.
	HeaderStyle HeaderStyle
	// Latency delays every answer, to make timeouts and concurrency visible.
	Latency time.Duration
	// AccountsPerMinute is the company-level limit on all /accounts/* calls
	// together in a rolling minute. Default 100, as on the real API; a
	// negative value lifts it for benchmarks, and those answers then carry
	// no general rate-limit headers.
	AccountsPerMinute int
	// TokensPerHour is the company-level limit on POST /token/new/ in a
	// rolling hour. Default 100, as on the real API; a test lowers it to
	// meet the limit in two runs.
	TokensPerHour int
	// AccountsWindow is the period AccountsPerMinute counts over. Default
	// a minute, as on the real API; a test makes it seconds, so that the
	// 429's "try again in N seconds" is short without moving the clock
	// under calls in flight.
	AccountsWindow time.Duration
	// QuotaAnswer is how a spent bank-level quota is answered; see the
	// QuotaAnswer constants. Default QuotaTyped.
	QuotaAnswer QuotaAnswer
	// UntypedExpiry answers a data call on expired access with the 401
	// GoCardless sends for an expired end-user agreement on some paths: no
	// type, "End User Agreement (EUA) … has expired" (opencollective#8538).
	// Default: 401 AccessExpiredError.
	UntypedExpiry bool
	// BadRequestExpiry answers a data call on expired access with the 400
	// GoCardless sent in 2024 (actualbudget/actual#3826): no type, "End
	// User Agreement (EUA) … has expired", "EUA was valid for 90 days and
	// it expired at …". It takes precedence over UntypedExpiry.
	BadRequestExpiry bool
	// AllowedIPs is the IP allow-list of the user secret: when set, every
	// request from another address, token/new included, answers 403 "IP
	// address access denied", as the real API does for an IP not on the
	// list. Default: every address is allowed.
	AllowedIPs []string
	// InformationBalance makes the first account report its balance as
	// American Express does: one balance of the non-standard type
	// "information" (Actual's Amex adapter reads it), in place of
	// closingBooked, interimAvailable and expected.
	InformationBalance bool
	// SeparateHistoryConsent makes every institution report
	// separate_continuous_history_consent: true, as about 30 real ones do.
	// Their accounts then deliver transactions once when the agreement's
	// max_historical_days exceeds 90, and serve that frozen answer for the
	// life of the agreement: rows booked later never appear.
	SeparateHistoryConsent bool
	// HistoryAfterFirstCall, when set, plays a bank that gives its full
	// history only on the first access after consent and 90 days after
	// that (gocardless-api.md §3.4, Actual's limited-history list): each
	// account's first transactions call serves every row from date_from
	// on, and every later call only the last HistoryAfterFirstCall days,
	// an older date_from clipped silently. A new requisition's accounts
	// are new accounts, whose first call serves everything again. Default
	// 0: every call serves what the institution keeps.
	HistoryAfterFirstCall int
	// Misfits makes the accounts that report balanceAfterTransaction (the
	// second of each requisition) serve their generated booked rows as a
	// bank that strays from the schema would: balanceAfterTransaction as
	// text with a decimal comma ("1234,56 EUR"), where the schema has an
	// object, and a field GoCardless documents nowhere (xBankField), as
	// the Enable Banking fake serves x_bank_field. Off by default: the
	// default data matches the schema, which the golden and drift tests
	// rely on.
	Misfits bool
	// NoInternalIDs serves every booked row without the
	// internalTransactionId GoCardless adds (it "removes duplicates from
	// booked rows when it provides internalTransactionId", which says it
	// may not): a client keys them by the bank's transactionId or by their
	// content. The ids are drawn all the same, so the rest of the data is
	// what it is without the option; the scenario switches that return
	// internalTransactionIds return "" for each row.
	NoInternalIDs bool
}

// QuotaAnswer is one of the forms a spent bank-level quota takes.
type QuotaAnswer int

const (
	// QuotaTyped is a 429 with type RateLimitError and "try again in N seconds".
	QuotaTyped QuotaAnswer = iota
	// QuotaGoCardless is GoCardless's own per-account limit (4 a day per
	// scope since March 2025): 429 without a type, "The rate limit for this
	// resource is 4/day. Please try again in N seconds" (OCA
	// bank-statement-import#809).
	QuotaGoCardless
	// QuotaInstitution is the bank's own limit: 429 RateLimitError, "Daily
	// request limit set by the Institution has been exceeded.", no seconds
	// (actualbudget/actual#3120).
	QuotaInstitution
)

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Requisitions <= 0 {
		o.Requisitions = 2
	}
	if o.TransactionsPerAccount <= 0 {
		o.TransactionsPerAccount = 80
	}
	if o.SecretID == "" {
		o.SecretID = "demo-secret-id"
	}
	if o.SecretKey == "" {
		o.SecretKey = "demo-secret-key"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DailyLimit <= 0 {
		o.DailyLimit = 4
	}
	if o.TokensPerHour <= 0 {
		o.TokensPerHour = 100
	}
	if o.AccountsPerMinute == 0 {
		o.AccountsPerMinute = 100
	}
	if o.AccountsWindow <= 0 {
		o.AccountsWindow = time.Minute
	}
	return o
}

// Server is a fake GoCardless Bank Account Data API. It is safe for
// concurrent use; all state sits behind one mutex because the fake favours
// obvious correctness over throughput.
type Server struct {
	opts    Options
	handler http.Handler

	mu               sync.Mutex
	offset           time.Duration // added to opts.Now by AdvanceClock
	requisitions     map[string]*requisition
	requisitionOrder []string
	linkScript       []string // ScriptLinking
	agreements       map[string]*agreement
	accounts         map[string]*account
	accountOrder     []string
	tokens           tokenStore
	company          map[group]*window
	quotas           map[quotaKey]*window
	reconfirmations  map[string]*reconfirmation // by agreement id
	stats            Stats
	// statsMu guards stats apart from mu: a request is counted as its
	// status is written, and a handler may write while holding mu.
	statsMu sync.Mutex
}

// New builds a server and all its data. The data is a function of the
// options and of the UTC day opts.Now returns, never of the time of day, so
// servers built on the same day with the same options serve the same bytes.
func New(o Options) *Server {
	o = o.withDefaults()
	s := &Server{
		opts:         o,
		requisitions: map[string]*requisition{},
		agreements:   map[string]*agreement{},
		accounts:     map[string]*account{},
		tokens:       newTokenStore(),
		company:      newCompanyLimits(o.TokensPerHour, o.AccountsPerMinute, o.AccountsWindow),
		quotas:       map[quotaKey]*window{},
		stats:        newStats(),

		reconfirmations: map[string]*reconfirmation{},
	}
	s.buildRequisitions(day(o.Now()))
	s.handler = s.routes()
	return s
}

// day returns midnight UTC of t's day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Handler serves the API under /api/v2/.
func (s *Server) Handler() http.Handler { return s.handler }

// SecretID returns the secret id POST /token/new/ accepts.
func (s *Server) SecretID() string { return s.opts.SecretID }

// SecretKey returns the secret key POST /token/new/ accepts.
func (s *Server) SecretKey() string { return s.opts.SecretKey }

// Now returns the fake's current time: Options.Now plus every AdvanceClock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// now is Now for callers that hold s.mu.
func (s *Server) now() time.Time { return s.opts.Now().Add(s.offset).UTC() }

// RequisitionIDs returns the ids of the linked requisitions in creation order.
func (s *Server) RequisitionIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requisitionOrder...)
}

// AccountIDs returns the account ids of a requisition, or nil if it is unknown.
func (s *Server) AccountIDs(requisitionID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requisitions[requisitionID]
	if !ok {
		return nil
	}
	return append([]string(nil), req.Accounts...)
}

// Booked returns every booked row of an account, newest first, each exactly
// as the transactions endpoint serves it (without date filtering).
func (s *Server) Booked(accountID string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[accountID]; ok {
		return raws(a.booked)
	}
	return nil
}

// Pending returns the current pending rows of an account exactly as served.
func (s *Server) Pending(accountID string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[accountID]; ok {
		return raws(a.pending)
	}
	return nil
}

func raws(rows []*row) []json.RawMessage {
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		out[i] = append(json.RawMessage(nil), r.raw...)
	}
	return out
}
