package fake

import (
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
	if err != nil {
		writeError(w, errUnauthorized())
		return false
	}
	return true
}
