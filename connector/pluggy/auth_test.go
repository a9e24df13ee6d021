package pluggy

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + ".c2ln"
}

func TestJWTExpiry(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	for _, c := range []struct {
		name string
		key  string
		want time.Time
	}{
		{"in step", jwt(fmt.Sprintf(`{"iat":%d,"exp":%d}`, at(0), at(2*time.Hour))), now.Add(2 * time.Hour)},
		{"server clock 3 h behind", jwt(fmt.Sprintf(`{"iat":%d,"exp":%d}`, at(-3*time.Hour), at(-time.Hour))), now.Add(2 * time.Hour)},
		{"server clock 5 h ahead", jwt(fmt.Sprintf(`{"iat":%d,"exp":%d}`, at(5*time.Hour), at(7*time.Hour))), now.Add(2 * time.Hour)},
		{"no iat, exp ahead", jwt(fmt.Sprintf(`{"exp":%d}`, at(90*time.Minute))), now.Add(90 * time.Minute)},
		{"no iat, exp past", jwt(fmt.Sprintf(`{"exp":%d}`, at(-time.Minute))), now.Add(2 * time.Hour)},
		{"exp absurd", jwt(`{"exp":1e30}`), now.Add(2 * time.Hour)},
		{"exp a string", jwt(`{"exp":"soon"}`), now.Add(2 * time.Hour)},
		{"not a JWT", "plain-key", now.Add(2 * time.Hour)},
	} {
		if got := jwtExpiry(c.key, now); !got.Equal(c.want) {
			t.Errorf("%s: expiry %s, want %s", c.name, got, c.want)
		}
	}
}

// authServer is an offline Pluggy: POST /auth issues keys made by issue,
// and every GET is answered by serve with the key it carried.
func authServer(issue func(n int) string, serve func(key string) (int, string)) (*Client, *atomic.Int32, *atomic.Int32) {
	var auths, gets atomic.Int32
	hc := httpclient.New(&secret.Redactor{})
	hc.MaxRetries, hc.MaxRateLimitRetries = 0, 0
	hc.HTTP = &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
		if r.URL.Path == "/auth" {
			n := int(auths.Add(1))
			return answer(200, []byte(`{"apiKey":"`+issue(n)+`"}`))
		}
		gets.Add(1)
		status, body := serve(r.Header.Get("X-Api-Key"))
		return answer(status, []byte(body))
	})}
	base, _ := url.Parse("http://127.0.0.1:9")
	return NewClient(base, "id", "secret", hc, hc.Secrets), &auths, &gets
}

// A key is renewed before its exp, not after a rejection.
func TestKeyRenewedBeforeItsExp(t *testing.T) {
	for ttl, wantAuths := range map[time.Duration]int32{30 * time.Second: 3, 2 * time.Hour: 1} {
		c, auths, _ := authServer(func(n int) string {
			now := time.Now().Unix()
			return jwt(fmt.Sprintf(`{"iat":%d,"exp":%d,"n":%d}`, now, now+int64(ttl.Seconds()), n))
		}, func(string) (int, string) { return 200, `{}` })
		for range 3 {
			var v map[string]any
			if err := c.getJSON(context.Background(), "GET /x", "/x", nil, &v); err != nil {
				t.Fatal(err)
			}
		}
		if auths.Load() != wantAuths {
			t.Errorf("key lifetime %s: %d auths for 3 calls, want %d", ttl, auths.Load(), wantAuths)
		}
	}
}

// A key rejected before its exp (revoked, clock skew) is renewed once and the
// call goes on; a fresh key rejected too is the credentials' fault, reported
// as config_error without looping; a 403 with a codeDescription is a real
// denial and is not retried.
func TestRejectedKeyRenewedOnce(t *testing.T) {
	key := func(n int) string { return fmt.Sprintf("key-%d", n) }
	t.Run("revoked then fine", func(t *testing.T) {
		c, auths, gets := authServer(key, func(k string) (int, string) {
			if k == "key-1" {
				return 403, `{"code":403,"message":"Missing or invalid authorization token"}`
			}
			return 200, `{}`
		})
		var v map[string]any
		if err := c.getJSON(context.Background(), "GET /x", "/x", nil, &v); err != nil || auths.Load() != 2 || gets.Load() != 2 {
			t.Fatalf("err %v after %d auths, %d gets", err, auths.Load(), gets.Load())
		}
	})
	t.Run("every key rejected", func(t *testing.T) {
		c, auths, gets := authServer(key, func(string) (int, string) { return 401, `{"code":401,"message":"API key is wrong"}` })
		var v map[string]any
		err := c.getJSON(context.Background(), "GET /x", "/x", nil, &v)
		if source.FailureTypeOf(err) != protocol.ConfigError || !strings.Contains(err.Error(), "client_id/client_secret") || auths.Load() != 2 || gets.Load() != 2 {
			t.Fatalf("err %v after %d auths, %d gets", err, auths.Load(), gets.Load())
		}
	})
	t.Run("403 with codeDescription", func(t *testing.T) {
		c, auths, gets := authServer(key, func(string) (int, string) {
			return 403, `{"code":403,"codeDescription":"CATEGORY_RULE_FORBIDDEN","message":"not allowed"}`
		})
		var v map[string]any
		err := c.getJSON(context.Background(), "GET /x", "/x", nil, &v)
		if err == nil || !strings.Contains(err.Error(), "CATEGORY_RULE_FORBIDDEN") || auths.Load() != 1 || gets.Load() != 1 {
			t.Fatalf("err %v after %d auths, %d gets", err, auths.Load(), gets.Load())
		}
	})
}
