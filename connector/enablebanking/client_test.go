package enablebanking

import (
	"crypto/rand"
	"crypto/rsa"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// TestTokenShape holds the signed token to what Enable Banking requires:
// RS256, kid = application id, iss and aud constants, one hour of life;
// and the run reuses it until it nears expiry, on the API's clock.
func TestTokenShape(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	clock := httpclient.NewServerClock(func() time.Time { return now })
	secrets := &secret.Redactor{}
	c := NewClient(nil, "app-id", key, nil, secrets, clock)
	tok, err := c.bearer()
	if err != nil {
		t.Fatal(err)
	}
	if secrets.String(tok) == tok {
		t.Error("the token was not registered as a secret")
	}
	claims := &jwt.RegisteredClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("enablebanking.com"), jwt.WithAudience("api.enablebanking.com"),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["kid"] != "app-id" || parsed.Header["typ"] != "JWT" {
		t.Errorf("header %v", parsed.Header)
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life != time.Hour {
		t.Errorf("token lives %v", life)
	}
	// Only the documented claims: the req_method, req_path and
	// req_body_hash one unmerged client adds are in no Enable Banking
	// document (the reference, §2: UNCERTAIN, do not send them).
	var all jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &all, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(all))
	if want := []string{"aud", "exp", "iat", "iss"}; !slices.Equal(names, want) {
		t.Errorf("claims %v, want %v", names, want)
	}
	// aud is the one string every Enable Banking sample sends, not the
	// one-element array a JWT library makes of it by default, which the
	// API is reported to refuse.
	if aud, ok := all["aud"].(string); !ok || aud != "api.enablebanking.com" {
		t.Errorf("aud %#v, want the string api.enablebanking.com", all["aud"])
	}
	now = now.Add(50 * time.Minute)
	if again, _ := c.bearer(); again != tok {
		t.Error("a token with 10 minutes left was not reused")
	}
	now = now.Add(7 * time.Minute)
	if again, _ := c.bearer(); again == tok {
		t.Error("a token about to expire was reused")
	}
	// The API's clock: a Date 3 hours ahead moves the next token's times.
	clock.Observe(http.Header{"Date": {now.Add(3 * time.Hour).Format(http.TimeFormat)}})
	c.token = ""
	tok, _ = c.bearer()
	claims = &jwt.RegisteredClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(tok, claims)
	if claims.IssuedAt.Before(now.Add(2 * time.Hour)) {
		t.Errorf("token issued at %v, not on the API's clock", claims.IssuedAt.Time)
	}
}
