package fake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenLife is the longest a token may live, as the API documents.
const maxTokenLife = 24 * time.Hour

// verify checks a request's bearer JWT: RS256 only, kid = the application
// id, signed by the application's key, iss enablebanking.com, aud
// api.enablebanking.com, not expired on the fake's clock, and living at
// most 24 hours. It answers the refusal itself.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeError(w, errNoAuthorization())
		return false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		writeError(w, errUnauthorized())
		return false
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != s.opts.ApplicationID {
			return nil, errors.New("unknown kid")
		}
		if t.Header["typ"] != nil && t.Header["typ"] != "JWT" {
			return nil, errors.New("typ is not JWT")
		}
		return &s.opts.Key.PublicKey, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer("enablebanking.com"),
		jwt.WithAudience("api.enablebanking.com"),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(time.Minute),
		jwt.WithTimeFunc(s.Now),
	)
	if err == nil && (claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxTokenLife) {
		err = errors.New("token lives longer than 24 hours")
	}
	if err == nil && !audIsString(tok) {
		err = errors.New("aud is not a string")
	}
	if err != nil {
		writeError(w, errUnauthorized())
		return false
	}
	return true
}

// audIsString reports whether a verified token's aud claim is a JSON
// string, as every Enable Banking sample sends it: a Go client reports
// the API refusing the one-element array ["api.enablebanking.com"] that
// JWT libraries make by default, which jwt.WithAudience takes as well.
func audIsString(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	return json.Unmarshal(payload, &c) == nil && len(c.Aud) > 0 && c.Aud[0] == '"'
}
