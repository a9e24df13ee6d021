package fake

import "github.com/source-pluggy/source-pluggy/connector/fakeserver"

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
	Requests fakeserver.Requests `json:"requests"`
	// TokenNew is the number of access tokens POST /token/new/ issued.
	TokenNew int `json:"token_new"`
}

// Count returns the requests to a route, whatever their status.
func (st Stats) Count(route string) int { return st.Requests.Count(route) }

func newStats() Stats { return Stats{Requests: fakeserver.Requests{}} }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return Stats{Requests: s.stats.Requests.Clone(), TokenNew: s.stats.TokenNew}
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats = newStats()
}

func (s *Server) record(route string, status int) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Requests.Add(route, status)
}
