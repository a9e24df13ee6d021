package fake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, RouteApplication, true, s.handleApplication)
	s.route(mux, RouteASPSPs, true, s.handleASPSPs)
	s.route(mux, RouteAuth, true, s.handleAuth)
	s.route(mux, RouteSessionNew, true, s.handleSessionNew)
	s.route(mux, RouteSession, true, s.handleSession)
	s.route(mux, RouteSessionClose, true, s.handleSessionClose)
	s.route(mux, RouteDetails, true, s.handleDetails)
	s.route(mux, RouteBalances, true, s.handleBalances)
	s.route(mux, RouteTransactions, true, s.handleTransactions)
	// The bank's page is the user's browser, not the API: no token.
	s.route(mux, "GET "+RouteBankPage, false, s.handleBankPage)
	s.route(mux, "POST "+RouteBankPage, false, s.handleBankConsent)
	return mux
}

// route registers h under pattern (a method and path), recording every
// answer under the pattern and verifying the JWT where auth is set.
func (s *Server) route(mux *http.ServeMux, pattern string, auth bool, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Latency > 0 {
			t := time.NewTimer(s.opts.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		// The Date header follows the fake's clock, AdvanceClock included,
		// so clients that time resets by the server see time pass.
		w.Header().Set("Date", s.Now().Format(http.TimeFormat))
		rec := &fakeserver.StatusRecorder{ResponseWriter: w, OnStatus: func(status int) { s.record(pattern, status, attended(r)) }}
		defer rec.Finish()
		if auth && !s.verify(rec, r) {
			return
		}
		h(rec, r)
	})
}

// attended reports whether a request carries PSU headers: the account
// holder is present, and the unattended limit does not apply.
func attended(r *http.Request) bool {
	return r.Header.Get("Psu-Ip-Address") != "" || r.Header.Get("Psu-User-Agent") != ""
}

// psuHeaders are the PSU headers the API reference lists.
var psuHeaders = []string{"Psu-Ip-Address", "Psu-User-Agent", "Psu-Referer", "Psu-Accept", "Psu-Accept-Charset", "Psu-Accept-Encoding", "Psu-Accept-Language", "Psu-Geo-Location"}

// requiredPSUHeaders is what GET /aspsps lists for b: Options.RequiredPSUHeaders,
// or none.
func (s *Server) requiredPSUHeaders(b bank) []string {
	if h := s.opts.RequiredPSUHeaders[b.Name]; h != nil {
		return h
	}
	return []string{}
}

// missingPSUHeader is the first of required a request carrying some PSU
// headers does not carry, in the API's spelling (psuIpAddress), or "":
// Enable Banking takes all of a bank's required PSU headers or none.
func missingPSUHeader(r *http.Request, required []string) string {
	some := false
	for _, h := range psuHeaders {
		some = some || r.Header.Get(h) != ""
	}
	if !some {
		return ""
	}
	for _, h := range required {
		if r.Header.Get(h) == "" {
			parts := strings.Split(strings.ToLower(h), "-")
			for i := 1; i < len(parts); i++ {
				if parts[i] != "" {
					parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
				}
			}
			return strings.Join(parts, "")
		}
	}
	return ""
}

func (s *Server) handleApplication(w http.ResponseWriter, r *http.Request) {
	redirects := []string{"http://127.0.0.1/callback"}
	if s.opts.RedirectURLs != nil {
		redirects = s.opts.RedirectURLs
	}
	writeJSON(w, 200, map[string]any{
		"name": "Fake application", "description": nil, "kid": s.opts.ApplicationID, "environment": "SANDBOX",
		"redirect_urls": redirects, "active": !s.opts.Inactive, "countries": []string{"FI", "SE", "NO", "DE"},
		"services": []string{"AIS"},
	})
}

func (s *Server) handleASPSPs(w http.ResponseWriter, r *http.Request) {
	country := strings.ToUpper(r.URL.Query().Get("country"))
	list := []map[string]any{}
	for _, b := range banks {
		if country != "" && b.Country != country {
			continue
		}
		list = append(list, map[string]any{
			"name": b.Name, "country": b.Country, "logo": "https://enablebanking.com/brands/" + b.Country + "/" + b.Name + "/",
			"psu_types":                []string{"personal", "business"},
			"auth_methods":             []map[string]any{{"name": "redirect", "title": nil, "psu_type": "personal", "approach": "REDIRECT", "hidden_method": false, "credentials": []any{}}},
			"maximum_consent_validity": 15552000, "sandbox": map[string]any{"users": []any{}}, "beta": false, "bic": b.BIC,
			"required_psu_headers": s.requiredPSUHeaders(b), "payments": []any{}, "group": nil,
		})
	}
	writeJSON(w, 200, map[string]any{"aspsps": list})
}

// sessionBody is GET /sessions/{id}.
func (s *Server) sessionBody(ss *session) map[string]any {
	var data []map[string]any
	uids := []string{}
	for _, uid := range ss.accounts {
		a := s.accounts[uid]
		d := map[string]any{"uid": uid, "identification_hash": a.hash, "identification_hashes": a.resource["identification_hashes"]}
		if a.blocked {
			delete(d, "uid") // and not in accounts either
		} else {
			uids = append(uids, uid)
		}
		data = append(data, d)
	}
	return map[string]any{
		"status": ss.status, "accounts": uids, "accounts_data": data,
		"aspsp":    map[string]any{"name": ss.bank.Name, "country": ss.bank.Country},
		"psu_type": "personal", "psu_id_hash": ss.psuIDHash,
		"access":     map[string]any{"valid_until": ss.validUntil.Format(time.RFC3339Nano), "balances": true, "transactions": true},
		"created":    ss.created.Format(time.RFC3339Nano),
		"authorized": ss.created.Add(2 * time.Minute).Format(time.RFC3339Nano),
		"closed":     nil,
	}
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[strings.ToLower(r.PathValue("id"))]
	if ss == nil {
		writeError(w, errNoSession())
		return
	}
	s.expire(ss)
	writeJSON(w, 200, s.sessionBody(ss))
}

func (s *Server) handleSessionClose(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[strings.ToLower(r.PathValue("id"))]
	if ss == nil {
		writeError(w, errNoSession())
		return
	}
	ss.status = "CLOSED"
	writeJSON(w, 200, map[string]any{"message": "OK"})
}

// expire moves a session past its valid_until to EXPIRED.
func (s *Server) expire(ss *session) {
	if ss.status == "AUTHORIZED" && !s.now().Before(ss.validUntil) {
		ss.status = "EXPIRED"
	}
}

// accountFor finds the account of a data call and answers the refusals
// every data call shares: unknown account, dead session, failing bank, the
// unattended limit (counted when counted is set). Caller holds s.mu.
func (s *Server) accountFor(w http.ResponseWriter, r *http.Request, endpoint string, counted bool) *account {
	a := s.accounts[strings.ToLower(r.PathValue("uid"))]
	if a == nil {
		writeError(w, errNoAccount())
		return nil
	}
	ss := s.sessions[a.sessionID]
	s.expire(ss)
	switch ss.status {
	case "AUTHORIZED":
	case "EXPIRED":
		writeError(w, errExpiredSession())
		return nil
	default:
		writeError(w, apiError{Code: 401, Message: "Session is " + strings.ToLower(ss.status), Error: ss.status + "_SESSION"})
		return nil
	}
	if f := a.failure; f != nil {
		f.write(w)
		return nil
	}
	if missing := missingPSUHeader(r, s.requiredPSUHeaders(ss.bank)); missing != "" {
		writeError(w, apiError{Code: 422, Message: "Required PSU header is not provided", Error: "PSU_HEADER_NOT_PROVIDED", Detail: "PSU header " + missing + " is not provided"})
		return nil
	}
	if !attended(r) && slices.Contains(s.opts.UnattendedASPSPError, ss.bank.Name) {
		writeError(w, errASPSP())
		return nil
	}
	if counted && !attended(r) {
		k := s.quotaKeyOf(a, endpoint)
		now := s.now()
		calls := s.window(k, now)
		if len(calls) >= s.opts.DailyLimit {
			writeError(w, errRateLimit(a.uid))
			return nil
		}
		if s.opts.QuotaFirstCallFree && !s.freeSpent[k] {
			s.freeSpent[k] = true // not counted
		} else {
			s.quotas[k] = append(calls, now)
		}
	}
	return a
}

func (s *Server) handleDetails(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountFor(w, r, EndpointDetails, true); a != nil {
		writeJSON(w, 200, a.resource)
	}
}

func (s *Server) handleBalances(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accountFor(w, r, EndpointBalances, true); a != nil {
		writeJSON(w, 200, map[string]any{"balances": a.balances})
	}
}

// continuation is what a continuation key carries: where the next page
// starts and the parameters of the call that made it.
type continuation struct {
	Offset   int    `json:"o"`
	DateFrom string `json:"f"`
	DateTo   string `json:"t"`
	Status   string `json:"s"`
	Empty    bool   `json:"e,omitempty"` // the empty first page was served
	// Floor is the oldest date the chain serves when
	// Options.HistoryAfterFirstCall clipped it ("" none).
	Floor string `json:"c,omitempty"`
}

func (s *Server) handleTransactions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	key := q.Get("continuation_key")
	if key == "" {
		s.statsMu.Lock()
		s.stats.Chains++
		s.statsMu.Unlock()
	}
	a := s.accountFor(w, r, EndpointTransactions, key == "")
	if a == nil {
		return
	}
	from, to, status := q.Get("date_from"), q.Get("date_to"), q.Get("transaction_status")
	if to != "" && from == "" {
		writeError(w, errBadRequest("DATE_TO_WITHOUT_DATE_FROM", "date_to is given without date_from"))
		return
	}
	for _, d := range []string{from, to} {
		if _, err := time.Parse(time.DateOnly, d); err != nil && d != "" {
			writeError(w, errBadRequest("WRONG_REQUEST_PARAMETERS", "dates must be YYYY-MM-DD"))
			return
		}
	}
	today := s.now().Format(time.DateOnly)
	if from > today {
		writeError(w, errBadRequest("DATE_FROM_IN_FUTURE", "date_from is in the future"))
		return
	}
	if a.historyDays > 0 && key == "" && (from == "" || from < day(s.now()).AddDate(0, 0, -a.historyDays).Format(time.DateOnly)) {
		writeError(w, errASPSP()) // Danske's blanket refusal; the call still counted
		return
	}
	c := continuation{DateFrom: from, DateTo: to, Status: status}
	if key != "" {
		b, err := base64.RawURLEncoding.DecodeString(key)
		var got continuation
		if err != nil || json.Unmarshal(b, &got) != nil {
			writeError(w, errBadRequest("WRONG_CONTINUATION_KEY", "continuation key is not valid"))
			return
		}
		switch {
		case got.DateFrom != from:
			writeError(w, errWrongParameters("dateFrom"))
			return
		case got.DateTo != to:
			writeError(w, errWrongParameters("dateTo"))
			return
		case got.Status != status:
			writeError(w, errWrongParameters("transactionStatus"))
			return
		}
		c = got
	}
	if key == "" && s.opts.HistoryAfterFirstCall > 0 {
		if a.historyServed {
			c.Floor = day(s.now()).AddDate(0, 0, -s.opts.HistoryAfterFirstCall).Format(time.DateOnly)
		}
		a.historyServed = true
	}
	lo := max(from, c.Floor)
	var rows []*row
	for _, set := range [][]*row{a.booked, a.pending} {
		for _, rw := range set {
			st, _ := rw.f["status"].(string)
			d := rw.date()
			if (status == "" || st == status) && (lo == "" || d >= lo) && (to == "" || d <= to) {
				rows = append(rows, rw)
			}
		}
	}
	switch s.opts.Order {
	case OrderOldestFirst:
		slices.Reverse(rows)
	case OrderShuffled:
		rng := newRNG(s.opts.OrderSeed, "order/"+a.uid+"/"+from+"/"+to+"/"+status)
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	}
	page := []*row{}
	next := any(nil)
	if a.emptyFirstPage && key == "" {
		c.Empty = true
		b, _ := json.Marshal(c)
		next = base64.RawURLEncoding.EncodeToString(b)
	} else {
		end := min(c.Offset+s.opts.PageSize, len(rows))
		if c.Offset < end {
			page = rows[c.Offset:end]
		}
		if end < len(rows) {
			n := c
			n.Offset = end
			b, _ := json.Marshal(n)
			next = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	if a.repeatKey && key != "" && next != nil {
		next = key // the bank hands back the key it was given
	}
	body := map[string]any{"transactions": a.serveAll(page), "continuation_key": next}
	if next == nil {
		switch s.opts.LastPageKey {
		case "absent":
			delete(body, "continuation_key")
		case "empty":
			body["continuation_key"] = ""
		}
	}
	writeJSON(w, 200, body)
}

// serveAll encodes a page; a positional bank numbers references across the
// whole booked list, so a page shows the same numbers as Booked. Only the
// page's rows are encoded: encoding the whole list for every page made a
// read of N rows cost N²/page-size encodings (97 s for 50,050 rows in
// 25-row pages).
func (a *account) serveAll(page []*row) []json.RawMessage {
	if !a.positional {
		return a.serve(page)
	}
	// Each booked row's number among the booked rows of its date.
	place := make(map[*row]int, len(a.booked))
	perDay := map[string]int{}
	for _, r := range a.booked {
		if r.f["status"] == "BOOK" {
			d := r.date()
			place[r] = perDay[d]
			perDay[d]++
		}
	}
	out := make([]json.RawMessage, len(page))
	for i, r := range page {
		if n, ok := place[r]; ok {
			out[i] = a.encode(r, map[string]int{r.date(): n})
		} else {
			out[i] = a.serve([]*row{r})[0]
		}
	}
	return out
}

// Endpoints with a daily limit.
const (
	EndpointDetails      = "details"
	EndpointBalances     = "balances"
	EndpointTransactions = "transactions"
)

// quotaKey is what the bank counts against: an account (its
// identification_hash) and endpoint by default; with Options.QuotaUnit
// "account" the endpoint is "", with "session" the account is the
// session's id and the endpoint "".
type quotaKey struct{ account, endpoint string }

// quotaKeyOf is the unit a call on a's endpoint is counted against.
func (s *Server) quotaKeyOf(a *account, endpoint string) quotaKey {
	switch s.opts.QuotaUnit {
	case QuotaPerAccount:
		return quotaKey{a.hash, ""}
	case QuotaPerSession:
		return quotaKey{"session " + a.sessionID, ""}
	}
	return quotaKey{a.hash, endpoint}
}

// window returns the calls of the last 24 hours, or with QuotaWindow
// "calendar" those since the day's start. Caller holds s.mu.
func (s *Server) window(k quotaKey, now time.Time) []time.Time {
	keep := s.quotas[k][:0:0]
	start := s.QuotaDayStart(now)
	for _, t := range s.quotas[k] {
		if s.opts.QuotaWindow == QuotaCalendarDay && !t.Before(start) || s.opts.QuotaWindow != QuotaCalendarDay && now.Sub(t) < 24*time.Hour {
			keep = append(keep, t)
		}
	}
	s.quotas[k] = keep
	return keep
}

// QuotaDayStart is when the "calendar" day holding t began: the last
// Options.QuotaResetHour UTC at or before t.
func (s *Server) QuotaDayStart(t time.Time) time.Time {
	start := day(t).Add(time.Duration(s.opts.QuotaResetHour) * time.Hour)
	if start.After(t.UTC()) {
		start = start.AddDate(0, 0, -1)
	}
	return start
}

// QuotaRemaining is how many unattended calls an account has left today on
// an endpoint (of its unit's, Options.QuotaUnit; a free first call aside).
func (s *Server) QuotaRemaining(uid, endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[uid]
	if a == nil {
		return 0
	}
	return s.opts.DailyLimit - len(s.window(s.quotaKeyOf(a, endpoint), s.now()))
}
