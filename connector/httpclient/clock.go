package httpclient

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// ServerClock is an API's clock: the last Date header seen, moved on by the
// local monotonic clock since. Quota resets and date windows are the
// server's times, so comparing them with its clock keeps a connector's
// decisions (skip a call, which day is today) immune to a wrong local
// clock. Before any answer it is the local clock.
type ServerClock struct {
	local func() time.Time

	mu     sync.Mutex
	offset time.Duration
	synced bool
}

// NewServerClock returns a clock that starts as local (time.Now when nil).
func NewServerClock(local func() time.Time) *ServerClock {
	if local == nil {
		local = time.Now
	}
	return &ServerClock{local: local}
}

// Observe takes the Date header of an answer, if it has one.
func (c *ServerClock) Observe(h http.Header) {
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = true
	// Date has whole seconds: keep the old offset while it agrees within
	// one, so the clock does not jitter back and forth.
	off := d.Sub(c.local())
	if diff := off - c.offset; diff > time.Second || diff < -time.Second {
		c.offset = off
	}
}

// ObserveAnswer feeds the clock from an answer, or from the error that
// carries one.
func (c *ServerClock) ObserveAnswer(resp *Response, err error) {
	if resp != nil {
		c.Observe(resp.Header)
		return
	}
	var se *StatusError
	if errors.As(err, &se) {
		c.Observe(se.Header)
	}
}

// Synced reports whether an answer's Date has been seen: before, Now is
// only the local clock.
func (c *ServerClock) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced
}

// Now is the server's time, in UTC.
func (c *ServerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local().Add(c.offset).UTC()
}

// Today is midnight UTC of the server's day.
func (c *ServerClock) Today() time.Time {
	y, m, d := c.Now().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// FormatTime is t as state and messages write times: RFC 3339 in UTC, to
// the second.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
