package fake

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
)

// routes wires every endpoint through the same steps the real service
// takes: latency, bearer check, company-level limit, then the handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, RouteTokenNew, false, groupTokenNew, s.handleTokenNew)
	s.route(mux, RouteTokenRefresh, false, groupTokenRefresh, s.handleTokenRefresh)
	s.route(mux, RouteInstitutions, true, groupInstitutions, s.handleInstitutions)
	s.route(mux, RouteInstitution, true, groupInstitutions, s.handleInstitution)
	s.route(mux, RouteAgreement, true, groupAgreements, s.handleAgreement)
	s.route(mux, RouteReconfirm, true, groupAgreements, s.handleReconfirmation)
	s.route(mux, RouteCreateAgreement, true, groupAgreements, s.handleCreateAgreement)
	s.route(mux, RouteCreateRequisition, true, groupRequisitions, s.handleCreateRequisition)
	s.route(mux, RouteConsent, false, groupNone, s.handleConsent)
	s.route(mux, RouteRequisitions, true, groupRequisitions, s.handleRequisitions)
	s.route(mux, RouteRequisition, true, groupRequisitions, s.handleRequisition)
	s.route(mux, RouteAccount, true, groupAccounts, s.handleAccount)
	s.route(mux, RouteDetails, true, groupAccounts, s.handleDetails)
	s.route(mux, RouteBalances, true, groupAccounts, s.handleBalances)
	s.route(mux, RouteTransactions, true, groupAccounts, s.handleTransactions)
	s.route(mux, RouteUnmatched, false, groupNone, func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errNotFound())
	})
	return mux
}

// route registers h for a template. The pattern gets {$} so that
// "/accounts/{id}/" does not swallow "/accounts/{id}/anything/".
func (s *Server) route(mux *http.ServeMux, template string, auth bool, g group, h http.HandlerFunc) {
	pattern := "/"
	if template != RouteUnmatched {
		pattern = template + "{$}"
	}
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !s.delay(r) {
			return // the client went away; there is nobody to answer
		}
		// The Date header follows the fake's clock, AdvanceClock included,
		// as a real server's follows its own: clients that time quota
		// resets by the server see time pass.
		w.Header().Set("Date", s.Now().Format(http.TimeFormat))
		rec := &fakeserver.StatusRecorder{ResponseWriter: w, OnStatus: func(status int) { s.record(template, status) }}
		defer rec.Finish()
		if ip, ok := s.denied(r); ok && template != RouteConsent {
			writeError(rec, errIPDenied(ip))
			return
		}
		if auth && !s.authorize(rec, r) {
			return
		}
		if g != groupNone && !s.admit(rec, g) {
			return
		}
		h(rec, r)
	})
}

// denied reports a request from an address not on Options.AllowedIPs,
// and that address. The allow-list guards the API, not the bank's consent
// pages the end user's browser opens.
func (s *Server) denied(r *http.Request) (string, bool) {
	if len(s.opts.AllowedIPs) == 0 {
		return "", false
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return ip, !slices.Contains(s.opts.AllowedIPs, ip)
}

func (s *Server) delay(r *http.Request) bool {
	if s.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// admit counts the request against its company-level group and writes the
// general rate-limit headers, answering 429 itself once the group is spent.
func (s *Server) admit(w http.ResponseWriter, g group) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	win := s.company[g]
	ok := win.remaining(now) > 0
	if ok {
		win.add(now)
	}
	s.setLimitHeaders(w.Header(), false, win, now)
	if !ok {
		writeError(w, rateLimited(win, now, ""))
	}
	return ok
}

// baseURL is the scheme and host the client used, for the absolute links
// in paginated answers.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) handleInstitutions(w http.ResponseWriter, r *http.Request) {
	country := strings.ToUpper(r.URL.Query().Get("country"))
	out := []institution{}
	for _, in := range append(institutions[:len(institutions):len(institutions)], extraInstitutions...) {
		if country == "" || in.country == country {
			in.SeparateContinuousHistoryConsent = in.SeparateContinuousHistoryConsent || s.opts.SeparateHistoryConsent
			out = append(out, in)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleInstitution(w http.ResponseWriter, r *http.Request) {
	in, ok := findInstitution(r.PathValue("id"))
	if !ok {
		writeError(w, errNotFound())
		return
	}
	in.SeparateContinuousHistoryConsent = in.SeparateContinuousHistoryConsent || s.opts.SeparateHistoryConsent
	writeJSON(w, http.StatusOK, in)
}

// serveByID answers the entity m holds under the path's id, or 404.
func serveByID[T any](s *Server, w http.ResponseWriter, r *http.Request, m map[string]*T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := m[r.PathValue("id")]
	if !ok {
		writeError(w, errNotFound())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleAgreement(w http.ResponseWriter, r *http.Request) {
	serveByID(s, w, r, s.agreements)
}

// handleReconfirmation serves an agreement's reconfirmation, or 404 when
// none was created.
func (s *Server) handleReconfirmation(w http.ResponseWriter, r *http.Request) {
	serveByID(s, w, r, s.reconfirmations)
}

func (s *Server) handleRequisition(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if rq, ok := s.requisitions[r.PathValue("id")]; ok {
		rq.advance()
	}
	s.mu.Unlock()
	serveByID(s, w, r, s.requisitions)
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[r.PathValue("id")]
	if !ok {
		writeError(w, errNotFound())
		return
	}
	writeJSON(w, http.StatusOK, a.meta)
}

// handleRequisitions serves the paginated list, {count, next, previous,
// results}, with limit and offset as on the real API.
func (s *Server) handleRequisitions(w http.ResponseWriter, r *http.Request) {
	limit, offset := 100, 0
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			limit = n
		}
	}
	if v := q.Get("offset"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			offset = n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := struct {
		Count    int            `json:"count"`
		Next     *string        `json:"next"`
		Previous *string        `json:"previous"`
		Results  []*requisition `json:"results"`
	}{Count: len(s.requisitionOrder), Results: []*requisition{}}
	for i := offset; i < len(s.requisitionOrder) && i < offset+limit; i++ {
		page.Results = append(page.Results, s.requisitions[s.requisitionOrder[i]])
	}
	link := func(off int) *string {
		u := fmt.Sprintf("%s/api/v2/requisitions/?limit=%d&offset=%d", baseURL(r), limit, off)
		return &u
	}
	if offset+limit < page.Count {
		page.Next = link(offset + limit)
	}
	if offset > 0 {
		page.Previous = link(max(0, offset-limit))
	}
	writeJSON(w, http.StatusOK, page)
}
