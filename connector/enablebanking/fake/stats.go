package fake

import "github.com/source-pluggy/source-pluggy/connector/fakeserver"

// Route templates, as Stats keys them.
const (
	RouteApplication  = "GET /application"
	RouteASPSPs       = "GET /aspsps"
	RouteAuth         = "POST /auth"
	RouteSessionNew   = "POST /sessions"
	RouteSession      = "GET /sessions/{id}"
	RouteSessionClose = "DELETE /sessions/{id}"
	RouteDetails      = "GET /accounts/{uid}/details"
	RouteBalances     = "GET /accounts/{uid}/balances"
	RouteTransactions = "GET /accounts/{uid}/transactions"
	RouteBankPage     = "/fake-bank/auth"
)

// Stats counts the requests the server answered, so tests can hold a
// connector to its budget (the daily limit is what users run out of).
type Stats struct {
	// Requests counts answers per route template and HTTP status.
	Requests fakeserver.Requests `json:"requests"`
	// Chains counts the transactions calls without a continuation key:
	// what the daily limit counts.
	Chains int `json:"chains"`
	// WithPSUHeaders counts requests that carried PSU headers (attended).
	WithPSUHeaders int `json:"with_psu_headers"`
}

// Count returns the requests to a route, whatever their status.
func (st Stats) Count(route string) int { return st.Requests.Count(route) }

func newStats() Stats { return Stats{Requests: fakeserver.Requests{}} }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := s.stats
	out.Requests = s.stats.Requests.Clone()
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats = newStats()
}

func (s *Server) record(route string, status int, psu bool) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Requests.Add(route, status)
	if psu {
		s.stats.WithPSUHeaders++
	}
}
