package enablebanking

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
)

// TestTokenOutlivedByRetriesIsRenewed: a call whose retries outlast its
// token (rate-limit waits of up to 5 minutes each, ten of them, on a call
// that is not the bank's) is sent again with a token that is still valid.
// The token was signed once per call, before its first attempt, so a
// retry an hour on carried an expired one, which Enable Banking refuses
// with 401 UNAUTHORIZED_ACCESS, and the run failed with a config_error
// telling the user to check application_id and the key.
func TestTokenOutlivedByRetriesIsRenewed(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var limited atomic.Bool
	f, c := openFakeWith(t, fake.Options{Now: clock, TransactionsPerAccount: 5}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !limited.Load() || !strings.HasPrefix(r.URL.Path, "/sessions/") {
				h.ServeHTTP(w, r)
				return
			}
			limited.Store(false)
			advance(61 * time.Minute) // the waits of a long rate limit, at once
			w.Header().Set("Date", clock().Format(http.TimeFormat))
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(http.StatusTooManyRequests)
		})
	})
	ctx := context.Background()
	sessions := f.SessionIDs()
	if _, err := c.session(ctx, sessions[0]); err != nil {
		t.Fatal(err)
	}
	// The next call signs a token on the API's clock, known by now; the
	// one after it is rate limited for over an hour.
	advance(56 * time.Minute)
	limited.Store(true)
	if _, err := c.session(ctx, sessions[1]); err != nil {
		t.Fatalf("a call retried past its token's expiry: %v", err)
	}
}
