package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Token lifetimes of the real API: access 24 hours, refresh 30 days.
const (
	accessTTL  = 24 * time.Hour
	refreshTTL = 30 * 24 * time.Hour
)

// tokenStore remembers issued tokens with their expiry, so expired tokens
// are refused once AdvanceClock passes their lifetime.
type tokenStore struct {
	access  map[string]time.Time
	refresh map[string]time.Time
	issued  int
}

func newTokenStore() tokenStore {
	return tokenStore{access: map[string]time.Time{}, refresh: map[string]time.Time{}}
}

// newToken derives a token from the seed and a counter: opaque to clients,
// different every time, yet the same across runs.
func (s *Server) newToken(kind string) string {
	s.tokens.issued++
	return kind + "." + newRNG(s.opts.Seed, fmt.Sprintf("token-%d", s.tokens.issued)).hex(48)
}

type tokenPair struct {
	Access         string `json:"access"`
	AccessExpires  int    `json:"access_expires"`
	Refresh        string `json:"refresh,omitempty"`
	RefreshExpires int    `json:"refresh_expires,omitempty"`
}

// handleTokenNew serves POST /token/new/. The hourly limit has already been
// applied by the route's company group.
func (s *Server) handleTokenNew(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretID  string `json:"secret_id"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretID == "" || in.SecretKey == "" {
		writeError(w, errInvalidInput("Invalid request", "secret_id and secret_key are required"))
		return
	}
	if in.SecretID != s.opts.SecretID || in.SecretKey != s.opts.SecretKey {
		writeError(w, errAuthFailed())
		return
	}
	s.mu.Lock()
	now := s.now()
	out := tokenPair{
		Access:         s.newToken("access"),
		AccessExpires:  int(accessTTL / time.Second),
		Refresh:        s.newToken("refresh"),
		RefreshExpires: int(refreshTTL / time.Second),
	}
	s.tokens.access[out.Access] = now.Add(accessTTL)
	s.tokens.refresh[out.Refresh] = now.Add(refreshTTL)
	s.statsMu.Lock()
	s.stats.TokenNew++
	s.statsMu.Unlock()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleTokenRefresh serves POST /token/refresh/: a new access token for a
// live refresh token.
func (s *Server) handleTokenRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Refresh string `json:"refresh"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Refresh == "" {
		writeError(w, errInvalidInput("Invalid request", "refresh is required"))
		return
	}
	s.mu.Lock()
	now := s.now()
	exp, ok := s.tokens.refresh[in.Refresh]
	if !ok || !now.Before(exp) {
		s.mu.Unlock()
		writeError(w, errInvalidToken())
		return
	}
	out := tokenPair{Access: s.newToken("access"), AccessExpires: int(accessTTL / time.Second)}
	s.tokens.access[out.Access] = now.Add(accessTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// authorize checks the bearer token and answers 401 itself when it fails.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeError(w, errNoCredentials())
		return false
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens.access[token]
	live := ok && known && s.now().Before(exp)
	s.mu.Unlock()
	if !live {
		writeError(w, errInvalidToken())
	}
	return live
}
