package source

import "sync"

// Memo caches one value per key for the length of a run, so several streams
// (read one after another) and several workers of one stream share a single
// fetch: an item, an account's transactions. Concurrent callers of the same
// key wait for one fetch. Errors are cached too: a failed fetch fails every
// stream that needs it the same way, without asking the API again. The zero
// value is ready to use.
type Memo[T any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[T]
}

type memoEntry[T any] struct {
	once sync.Once
	v    T
	err  error
}

// Get returns the value of key, calling fetch the first time only.
func (m *Memo[T]) Get(key string, fetch func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]*memoEntry[T]{}
	}
	e := m.m[key]
	if e == nil {
		e = &memoEntry[T]{}
		m.m[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.v, e.err = fetch() })
	return e.v, e.err
}
