package fake

import (
	"maps"
	"net/http"
)

// Route templates, as Stats keys them.
const (
	RouteTokenNew     = "POST /api/v2/token/new/"
	RouteTokenRefresh = "POST /api/v2/token/refresh/"
	RouteInstitutions = "GET /api/v2/institutions/"
	RouteInstitution  = "GET /api/v2/institutions/{id}/"
	RouteAgreement    = "GET /api/v2/agreements/enduser/{id}/"
	RouteReconfirm    = "GET /api/v2/agreements/enduser/{id}/reconfirm/"
	RouteRequisitions = "GET /api/v2/requisitions/"
	RouteRequisition  = "GET /api/v2/requisitions/{id}/"
	RouteAccount      = "GET /api/v2/accounts/{id}/"
	RouteDetails      = "GET /api/v2/accounts/{id}/details/"
	RouteBalances     = "GET /api/v2/accounts/{id}/balances/"
	RouteTransactions = "GET /api/v2/accounts/{id}/transactions/"
	// RouteUnmatched counts requests no route matched.
	RouteUnmatched = "unmatched"
)

// Stats counts the requests the server answered, so tests can assert how
// many calls a connector spent (the quota is what users run out of).
type Stats struct {
	// Requests maps a route template (RouteTransactions, ...) to counts per
	// HTTP status.
	Requests map[string]map[int]int `json:"requests"`
	// TokenNew is the number of access tokens POST /token/new/ issued.
	TokenNew int `json:"token_new"`
}

// Count returns the requests to a route, whatever their status.
func (st Stats) Count(route string) int {
	n := 0
	for _, c := range st.Requests[route] {
		n += c
	}
	return n
}

func newStats() Stats { return Stats{Requests: map[string]map[int]int{}} }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: make(map[string]map[int]int, len(s.stats.Requests)), TokenNew: s.stats.TokenNew}
	for route, byStatus := range s.stats.Requests {
		out.Requests[route] = maps.Clone(byStatus)
	}
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
}

func (s *Server) record(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byStatus := s.stats.Requests[route]
	if byStatus == nil {
		byStatus = map[int]int{}
		s.stats.Requests[route] = byStatus
	}
	byStatus[status]++
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
