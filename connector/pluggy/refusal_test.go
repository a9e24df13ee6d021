package pluggy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// TestKeysRefusalIsSticky: once POST /auth refuses the keys, even at a
// renewal mid-run, every later call that needs a key gets that refusal at
// once, concurrent ones included: one refused POST /auth in all. Wrapped
// with the item or account whose call met it, it stays itself (no item is
// blamed), so a stream's joined error says it once.
func TestKeysRefusalIsSticky(t *testing.T) {
	var auths, gets atomic.Int32
	hc := httpclient.New(&secret.Redactor{})
	hc.MaxRetries, hc.MaxRateLimitRetries = 2, 0
	hc.HTTP = &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
		if r.URL.Path == "/auth" {
			if auths.Add(1) == 1 {
				// A key that needs renewing before the next call.
				now := time.Now().Unix()
				return answer(200, []byte(`{"apiKey":"`+jwt(fmt.Sprintf(`{"iat":%d,"exp":%d}`, now, now+30))+`"}`))
			}
			return answer(401, []byte(`{"code":401,"codeDescription":"CLIENT_KEYS_UNAUTHORIZED","message":"Client keys are invalid"}`))
		}
		gets.Add(1)
		return answer(200, []byte(`{}`))
	})}
	base, _ := url.Parse("http://127.0.0.1:9")
	c := NewClient(base, "id", "rotated-secret", hc, hc.Secrets)
	ctx := context.Background()
	var v map[string]any
	if err := c.getJSON(ctx, "GET /x", "/x", nil, &v); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.getJSON(ctx, "GET /x", "/x", nil, &v)
		}()
	}
	wg.Wait()
	if n := auths.Load(); n != 2 {
		t.Errorf("%d POST /auth, want 2: the run's key, and the renewal whose refusal holds", n)
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("%d GETs sent, want 1: none without a key", n)
	}
	for i, err := range errs {
		var kr *authFailed
		if !errors.As(err, &kr) || source.FailureTypeOf(err) != protocol.ConfigError {
			t.Fatalf("call %d: %v (%s), want the keys' refusal as a config_error", i, err, source.FailureTypeOf(err))
		}
		if err != errs[0] { //nolint:errorlint // the same refusal, not one like it
			t.Errorf("call %d got another error than call 0: %v", i, err)
		}
	}
	refused := errs[0]
	joined := errors.Join(
		within("item I1", refused),
		within("accounts of item I2", refused),
		within("account A of item I3", fmt.Errorf("looking up 3 transactions missing from the lookback window: %w", refused)),
		itemError("I4", "loans", refused),
	)
	msg := source.UserMessage(joined)
	if strings.Count(msg, "copy both from your application in the Pluggy dashboard") != 1 || strings.Contains(msg, "item I") {
		t.Errorf("a stream whose items all met the refusal says %q; want it once, no item named", msg)
	}
	// Anything else still names what failed.
	other := within("item I1", errors.New("boom"))
	if got := source.UserMessage(other); got != "item I1: boom" {
		t.Errorf("within: %q", got)
	}
}

// TestUnansweredAuthStandsAMinute: a POST /auth that fails through its
// retries (a 503 here) is every call's answer for authRetryAfter, without
// another request, and a call after that minute asks again: the webhook
// receiver runs for days, and the API comes back.
func TestUnansweredAuthStandsAMinute(t *testing.T) {
	var auths atomic.Int32
	hc := httpclient.New(&secret.Redactor{})
	hc.MaxRetries, hc.MaxRateLimitRetries = 0, 0
	hc.HTTP = &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
		if r.URL.Path == "/auth" {
			if auths.Add(1) == 1 {
				return answer(503, []byte(`upstream down`))
			}
			now := time.Now().Unix()
			return answer(200, []byte(`{"apiKey":"`+jwt(fmt.Sprintf(`{"iat":%d,"exp":%d}`, now, now+3600))+`"}`))
		}
		return answer(200, []byte(`{}`))
	})}
	base, _ := url.Parse("http://127.0.0.1:9")
	c := NewClient(base, "id", "secret", hc, hc.Secrets)
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	var v map[string]any
	first := c.getJSON(ctx, "GET /x", "/x", nil, &v)
	if first == nil || source.FailureTypeOf(first) != protocol.TransientError {
		t.Fatalf("first call: %v (%s), want the failed POST /auth as a transient_error", first, source.FailureTypeOf(first))
	}
	now = now.Add(authRetryAfter - time.Second)
	if err := c.getJSON(ctx, "GET /x", "/x", nil, &v); !errors.Is(err, first) {
		t.Errorf("a call within the minute: %v, want the same failure", err)
	}
	if n := auths.Load(); n != 1 {
		t.Errorf("%d POST /auth within the minute, want 1", n)
	}
	if got := within("item X", first); got != first { //nolint:errorlint // the failure itself, unwrapped
		t.Errorf("within named an item for the failed POST /auth: %v", got)
	}
	now = now.Add(2 * time.Second)
	if err := c.getJSON(ctx, "GET /x", "/x", nil, &v); err != nil {
		t.Errorf("a call after the minute: %v, want POST /auth asked again and the call made", err)
	}
}
