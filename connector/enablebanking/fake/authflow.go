package fake

import (
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// authorization is a started POST /auth, waiting for the user at the bank.
type authorization struct {
	id, state, redirectURL string
	bank                   bank
	validUntil             time.Time
	psuType                string
	done                   bool
	// leave are the indexes of the accounts of the session being
	// re-authorised that the holder does not authorise again.
	leave map[int]bool
	// renew re-authorises the bank's newest session even while it is
	// still AUTHORIZED: the holder renewing the consent before it ends.
	renew bool
}

// handleAuth starts an authorisation: the redirect must be a loopback URL
// (the fake's stand-in for the application's registered redirect URLs),
// and one of Options.RedirectURLs exactly when they are set,
// the bank one the fake knows, valid_until an RFC 3339 time with offset
// in the future.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Access struct {
			ValidUntil string `json:"valid_until"`
		} `json:"access"`
		ASPSP struct {
			Name    string `json:"name"`
			Country string `json:"country"`
		} `json:"aspsp"`
		State       string `json:"state"`
		RedirectURL string `json:"redirect_url"`
		PSUType     string `json:"psu_type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, errBadRequest("WRONG_REQUEST_PARAMETERS", "the body is not JSON: "+err.Error()))
		return
	}
	until, err := time.Parse(time.RFC3339, req.Access.ValidUntil)
	if err != nil {
		writeError(w, errBadRequest("WRONG_REQUEST_PARAMETERS", "access.valid_until must be an RFC 3339 date-time with offset"))
		return
	}
	if req.State == "" {
		writeError(w, errBadRequest("WRONG_REQUEST_PARAMETERS", "state is required"))
		return
	}
	u, err := url.Parse(req.RedirectURL)
	if err != nil || !loopback(u) || s.opts.RedirectURLs != nil && !slices.Contains(s.opts.RedirectURLs, req.RedirectURL) {
		writeError(w, apiError{Code: 400, Message: "Redirect URI not allowed", Error: "REDIRECT_URI_NOT_ALLOWED"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *bank
	for i := range banks {
		if strings.EqualFold(banks[i].Name, req.ASPSP.Name) && strings.EqualFold(banks[i].Country, req.ASPSP.Country) {
			b = &banks[i]
		}
	}
	if b == nil {
		writeError(w, apiError{Code: 422, Message: "Wrong ASPSP name or country provided", Error: "WRONG_ASPSP_PROVIDED"})
		return
	}
	now := s.now()
	if !until.After(now) || until.Sub(now) > 180*24*time.Hour {
		writeError(w, errBadRequest("WRONG_REQUEST_PARAMETERS", "access.valid_until must be in the future and within the bank's maximum consent validity"))
		return
	}
	s.seq++
	r2 := newRNG(s.opts.Seed, "auth/"+itoa(s.seq))
	a := &authorization{id: uuid(r2), state: req.State, redirectURL: req.RedirectURL, bank: *b, validUntil: until, psuType: req.PSUType}
	s.auths[a.id] = a
	writeJSON(w, 200, map[string]any{
		"url":              baseURL(r) + RouteBankPage + "?authorization_id=" + a.id,
		"authorization_id": a.id,
		"psu_id_hash":      hexID(r2, 40),
	})
}

func loopback(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || ip != nil && ip.IsLoopback()
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

var bankPage = template.Must(template.New("bank").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Bank}}: authorise access</title></head>
<body>
<h1>{{.Bank}} ({{.Country}})</h1>
<p>An application asks to read your accounts' details, balances and transactions until {{.Until}}.</p>
<form method="post" action="?authorization_id={{.ID}}">
<button id="authorise" name="decision" value="authorise" type="submit">Authorise</button>
<button id="deny" name="decision" value="deny" type="submit">Deny</button>
</form>
</body></html>`))

// handleBankPage is the bank's consent page the user's browser opens.
func (s *Server) handleBankPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.auths[r.URL.Query().Get("authorization_id")]
	s.mu.Unlock()
	if a == nil || a.done {
		http.Error(w, "unknown or finished authorisation", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = bankPage.Execute(w, map[string]string{"Bank": a.bank.Name, "Country": a.bank.Country, "Until": a.validUntil.Format(time.RFC3339), "ID": a.id})
}

// handleBankConsent takes the user's decision and sends the browser back
// to the application's redirect URL with code and state, or error and
// state. Form fields leave=N (any number; no button on the page) are the
// indexes of the accounts of a session being re-authorised that the holder
// does not authorise again; renew=1 re-authorises the bank's newest session
// though it is still AUTHORIZED (a consent renewed before it ends).
func (s *Server) handleBankConsent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.auths[r.URL.Query().Get("authorization_id")]
	if a == nil || a.done {
		http.Error(w, "unknown or finished authorisation", http.StatusNotFound)
		return
	}
	a.done = true
	u, _ := url.Parse(a.redirectURL)
	q := u.Query()
	q.Set("state", a.state)
	if r.FormValue("decision") == "deny" {
		q.Set("error", "access_denied")
		q.Set("error_description", "The user denied access")
	} else {
		a.renew = r.PostForm.Get("renew") != ""
		for _, v := range r.PostForm["leave"] {
			if n, err := strconv.Atoi(v); err == nil {
				if a.leave == nil {
					a.leave = map[int]bool{}
				}
				a.leave[n] = true
			}
		}
		s.seq++
		code := hexID(newRNG(s.opts.Seed, "code/"+itoa(s.seq)), 32)
		s.codes[code] = a.id
		q.Set("code", code)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// codeMessages are the messages of the refusals of POST /sessions.
var codeMessages = map[string]string{
	"EXPIRED_AUTHORIZATION_CODE": "Authorization code is expired",
	"ALREADY_AUTHORIZED":         "Authorization code has already been used",
	"WRONG_AUTHORIZATION_CODE":   "Wrong authorization code",
}

// FailNextCodeExchange makes the next POST /sessions answer the API's
// error envelope ({"code": status, "message", "error": code, "detail":
// null}) instead of a session, whatever the code it is given; the code
// stays unused. code is one of POST /sessions' refusals,
// EXPIRED_AUTHORIZATION_CODE (the user took too long), ALREADY_AUTHORIZED
// (the code was exchanged already) or WRONG_AUTHORIZATION_CODE; the
// reference leaves their statuses open, so the caller picks one (4xx).
func (s *Server) FailNextCodeExchange(status int, code string) {
	msg, ok := codeMessages[code]
	if !ok || status < 400 || status > 499 {
		panic("FailNextCodeExchange: want a 4xx status and one of EXPIRED_AUTHORIZATION_CODE, ALREADY_AUTHORIZED, WRONG_AUTHORIZATION_CODE, got " + itoa(status) + " " + code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextExchange = &apiError{Code: status, Message: msg, Error: code}
}

// handleSessionNew exchanges a code (once) for a session at the
// authorisation's bank: the newest session there that is no longer
// AUTHORIZED (expired, revoked; with renew, the newest there) authorised
// again, as a holder re-authorises the same bank accounts (new uids, the
// same identification_hash, rows and balances: see Reauthorize); else a
// session with new accounts. A code
// exchanged before answers ALREADY_AUTHORIZED, an unknown one
// WRONG_AUTHORIZATION_CODE.
func (s *Server) handleSessionNew(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.nextExchange; e != nil {
		s.nextExchange = nil
		writeError(w, *e)
		return
	}
	id, ok := s.codes[req.Code]
	switch {
	case s.usedCodes[req.Code]:
		writeError(w, errBadRequest("ALREADY_AUTHORIZED", codeMessages["ALREADY_AUTHORIZED"]))
		return
	case !ok:
		writeError(w, errBadRequest("WRONG_AUTHORIZATION_CODE", codeMessages["WRONG_AUTHORIZATION_CODE"]))
		return
	}
	delete(s.codes, req.Code)
	s.usedCodes[req.Code] = true
	a := s.auths[id]
	var ss *session
	for i := len(s.sessionOrder) - 1; i >= 0 && ss == nil; i-- {
		if old := s.sessions[s.sessionOrder[i]]; old.bank == a.bank && (old.status != "AUTHORIZED" || a.renew) {
			ss = s.reauthorize(old, a.leave)
		}
	}
	if ss == nil {
		ss = s.newSession(len(s.sessionOrder), a.bank, day(s.now()))
	}
	ss.validUntil = a.validUntil
	var accounts []any
	for _, uid := range ss.accounts {
		accounts = append(accounts, s.accounts[uid].resource)
	}
	writeJSON(w, 200, map[string]any{
		"session_id": ss.id, "accounts": accounts,
		"aspsp":    map[string]any{"name": ss.bank.Name, "country": ss.bank.Country},
		"psu_type": "personal",
		"access":   map[string]any{"valid_until": ss.validUntil.Format(time.RFC3339)},
	})
}
