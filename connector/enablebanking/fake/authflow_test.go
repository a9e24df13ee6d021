package fake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestCodeExchangeRefusals: POST /sessions takes each code once; a code
// used again answers ALREADY_AUTHORIZED, an unknown one
// WRONG_AUTHORIZATION_CODE, and FailNextCodeExchange makes the next
// exchange answer the given refusal in the API's envelope, leaving the
// code unused.
func TestCodeExchangeRefusals(t *testing.T) {
	f := New(Options{Sessions: 1})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tok := sign(t, f.opts.Key, f.ApplicationID(), time.Now(), time.Hour, jwt.SigningMethodRS256)
	post := func(path string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
	code, auth := post("/auth", map[string]any{
		"access": map[string]string{"valid_until": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)},
		"aspsp":  map[string]string{"name": "Nordea", "country": "FI"}, "state": "s1",
		"redirect_url": "http://127.0.0.1:9/enablebanking/callback", "psu_type": "personal",
	})
	if code != 200 {
		t.Fatalf("POST /auth: %d %v", code, auth)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(auth["url"].(string), url.Values{"decision": {"authorise"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	bankCode := back.Query().Get("code")
	if bankCode == "" {
		t.Fatalf("the bank redirected to %q", resp.Header.Get("Location"))
	}

	f.FailNextCodeExchange(400, "EXPIRED_AUTHORIZATION_CODE")
	code, body := post("/sessions", map[string]string{"code": bankCode})
	if code != 400 || body["code"] != 400.0 || body["error"] != "EXPIRED_AUTHORIZATION_CODE" || !strings.Contains(body["message"].(string), "expired") {
		t.Fatalf("armed refusal: %d %v", code, body)
	}
	if d, ok := body["detail"]; !ok || d != nil {
		t.Errorf("detail %v, want null", body["detail"])
	}
	if code, body = post("/sessions", map[string]string{"code": bankCode}); code != 200 || body["session_id"] == nil {
		t.Fatalf("the refusal used up the code: %d %v", code, body)
	}
	if code, body = post("/sessions", map[string]string{"code": bankCode}); code != 422 || body["error"] != "ALREADY_AUTHORIZED" {
		t.Errorf("the code again: %d %v", code, body)
	}
	if code, body = post("/sessions", map[string]string{"code": "nope"}); code != 422 || body["error"] != "WRONG_AUTHORIZATION_CODE" {
		t.Errorf("an unknown code: %d %v", code, body)
	}
}
