package fake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// keyInfo is what the server remembers about an issued apiKey. Keys are
// checked by lookup, not by verifying the signature: the fake only needs to
// know whether it issued the key, when, and whether it has been revoked.
type keyInfo struct {
	seq uint64 // issue order, for RevokeKeyAfter
	exp int64  // Unix seconds
}

// issueKey mints an apiKey. It is a real HS256 JWT because Pluggy's SDKs
// decode the payload's exp to decide when to refresh, and crash on anything
// else. The jti comes from a seeded generator so runs are reproducible.
func (s *Server) issueKey() string {
	now := s.opts.Now()
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	s.keySeq++
	iat := now.Unix()
	exp := now.Add(s.opts.KeyTTL).Unix()
	jti := newUUID(s.authRNG).String()
	payload := `{"clientId":` + strconv.Quote(s.opts.ClientID) +
		`,"iat":` + strconv.FormatInt(iat, 10) +
		`,"exp":` + strconv.FormatInt(exp, 10) +
		`,"jti":"` + jti + `"}`
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, s.jwtSecret)
	mac.Write([]byte(signing))
	key := signing + "." + enc.EncodeToString(mac.Sum(nil))
	s.keys[key] = keyInfo{seq: s.keySeq, exp: exp}
	return key
}

// revokeAll invalidates every key issued so far (RevokeKeyAfter).
func (s *Server) revokeAll() {
	s.keysMu.Lock()
	s.revokedThrough = s.keySeq
	s.keysMu.Unlock()
}

// authenticate checks X-API-KEY. Missing, unknown, expired and revoked keys
// all get the same 403 without codeDescription, as on the real API, or the
// same 401 with Options.StaleKey401.
func (s *Server) authenticate(r *http.Request) *reply {
	key := r.Header.Get("X-API-KEY")
	if key == "" {
		return s.staleKey()
	}
	s.keysMu.Lock()
	info, ok := s.keys[key]
	revoked := s.revokedThrough
	s.keysMu.Unlock()
	if !ok || info.seq <= revoked || s.opts.Now().Unix() >= info.exp {
		return s.staleKey()
	}
	return nil
}

// staleKey is the answer to a key the fake does not accept (authenticate).
func (s *Server) staleKey() *reply {
	if s.opts.StaleKey401 {
		return errorReply(http.StatusUnauthorized, "", "Missing or invalid authorization token")
	}
	return notAuthenticated()
}

// handleAuth serves POST /auth {clientId, clientSecret, nonExpiring?}.
// nonExpiring is accepted and ignored, as the reference advises.
func (s *Server) handleAuth(r *http.Request) *reply {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return validationError("Invalid request body")
	}
	var req struct {
		ClientID     *string `json:"clientId"`
		ClientSecret *string `json:"clientSecret"`
		NonExpiring  *bool   `json:"nonExpiring"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return validationError("Invalid JSON body")
	}
	switch {
	case req.ClientID == nil || *req.ClientID == "":
		return validationError("clientId should not be empty")
	case req.ClientSecret == nil || *req.ClientSecret == "":
		return validationError("clientSecret should not be empty")
	}
	if _, ok := parseUUID(*req.ClientID); s.opts.ClientIDMustBeUUID && !ok {
		return validationError("clientId must be a UUID")
	}
	if !hmac.Equal([]byte(*req.ClientID), []byte(s.opts.ClientID)) ||
		!hmac.Equal([]byte(*req.ClientSecret), []byte(s.opts.ClientSecret)) {
		return errorReply(http.StatusUnauthorized, "CLIENT_KEYS_UNAUTHORIZED", "Client keys are invalid")
	}
	if code := s.opts.ClientDisabled; code != 0 {
		if code != http.StatusForbidden {
			code = http.StatusUnauthorized
		}
		return errorReply(code, "CLIENT_DISABLED", "Client is disabled")
	}
	b := append([]byte(`{"apiKey":"`), s.issueKey()...)
	b = append(b, `"}`...)
	return &reply{status: http.StatusOK, parts: [][]byte{b}}
}
