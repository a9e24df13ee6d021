package fakeserver

import (
	"maps"
	"net/http"
)

// Requests counts a fake's answers per route template and HTTP status, so
// tests can hold a connector to its call budget.
type Requests map[string]map[int]int

// Add counts one answer.
func (r Requests) Add(route string, status int) {
	if r[route] == nil {
		r[route] = map[int]int{}
	}
	r[route][status]++
}

// Count returns the answers to a route, whatever their status.
func (r Requests) Count(route string) int {
	n := 0
	for _, c := range r[route] {
		n += c
	}
	return n
}

// Clone returns a deep copy.
func (r Requests) Clone() Requests {
	out := make(Requests, len(r))
	for route, by := range r {
		out[route] = maps.Clone(by)
	}
	return out
}

// StatusRecorder remembers the status a handler wrote (200 when it wrote a
// body without one).
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status written, then writes it.
func (r *StatusRecorder) WriteHeader(status int) {
	if r.Status == 0 {
		r.Status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *StatusRecorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
