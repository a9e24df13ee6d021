package fake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// routeAuth is the one route that needs no key and does not advance the
// fault schedule.
const routeAuth = "POST /auth"

// routeUnmatched is the Stats route name for requests no route matched.
const routeUnmatched = "UNMATCHED"

// Server is the fake API. Create it with New; it is safe for concurrent use.
type Server struct {
	opts   Options
	genNow int64 // Unix ms of the clock reading at New; all data is dated from it

	// mu guards the dataset and item state. Reads take it shared; mutations
	// and item polling take it exclusively, so a request never sees a
	// half-applied mutation.
	mu              sync.RWMutex
	items           []*item
	itemsByID       map[uuid]*item
	accounts        []*account
	accountsByID    map[uuid]*account
	billsByID       map[uuid]*bill
	investmentsByID map[uuid]*investment
	mutRNG          *rand.Rand
	patchLimit      bool  // the 24h PATCH frequency rule
	patchWindow     int64 // minute (Unix ms / 60000) of the PATCH rate window
	patchCount      int
	// removed keeps each row a deletion took out, with its account, so
	// that Restore can serve it again.
	removed map[uuid]removedRow

	cache pageCache

	keysMu         sync.Mutex
	keys           map[string]keyInfo
	keySeq         uint64
	revokedThrough uint64 // keys with seq <= this are rejected
	connectTokens  map[string]connectToken
	authRNG        *rand.Rand
	errRNG         *rand.Rand
	jwtSecret      []byte

	faults      atomic.Pointer[Faults]
	seq         atomic.Uint64 // data requests since the last SetFaults
	garbageSeq  atomic.Uint64
	statsMu     sync.Mutex
	stats       Stats
	inFlight    int // requests being answered now; guarded by statsMu
	handler     http.Handler
	handlerOnce sync.Once

	webhooks webhookState // webhooks.go
}

// Stats counts requests served since New or the last ResetStats.
type Stats struct {
	// Total counts every request that reached a route (admin excluded).
	Total int `json:"total"`
	// ByRoute counts requests per route template, e.g. "GET /v2/transactions";
	// requests no route matched count under "UNMATCHED".
	ByRoute map[string]int `json:"by_route"`
	// ByStatus counts responses per HTTP status. Requests abandoned by the
	// client before a response was written are not counted here.
	ByStatus map[int]int `json:"by_status"`
	// Faults counts injected faults by kind: "429", "500", "garbage", "drop",
	// "slow", "revoke", "status".
	Faults map[string]int `json:"faults"`
	// Gzipped counts answers sent gzip-compressed (Options.Gzip).
	Gzipped int `json:"gzipped"`
	// MaxInFlight is the most requests the server was answering at once:
	// how a test sees that a client's reads overlap without timing them. A
	// request is in flight from its arrival until its status is written,
	// before the client can see any of the answer: a client that waits for
	// each answer before sending its next request counts 1.
	MaxInFlight int `json:"max_in_flight"`
}

func newStats() Stats {
	return Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}, Faults: map[string]int{}}
}

// New builds a server and its dataset. Items, accounts and the other
// products are generated immediately; transactions are generated per account
// on first use (or by Prewarm).
func New(o Options) *Server {
	o = o.withDefaults()
	s := &Server{
		opts:          o,
		genNow:        o.Now().UnixMilli(),
		mutRNG:        rand.New(rand.NewPCG(o.Seed, 0x6d7574)),
		authRNG:       rand.New(rand.NewPCG(o.Seed, 0x61757468)),
		errRNG:        rand.New(rand.NewPCG(o.Seed, 0x657272)),
		keys:          map[string]keyInfo{},
		connectTokens: map[string]connectToken{},
		patchLimit:    true,
		stats:         newStats(),
	}
	secret := rand.New(rand.NewPCG(o.Seed, 0x6a7774))
	s.jwtSecret = make([]byte, 32)
	for i := range s.jwtSecret {
		s.jwtSecret[i] = byte(secret.Uint32())
	}
	s.faults.Store(&Faults{})
	s.hooksInit()
	s.build()
	return s
}

// ClientID returns the accepted client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the accepted client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// ItemIDs returns the item ids in creation order.
func (s *Server) ItemIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, len(s.items))
	for i, it := range s.items {
		out[i] = it.idStr
	}
	return out
}

// AccountIDs returns an item's account ids (checking, savings, card, ...),
// or nil for an unknown item.
func (s *Server) AccountIDs(itemID string) []string {
	id, ok := parseUUID(itemID)
	if !ok {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it := s.itemsByID[id]
	if it == nil {
		return nil
	}
	out := make([]string, len(it.accounts))
	for i, a := range it.accounts {
		out[i] = a.idStr
	}
	return out
}

// SetPatchFrequencyLimit switches the rule that answers a second
// PATCH /items/{id} within 24 hours with 409
// CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY. It is on by default.
func (s *Server) SetPatchFrequencyLimit(on bool) {
	s.mu.Lock()
	s.patchLimit = on
	s.mu.Unlock()
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := newStats()
	out.Total = s.stats.Total
	out.MaxInFlight = s.stats.MaxInFlight
	out.Gzipped = s.stats.Gzipped
	for k, v := range s.stats.ByRoute {
		out.ByRoute[k] = v
	}
	for k, v := range s.stats.ByStatus {
		out.ByStatus[k] = v
	}
	for k, v := range s.stats.Faults {
		out.Faults[k] = v
	}
	return out
}

// ResetStats zeroes the request counters (not the fault schedule).
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	s.stats = newStats()
	s.statsMu.Unlock()
}

// countRequest counts a request and enters it into the in-flight count;
// answered takes it out as its status is written, leave if it gets none.
func (s *Server) countRequest(route string) {
	s.statsMu.Lock()
	s.stats.Total++
	s.stats.ByRoute[route]++
	s.inFlight++
	s.stats.MaxInFlight = max(s.stats.MaxInFlight, s.inFlight)
	s.statsMu.Unlock()
}

func (s *Server) leave() {
	s.statsMu.Lock()
	s.inFlight--
	s.statsMu.Unlock()
}

// answered counts a request's status and takes it out of the in-flight
// count, before the status is written: once a client holds any of the
// answer, its next request must not find this one still in flight (taking
// it out after the handler returned did, as the body can reach the client
// first).
func (s *Server) answered(code int) {
	s.statsMu.Lock()
	s.stats.ByStatus[code]++
	s.inFlight--
	s.statsMu.Unlock()
}

func (s *Server) countFault(kind string) {
	s.statsMu.Lock()
	s.stats.Faults[kind]++
	s.statsMu.Unlock()
}

func (s *Server) countGzipped() {
	s.statsMu.Lock()
	s.stats.Gzipped++
	s.statsMu.Unlock()
}

// Handler returns the API handler. Admin endpoints are not included (see
// HandlerWithAdmin), so embedding it in a demo exposes only the Pluggy surface.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() { s.handler = s.routes() })
	return s.handler
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(route string, auth bool, h func(*http.Request) *reply) {
		mux.Handle(route, s.wrap(route, auth, h))
	}
	handle(routeAuth, false, s.handleAuth)
	handle("POST /connect_token", true, s.handleConnectToken)
	handle("POST /connect/items", false, s.handleConnectItem)
	mux.HandleFunc("OPTIONS /connect/items", corsPreflight)
	mux.HandleFunc("GET /connect/pluggy-connect.js", serveWidget)
	handle("GET /items/{id}", true, s.handleGetItem)
	handle("PATCH /items/{id}", true, s.handlePatchItem)
	handle("GET /connectors", true, s.handleConnectors)
	handle("GET /connectors/{id}", true, s.handleConnector)
	handle("GET /accounts", true, s.handleAccounts)
	handle("GET /accounts/{id}", true, s.handleAccount)
	handle("GET /v2/transactions", true, s.handleTransactionsV2)
	handle("GET /transactions", true, s.handleTransactionsV1)
	handle("GET /transactions/{id}", true, s.handleTransaction)
	handle("GET /categories", true, s.handleCategories)
	handle("GET /categories/{id}", true, s.handleCategory)
	handle("GET /bills", true, s.handleBills)
	handle("GET /bills/{id}", true, s.handleBill)
	handle("GET /investments", true, s.handleInvestments)
	handle("GET /investments/{id}", true, s.handleInvestment)
	handle("GET /investments/{id}/transactions", true, s.handleInvestmentTransactions)
	handle("GET /loans", true, s.handleLoans)
	handle("GET /loans/{id}", true, s.handleLoan)
	handle("GET /identity", true, s.handleIdentity)
	handle("GET /identity/{id}", true, s.handleIdentityByID)
	handle("GET /consents", true, s.handleConsents)
	handle("GET /consents/{id}", true, s.handleConsent)
	handle("GET /webhooks", true, s.handleListWebhooks)
	handle("POST /webhooks", true, s.handleCreateWebhook)
	handle("GET /webhooks/{id}", true, s.handleGetWebhook)
	handle("PATCH /webhooks/{id}", true, s.handlePatchWebhook)
	handle("DELETE /webhooks/{id}", true, s.handleDeleteWebhook)
	mux.Handle("/", s.wrap(routeUnmatched, false, func(r *http.Request) *reply {
		return errorReply(http.StatusNotFound, "", "Cannot "+r.Method+" "+r.URL.Path)
	}))
	return mux
}

// wrap adds what every route shares: stats, latency, the fault schedule,
// API-key checking and response writing. Handlers only compute a reply.
func (s *Server) wrap(route string, auth bool, h func(*http.Request) *reply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.faults.Load()
		var n uint64
		if route != routeAuth {
			n = s.seq.Add(1)
		}
		s.countRequest(route)
		answering := false
		defer func() {
			if !answering { // abandoned by the client before an answer
				s.leave()
			}
		}()
		ctx := r.Context()
		if !sleepCtx(ctx, s.opts.Latency) {
			return
		}
		if n > 0 && every(n, f.EverySlow) && f.Slow > 0 {
			s.countFault("slow")
			if !sleepCtx(ctx, f.Slow) {
				return
			}
		}
		if n > 0 && f.RevokeKeyAfter > 0 && n == uint64(f.RevokeKeyAfter)+1 {
			s.revokeAll()
			s.countFault("revoke")
		}
		var rep *reply
		mode := writeNormal
		if limit := s.opts.MaxURLBytes; limit > 0 && len(r.RequestURI) > limit {
			s.countFault("414")
			rep = errorReply(http.StatusRequestURITooLong, "", "URI Too Long")
		} else if code, ok := f.Status[route]; ok {
			s.countFault("status")
			rep = f.ErrorShape.reshape(route, s.forcedStatus(route, code, f))
		} else if n > 0 {
			switch {
			case every(n, f.Every429):
				s.countFault("429")
				rep = s.tooManyRequests(360, f)
			case every(n, f.Every500):
				s.countFault("500")
				rep = internalError()
			case every(n, f.EveryGarbage):
				s.countFault("garbage")
				mode = writeGarbage
			case every(n, f.DropMidBodyEvery):
				s.countFault("drop")
				mode = writeDrop
			}
		}
		if rep == nil && auth {
			rep = s.authenticate(r)
		}
		if rep == nil && s.denied(f, route, r) {
			s.countFault("deny")
			rep = f.permissionDenied()
		}
		if rep == nil {
			rep = h(r)
		}
		answering = true
		s.send(w, rep, mode, s.opts.Gzip && acceptsGzip(r.Header.Get("Accept-Encoding")))
	})
}

// every reports whether request n is on an every-N schedule.
func every(n uint64, period int) bool { return period > 0 && n%uint64(period) == 0 }

// sleepCtx sleeps d unless ctx ends first; it reports whether to go on.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reply is a computed response. The body is a list of byte slices so cached
// page bytes can be written without copying them into a fresh buffer.
type reply struct {
	status      int
	header      http.Header
	contentType string
	parts       [][]byte
}

func (r *reply) body() []byte { return bytes.Join(r.parts, nil) }

const (
	writeNormal = iota
	writeGarbage
	writeDrop
)

// send writes rep, or what mode makes of it; gz compresses it with gzip
// (Options.Gzip).
func (s *Server) send(w http.ResponseWriter, rep *reply, mode int, gz bool) {
	parts, status, ctype := rep.parts, rep.status, rep.contentType
	if ctype == "" {
		ctype = "application/json; charset=utf-8"
	}
	if mode == writeGarbage {
		// Alternate between a truncated JSON body and an HTML error page,
		// both with status 200: what a misbehaving proxy produces.
		status = http.StatusOK
		if s.garbageSeq.Add(1)%2 == 1 {
			body := rep.body()
			parts = [][]byte{body[:len(body)/2]}
		} else {
			ctype = "text/html"
			parts = [][]byte{[]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n")}
		}
	}
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Type", ctype)
	if gz {
		parts = [][]byte{gzipped(parts)}
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		s.countGzipped()
	} else {
		size := 0
		for _, p := range parts {
			size += len(p)
		}
		h.Set("Content-Length", strconv.Itoa(size))
	}
	s.answered(status)
	w.WriteHeader(status)
	if gz {
		// Headers out before the body, so net/http cannot give a short
		// body a Content-Length: nginx's gzip never sends one.
		_ = http.NewResponseController(w).Flush()
	}
	if mode == writeDrop {
		body := bytes.Join(parts, nil)
		_, _ = w.Write(body[:len(body)/2])
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		if conn, _, err := rc.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		// Not hijackable (HTTP/2, recorders): abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return
		}
	}
}

// jsonReply marshals v with encoding/json (HTML escaping off, so '&' and
// '<' stay literal as in Pluggy's payloads).
func jsonReply(status int, v any) *reply {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return internalError()
	}
	return &reply{status: status, parts: [][]byte{bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})}}
}

// errorReply writes Pluggy's usual error shape
// {"code":N,"codeDescription":"...","message":"..."}; an empty desc is
// omitted, as on the 403 for a bad key.
func errorReply(status int, desc, msg string) *reply {
	b := append([]byte(`{"code":`), strconv.Itoa(status)...)
	if desc != "" {
		b = append(b, `,"codeDescription":`...)
		b = appendString(b, desc)
	}
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, '}')
	return &reply{status: status, parts: [][]byte{b}}
}

// validationError writes the class-validator style 400 Pluggy uses for bad
// parameters: message first, no codeDescription.
func validationError(msg string) *reply {
	b := appendString([]byte(`{"message":`), msg)
	b = append(b, `,"code":400}`...)
	return &reply{status: http.StatusBadRequest, parts: [][]byte{b}}
}

func notAuthenticated() *reply {
	return errorReply(http.StatusForbidden, "", "Missing or invalid authorization token")
}

func internalError() *reply {
	return errorReply(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal server error")
}

// errorID returns a reproducible uuid for error bodies that carry errorId.
func (s *Server) errorID() string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return newUUID(s.errRNG).String()
}

// acceptsGzip reports whether an Accept-Encoding header value lists gzip
// with a non-zero weight.
func acceptsGzip(accept string) bool {
	for _, e := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		return !ok || strings.Trim(q, "0.") != ""
	}
	return false
}

// gzipped is parts compressed into one gzip stream, at the fastest level:
// the fake's CPU is a benchmark's too.
func gzipped(parts [][]byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: no error
	for _, p := range parts {
		_, _ = zw.Write(p) // a bytes.Buffer does not fail
	}
	_ = zw.Close()
	return buf.Bytes()
}
