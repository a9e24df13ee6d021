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
// body without one) and reports it through OnStatus before the first byte
// leaves. Counting after the handler returned would race the client: a
// client that has its headers, or its whole Content-Length body, can ask
// the fake for its stats before a deferred count has run.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
	// OnStatus, if set, is called once with the status, as it is written.
	OnStatus func(status int)
}

func (r *StatusRecorder) set(status int) {
	if r.Status != 0 {
		return
	}
	r.Status = status
	if r.OnStatus != nil {
		r.OnStatus(status)
	}
}

// WriteHeader records the first status written, then writes it.
func (r *StatusRecorder) WriteHeader(status int) {
	r.set(status)
	r.ResponseWriter.WriteHeader(status)
}

func (r *StatusRecorder) Write(b []byte) (int, error) {
	r.set(http.StatusOK)
	return r.ResponseWriter.Write(b)
}

// Finish records 200 for a handler that wrote nothing, as net/http will
// answer it. Defer it in the handler that wraps the writer.
func (r *StatusRecorder) Finish() { r.set(http.StatusOK) }

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
