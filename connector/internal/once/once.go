// Package once remembers what a run has already said, so that a WARN about
// one requisition, session or field is said once however many streams and
// workers meet it.
package once

import "sync"

// Keys is a set of keys seen. The zero value is empty and ready; it is safe
// for concurrent use.
type Keys struct {
	mu   sync.Mutex
	seen map[string]bool
}

// First reports whether key is new to k, and adds it: true for the first
// caller with key, false for every later one.
func (k *Keys) First(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen[key] {
		return false
	}
	if k.seen == nil {
		k.seen = map[string]bool{}
	}
	k.seen[key] = true
	return true
}
