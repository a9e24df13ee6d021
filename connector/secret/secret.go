// Package secret keeps the values that must never be printed and scrubs them
// from any text on its way out.
//
// Every path to stdout or stderr that can carry free text (LOG and TRACE
// messages, errors, the stderr logger) goes through a Redactor, so a secret
// that leaks into an error string, say inside a URL or a JSON body, is masked
// wherever the error ends up. Records are not scrubbed: they never hold
// credentials, and scanning them would cost the hot path.
package secret

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
)

// Mask replaces every secret occurrence.
const Mask = "**********"

// Redactor masks registered secrets. The zero value is ready; it is safe for
// concurrent use, and a nil *Redactor masks nothing.
type Redactor struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer
}

// Add registers a secret. Its URL-escaped and JSON-escaped spellings are
// registered too, since errors often echo a query string or a request body.
func (r *Redactor) Add(s string) {
	if r == nil || s == "" {
		return
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if b, err := json.Marshal(s); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]struct{}{}
	}
	changed := false
	for _, f := range forms {
		if _, ok := r.values[f]; !ok && f != "" {
			r.values[f] = struct{}{}
			changed = true
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret that contains another is masked whole.
	olds := make([]string, 0, len(r.values))
	for v := range r.values {
		olds = append(olds, v)
	}
	sortByLengthDesc(olds)
	pairs := make([]string, 0, 2*len(olds))
	for _, v := range olds {
		pairs = append(pairs, v, Mask)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// String returns s with every registered secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

func sortByLengthDesc(v []string) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && (len(v[j]) > len(v[j-1]) || len(v[j]) == len(v[j-1]) && v[j] < v[j-1]); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
