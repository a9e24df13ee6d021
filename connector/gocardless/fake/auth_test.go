package fake

import (
	"strings"
	"testing"
	"time"
)

func TestTokenNew(t *testing.T) {
	h := newHarness(t, Options{SecretID: "id-1", SecretKey: "key-1"})

	a := h.do("POST", "/token/new/", map[string]string{"secret_id": "id-1", "secret_key": "key-1"}, "")
	wantStatus(t, a, 200)
	var tok tokenPair
	a.decode(t, &tok)
	if tok.Access == "" || tok.Refresh == "" || tok.AccessExpires != 86400 || tok.RefreshExpires != 2592000 {
		t.Errorf("token pair = %+v", tok)
	}

	a = h.do("POST", "/token/new/", map[string]string{"secret_id": "id-1", "secret_key": "wrong"}, "")
	wantStatus(t, a, 401)
	if got := string(a.body); got != `{"summary":"Authentication failed","detail":"No active account found with the given credentials","status_code":401}` {
		t.Errorf("bad credentials body = %s", got)
	}

	a = h.do("POST", "/token/new/", map[string]string{"secret_id": "id-1"}, "")
	wantStatus(t, a, 400)
	if st := h.fake.Stats(); st.TokenNew != 1 || st.Requests[RouteTokenNew][401] != 1 || st.Count(RouteTokenNew) != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestTokenNewHourlyLimit: GoCardless allows 100 POST /token/new/ an hour,
// counting every call, and clients that do not cache tokens run into it.
func TestTokenNewHourlyLimit(t *testing.T) {
	h := newHarness(t, Options{})
	creds := map[string]string{"secret_id": h.fake.SecretID(), "secret_key": "wrong"}
	for i := range 100 {
		a := h.do("POST", "/token/new/", creds, "")
		wantStatus(t, a, 401)
		if got, want := a.header.Get("Http_x_ratelimit_remaining"), itoa(99-i); got != want {
			t.Fatalf("call %d: remaining header %q, want %q", i+1, got, want)
		}
	}
	creds["secret_key"] = h.fake.SecretKey()
	a := h.do("POST", "/token/new/", creds, "")
	wantStatus(t, a, 429)
	e := a.apiErr(t)
	if e.Summary != "Rate limit exceeded" || e.Type != "" ||
		e.Detail != "The rate limit for this resource is 100/hour. Please try again in 3600 seconds" {
		t.Errorf("429 body = %+v", e)
	}
	if a.header.Get("Http_x_ratelimit_limit") != "100" || a.header.Get("Http_x_ratelimit_reset") != "3600" {
		t.Errorf("429 headers = %v", a.header)
	}

	h.fake.AdvanceClock(time.Hour)
	wantStatus(t, h.do("POST", "/token/new/", creds, ""), 200)
}

func TestBearerCheck(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/requisitions/" + h.fake.RequisitionIDs()[0] + "/"

	a := h.do("GET", path, nil, "")
	wantStatus(t, a, 401)

	a = h.do("GET", path, nil, "not-a-token")
	wantStatus(t, a, 401)
	if got := string(a.body); got != `{"summary":"Invalid token","detail":"Token is invalid or expired","status_code":401}` {
		t.Errorf("invalid token body = %s", got)
	}

	h.login()
	wantStatus(t, h.get(path), 200)

	// The access token lives 24 hours; the refresh token gets a new one.
	a = h.do("POST", "/token/new/", map[string]string{"secret_id": h.fake.SecretID(), "secret_key": h.fake.SecretKey()}, "")
	var tok tokenPair
	a.decode(t, &tok)
	h.fake.AdvanceClock(24 * time.Hour)
	wantStatus(t, h.do("GET", path, nil, tok.Access), 401)

	a = h.do("POST", "/token/refresh/", map[string]string{"refresh": tok.Refresh}, "")
	wantStatus(t, a, 200)
	var fresh tokenPair
	a.decode(t, &fresh)
	if fresh.Refresh != "" || fresh.AccessExpires != 86400 || fresh.Access == tok.Access {
		t.Errorf("refreshed = %+v", fresh)
	}
	wantStatus(t, h.do("GET", path, nil, fresh.Access), 200)

	wantStatus(t, h.do("POST", "/token/refresh/", map[string]string{"refresh": "nope"}, ""), 401)
	h.fake.AdvanceClock(30 * 24 * time.Hour)
	wantStatus(t, h.do("POST", "/token/refresh/", map[string]string{"refresh": tok.Refresh}, ""), 401)
}

func TestTokensAreOpaqueAndDistinct(t *testing.T) {
	h := newHarness(t, Options{})
	seen := map[string]bool{}
	for range 3 {
		h.login()
		if seen[h.token] || strings.ContainsAny(h.token, " \t") {
			t.Fatalf("token %q repeated or malformed", h.token)
		}
		seen[h.token] = true
	}
}
