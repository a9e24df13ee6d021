package fake

import (
	"maps"
	"net/http"
)

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
	// Requests maps a route template to counts per HTTP status.
	Requests map[string]map[int]int `json:"requests"`
	// Chains counts the transactions calls without a continuation key:
	// what the daily limit counts.
	Chains int `json:"chains"`
	// WithPSUHeaders counts requests that carried PSU headers (attended).
	WithPSUHeaders int `json:"with_psu_headers"`
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
	out := s.stats
	out.Requests = map[string]map[int]int{}
	for route, by := range s.stats.Requests {
		out.Requests[route] = maps.Clone(by)
	}
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
}

func (s *Server) record(route string, status int, psu bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.Requests[route] == nil {
		s.stats.Requests[route] = map[int]int{}
	}
	s.stats.Requests[route][status]++
	if psu {
		s.stats.WithPSUHeaders++
	}
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
