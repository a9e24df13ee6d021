package fake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable: every zero field
// takes the default in its comment.
type Options struct {
	// Seed drives all generated data. Default 1.
	Seed uint64
	// Sessions is the number of authorised sessions. Default 2.
	Sessions int
	// AccountsPerSession is the number of accounts of each. Default 2.
	AccountsPerSession int
	// TransactionsPerAccount is the number of booked rows per account; a
	// few pending rows come on top. Default 60.
	TransactionsPerAccount int
	// PageSize is the number of rows per transactions page. Default 25.
	PageSize int
	// DailyLimit is the unattended calls a bank allows per account and
	// endpoint (details, balances, transactions) in a rolling 24 hours;
	// a continuation page is part of its first call. Default 4.
	DailyLimit int
	// ApplicationID is the application's id (the JWT kid). Default a fixed
	// UUID.
	ApplicationID string
	// Key is the application's key pair; the fake verifies with its public
	// half. Default one generated per process.
	Key *rsa.PrivateKey
	// Now is the wall clock. Default time.Now. AdvanceClock moves the
	// fake's view of time forward from it.
	Now func() time.Time
	// Latency delays every answer.
	Latency time.Duration
	// LastPageKey is how the last transactions page says there is no
	// more: "" (continuation_key null, the default), "absent" (no
	// continuation_key member) or "empty" (an empty string). The
	// reference has null "or absent"; an empty key is what a loose
	// serializer makes of either.
	LastPageKey string
	// RedirectURLs are the application's registered redirect URLs. When
	// set, POST /auth takes exactly one of them as redirect_url (else 400
	// REDIRECT_URI_NOT_ALLOWED, as Enable Banking answers) and GET
	// /application lists them; an https-only list plays an application
	// that requires https (the reference, §1: UNCERTAIN). Default: any
	// loopback http(s) URL is taken.
	RedirectURLs []string
	// RequiredPSUHeaders are, by bank name ("Nordea"), the PSU headers the
	// bank requires when the account holder is present, as GET /aspsps
	// lists them (lower-case header names, "psu-ip-address"). Enable
	// Banking takes either all of them or none (the reference, §5): an
	// account call of that bank carrying some PSU headers but not all
	// answers 422 PSU_HEADER_NOT_PROVIDED naming the first missing one;
	// one carrying none is unattended. Default: every bank lists none.
	RequiredPSUHeaders map[string][]string
	// Inactive makes GET /application answer "active": false, as a
	// production application does before it is activated (the reference,
	// §1: restricted mode needs the user's own accounts linked in the
	// Control Panel). Default active.
	Inactive bool
	// PendingStatuses are the statuses of each account's rows that are not
	// booked, in turn: the reference (§4.2) lists PDNG, HOLD, SCHD, CNCL,
	// RJCT and OTHR, and a bank may send one no document lists. Each
	// account then has at least one such row per status. Default PDNG
	// only.
	PendingStatuses []string
	// Order is the order of the rows a transactions call chain serves
	// across its pages (the reference, §4.1: undocumented): "" newest
	// booked rows first, then the pending ones (the default), "oldest"
	// that list reversed, or "shuffled", a shuffle seeded by OrderSeed, the
	// account and the call's parameters (so a chain's pages agree, and a
	// call with other dates gets another order).
	Order string
	// OrderSeed seeds the "shuffled" order. Default Seed.
	OrderSeed uint64
	// QuotaUnit is what the bank counts DailyLimit's calls against (the
	// reference, §5: per account, per endpoint or per consent,
	// bank-specific and UNCERTAIN): "" each account's endpoint apart (the
	// default), "account" (details, balances and transactions of an
	// account share one count) or "session" (every call on every account
	// of a consent shares one count; a session authorised again counts
	// afresh).
	QuotaUnit string
	// QuotaWindow is the window the calls are counted over (the
	// reference, §5: rolling 24 h or calendar day, UNCERTAIN): "" a
	// rolling 24 hours after each call (the default), or "calendar", a
	// day that starts at QuotaResetHour UTC, when every count starts
	// again however recent its calls.
	QuotaWindow string
	// QuotaResetHour is the UTC hour (0–23) a "calendar" day starts.
	QuotaResetHour int
	// UnattendedASPSPError are banks, by name ("Swedbank"), that refuse
	// every unattended account call (no PSU header) with a blanket 400
	// ASPSP_ERROR "Unknown error", as ynabber met at Sparebanken Vest and
	// Bulder (the reference, §5), and serve attended ones. Default none.
	UnattendedASPSPError []string
	// QuotaFirstCallFree: the first unattended call of each unit after
	// its consent is not counted (the reference, §5: "the first request
	// after consent may be free").
	QuotaFirstCallFree bool
	// HistoryAfterFirstCall, when set, plays a bank that grants its full
	// history only on the first transactions call after consent (the
	// reference, §5: Triodos): each account's first call chain serves
	// every row from date_from on, and every later chain only the last
	// HistoryAfterFirstCall days, date_from older than that clipped
	// silently. A session authorised again (Reauthorize) is a new
	// consent, whose first call serves everything again. Default 0: every
	// call serves every row asked for.
	HistoryAfterFirstCall int
}

// The values of Options.QuotaUnit and Options.QuotaWindow.
const (
	QuotaPerEndpoint = ""
	QuotaPerAccount  = "account"
	QuotaPerSession  = "session"
	QuotaRolling     = ""
	QuotaCalendarDay = "calendar"
)

// The values of Options.Order.
const (
	OrderNewestFirst = ""
	OrderOldestFirst = "oldest"
	OrderShuffled    = "shuffled"
)

// DefaultApplicationID is the application id of a fake built without one.
const DefaultApplicationID = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// processKey is one RSA key per process: generating one takes a while, and
// every fake of a test binary may share it.
func processKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Sessions <= 0 {
		o.Sessions = 2
	}
	if o.AccountsPerSession <= 0 {
		o.AccountsPerSession = 2
	}
	if o.TransactionsPerAccount <= 0 {
		o.TransactionsPerAccount = 60
	}
	if o.PageSize <= 0 {
		o.PageSize = 25
	}
	if o.DailyLimit <= 0 {
		o.DailyLimit = 4
	}
	if o.OrderSeed == 0 {
		o.OrderSeed = o.Seed
	}
	switch o.Order {
	case OrderNewestFirst, OrderOldestFirst, OrderShuffled:
	default:
		panic("fake: Options.Order " + o.Order + " is none of \"\", \"oldest\", \"shuffled\"")
	}
	switch o.QuotaUnit {
	case QuotaPerEndpoint, QuotaPerAccount, QuotaPerSession:
	default:
		panic("fake: Options.QuotaUnit " + o.QuotaUnit + " is none of \"\", \"account\", \"session\"")
	}
	if o.QuotaWindow != QuotaRolling && o.QuotaWindow != QuotaCalendarDay {
		panic("fake: Options.QuotaWindow " + o.QuotaWindow + " is none of \"\", \"calendar\"")
	}
	if o.QuotaResetHour < 0 || o.QuotaResetHour > 23 {
		panic("fake: Options.QuotaResetHour must be 0–23")
	}
	if o.ApplicationID == "" {
		o.ApplicationID = DefaultApplicationID
	}
	if o.Key == nil {
		o.Key = processKey()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Server is a fake Enable Banking API. It is safe for concurrent use; all
// state sits behind one mutex: the fake favours obvious correctness over
// throughput.
type Server struct {
	opts    Options
	handler http.Handler

	mu           sync.Mutex
	offset       time.Duration // AdvanceClock
	sessions     map[string]*session
	sessionOrder []string
	accounts     map[string]*account // by uid
	auths        map[string]*authorization
	codes        map[string]string // code → authorization id
	usedCodes    map[string]bool   // exchanged codes: ALREADY_AUTHORIZED
	nextExchange *apiError         // FailNextCodeExchange
	quotas       map[quotaKey][]time.Time
	freeSpent    map[quotaKey]bool // QuotaFirstCallFree: the unit's free call is made
	seq          int               // for new ids
	stats        Stats
	// statsMu guards stats apart from mu: a request is counted as its
	// status is written, and a handler may write while holding mu.
	statsMu sync.Mutex
}

// New builds a server and its data.
func New(o Options) *Server {
	o = o.withDefaults()
	s := &Server{
		opts:      o,
		sessions:  map[string]*session{},
		accounts:  map[string]*account{},
		auths:     map[string]*authorization{},
		codes:     map[string]string{},
		usedCodes: map[string]bool{},
		quotas:    map[quotaKey][]time.Time{},
		freeSpent: map[quotaKey]bool{},
		stats:     newStats(),
	}
	anchor := day(o.Now())
	for i := range o.Sessions {
		s.newSession(i, banks[i%len(banks)], anchor)
	}
	s.handler = s.routes()
	return s
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Handler serves the API at the root, as api.enablebanking.com does.
func (s *Server) Handler() http.Handler { return s.handler }

// ApplicationID is the id tokens must carry as kid.
func (s *Server) ApplicationID() string { return s.opts.ApplicationID }

// PrivateKeyPEM is the application's private key, PKCS#8 PEM, what a user
// downloads from the Control Panel.
func (s *Server) PrivateKeyPEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(s.opts.Key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// Now is the fake's current time: Options.Now plus every AdvanceClock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return s.opts.Now().Add(s.offset).UTC() }

// SessionIDs returns the ids of the sessions built by New (and made by the
// authorisation flow since), in creation order.
func (s *Server) SessionIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sessionOrder...)
}

// AccountUIDs returns a session's account uids, or nil.
func (s *Server) AccountUIDs(sessionID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[sessionID]; ss != nil {
		return append([]string(nil), ss.accounts...)
	}
	return nil
}

// IdentificationHash returns an account's identification_hash.
func (s *Server) IdentificationHash(uid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[uid]; a != nil {
		return a.hash
	}
	return ""
}

// Booked returns every booked row of an account, exactly as the
// transactions endpoint serves it now (without date filtering).
func (s *Server) Booked(uid string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[uid]; a != nil {
		return a.serve(a.booked)
	}
	return nil
}

// Pending returns an account's pending rows exactly as served.
func (s *Server) Pending(uid string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[uid]; a != nil {
		return a.serve(a.pending)
	}
	return nil
}
