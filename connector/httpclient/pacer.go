package httpclient

import (
	"context"
	"sync"
	"time"
)

// Pacer spaces requests per route with a token bucket, so a large sync stays
// under per-endpoint, per-minute limits (Pluggy: 360/min/IP) instead of
// running into 429s and waiting out whole windows.
type Pacer struct {
	perMinute int
	burst     float64

	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewPacer allows perMinute requests a minute per route, with bursts of up
// to a sixth of that. perMinute <= 0 disables pacing (returns nil).
func NewPacer(perMinute int) *Pacer {
	if perMinute <= 0 {
		return nil
	}
	return &Pacer{perMinute: perMinute, burst: max(1, float64(perMinute)/6), buckets: map[string]*bucket{}, now: time.Now}
}

// Wait blocks until route may send a request. A nil Pacer never waits.
func (p *Pacer) Wait(ctx context.Context, route string) error {
	if p == nil {
		return nil
	}
	for {
		p.mu.Lock()
		now := p.now()
		b := p.buckets[route]
		if b == nil {
			b = &bucket{tokens: p.burst, last: now}
			p.buckets[route] = b
		}
		rate := float64(p.perMinute) / 60 // tokens per second
		b.tokens = min(p.burst, b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
		if b.tokens >= 1 {
			b.tokens--
			p.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
		p.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
