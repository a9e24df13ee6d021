package fake

import (
	_ "embed"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// connectTokenTTL is a connect token's documented lifetime.
const connectTokenTTL = 30 * time.Minute

// connectToken is what the fake remembers of a token from POST
// /connect_token: which item it may update (none: it creates one) and when
// it expires.
type connectToken struct {
	itemID string
	exp    time.Time
}

// handleConnectToken serves POST /connect_token {itemId?, options?}: 200
// {"accessToken"}, or 404 ITEM_NOT_FOUND for an unknown itemId.
func (s *Server) handleConnectToken(r *http.Request) *reply {
	var req struct {
		ItemID  string         `json:"itemId"`
		Options map[string]any `json:"options"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(body) > 0 && json.Unmarshal(body, &req) != nil {
		return validationError("Invalid JSON body")
	}
	if req.ItemID != "" {
		s.mu.RLock()
		it := s.lookupItem(req.ItemID)
		s.mu.RUnlock()
		if it == nil {
			return errorReply(http.StatusNotFound, "ITEM_NOT_FOUND", "item not found")
		}
	}
	if u, _ := req.Options["oauthRedirectUri"].(string); u != "" && !httpsNotLocal(u) {
		return validationError("options.oauthRedirectUri must be a valid HTTPS URL (not localhost) or a valid deep link")
	}
	tok := s.issueKey() // a JWT like the real one; it is also a valid apiKey here only by lookup below
	s.keysMu.Lock()
	delete(s.keys, tok) // a connect token is not an apiKey
	s.connectTokens[tok] = connectToken{itemID: req.ItemID, exp: s.opts.Now().Add(connectTokenTTL)}
	s.keysMu.Unlock()
	return jsonReply(http.StatusOK, map[string]string{"accessToken": tok})
}

// httpsNotLocal is Pluggy's rule for oauthRedirectUri (a localhost
// redirect is refused with 400).
func httpsNotLocal(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return false
	}
	h := u.Hostname()
	return h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1"
}

// ConnectTokens returns how many connect tokens were issued.
func (s *Server) ConnectTokens() int {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return len(s.connectTokens)
}

// Sandbox credentials the stand-in widget's bank accepts.
var sandboxUser = regexp.MustCompile(`^user-.{2,50}$`)

const sandboxPassword = "password-ok"

// handleConnectItem is the fake's side of the stand-in widget: POST
// /connect/items {connectorId, parameters:{user,password}, itemId?} with the
// connect token as X-API-KEY. It creates an item (or, for a token made for
// an item, re-authenticates that one) that reads UPDATING for two polls and
// then UPDATED, as after a real first sync. A user "user-login-error" makes
// an item that ends in LOGIN_ERROR.
func (s *Server) handleConnectItem(r *http.Request) *reply {
	rep := s.connectItem(r)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rep.header.Set("Access-Control-Allow-Origin", "*")
	return rep
}

func (s *Server) connectItem(r *http.Request) *reply {
	s.keysMu.Lock()
	tok, ok := s.connectTokens[r.Header.Get("X-API-KEY")]
	s.keysMu.Unlock()
	if !ok || !s.opts.Now().Before(tok.exp) {
		return notAuthenticated()
	}
	var req struct {
		ConnectorID *int              `json:"connectorId"`
		Parameters  map[string]string `json:"parameters"`
		ItemID      string            `json:"itemId"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &req) != nil {
		return validationError("Invalid JSON body")
	}
	if req.ItemID != tok.itemID {
		return errorReply(http.StatusForbidden, "FORBIDDEN", "this connect token is not for that item")
	}
	if !sandboxUser.MatchString(req.Parameters["user"]) || req.Parameters["password"] != sandboxPassword {
		return errorReply(http.StatusBadRequest, "INVALID_CREDENTIALS", "Invalid credentials.")
	}
	now := s.opts.Now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	var it *item
	if tok.itemID != "" {
		it = s.lookupItem(tok.itemID)
	} else {
		n := len(s.items)
		it = s.buildItem(rand.New(rand.NewPCG(s.opts.Seed, 0x636f6e6e+uint64(n))), n, false)
		it.createdAt = now
	}
	it.status, it.execState = "UPDATING", "LOGIN_IN_PROGRESS"
	it.updatedAt, it.lastPatchAt, it.pendingPolls = now, now, 2
	it.consentExpiresAt = now - now%msPerSecond + 365*msPerDay
	it.loginError = req.Parameters["user"] == "user-login-error"
	return jsonReply(http.StatusOK, s.itemJSON(it, it.status, it.execState))
}

func corsPreflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type, X-API-KEY")
	w.WriteHeader(http.StatusNoContent)
}

//go:embed widget.js
var widgetJS []byte

// serveWidget serves the stand-in Connect widget script.
func serveWidget(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(widgetJS)
}

// APIKeys returns every apiKey issued so far, for tests that assert no key
// reached a page.
func (s *Server) APIKeys() []string {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	return out
}
