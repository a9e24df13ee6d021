package fake

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func sign(t *testing.T, key *rsa.PrivateKey, kid string, iat time.Time, ttl time.Duration, alg jwt.SigningMethod) string {
	t.Helper()
	return signAud(t, key, kid, iat, ttl, alg, "api.enablebanking.com")
}

// signAud signs a token whose aud claim is aud as it is (a string, or an
// array).
func signAud(t *testing.T, key *rsa.PrivateKey, kid string, iat time.Time, ttl time.Duration, alg jwt.SigningMethod, aud any) string {
	t.Helper()
	tok := jwt.NewWithClaims(alg, jwt.MapClaims{"iss": "enablebanking.com", "aud": aud, "iat": iat.Unix(), "exp": iat.Add(ttl).Unix()})
	tok.Header["kid"] = kid
	var k any = key
	if alg == jwt.SigningMethodHS256 {
		k = []byte("secret")
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, srv *httptest.Server, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestJWTVerification(t *testing.T) {
	f := New(Options{Sessions: 1})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	now := time.Now()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	key := f.opts.Key
	for name, c := range map[string]struct {
		token string
		code  int
		err   string
	}{
		"good":          {sign(t, key, f.ApplicationID(), now, time.Hour, jwt.SigningMethodRS256), 200, ""},
		"no header":     {"", 401, "AUTHORIZATION_NOT_PROVIDED"},
		"other key":     {sign(t, other, f.ApplicationID(), now, time.Hour, jwt.SigningMethodRS256), 401, "UNAUTHORIZED_ACCESS"},
		"other kid":     {sign(t, key, "00000000-0000-4000-8000-000000000000", now, time.Hour, jwt.SigningMethodRS256), 401, "UNAUTHORIZED_ACCESS"},
		"expired":       {sign(t, key, f.ApplicationID(), now.Add(-3*time.Hour), time.Hour, jwt.SigningMethodRS256), 401, "UNAUTHORIZED_ACCESS"},
		"over 24 hours": {sign(t, key, f.ApplicationID(), now, 25*time.Hour, jwt.SigningMethodRS256), 401, "UNAUTHORIZED_ACCESS"},
		"HS256":         {sign(t, key, f.ApplicationID(), now, time.Hour, jwt.SigningMethodHS256), 401, "UNAUTHORIZED_ACCESS"},
		"issued ahead":  {sign(t, key, f.ApplicationID(), now.Add(time.Hour), time.Hour, jwt.SigningMethodRS256), 401, "UNAUTHORIZED_ACCESS"},
		"aud an array":  {signAud(t, key, f.ApplicationID(), now, time.Hour, jwt.SigningMethodRS256, []string{"api.enablebanking.com"}), 401, "UNAUTHORIZED_ACCESS"},
	} {
		code, body := get(t, srv, "/application", c.token)
		if code != c.code || (c.err != "" && body["error"] != c.err) {
			t.Errorf("%s: %d %v, want %d %s", name, code, body, c.code, c.err)
		}
	}
}

func TestContinuationKeyWantsTheSameParameters(t *testing.T) {
	f := New(Options{Sessions: 1, PageSize: 5})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tok := sign(t, f.opts.Key, f.ApplicationID(), time.Now(), time.Hour, jwt.SigningMethodRS256)
	uid := f.AccountUIDs(f.SessionIDs()[0])[0]
	path := "/accounts/" + uid + "/transactions?date_from=2000-01-01&transaction_status=BOOK"
	code, page := get(t, srv, path, tok)
	key, _ := page["continuation_key"].(string)
	if code != 200 || key == "" {
		t.Fatalf("first page: %d %v", code, page)
	}
	code, body := get(t, srv, "/accounts/"+uid+"/transactions?date_from=2000-01-02&transaction_status=BOOK&continuation_key="+key, tok)
	if code != 422 || body["error"] != "WRONG_REQUEST_PARAMETERS" || !strings.Contains(body["message"].(string), "dateFrom") {
		t.Fatalf("mismatched key: %d %v", code, body)
	}
	// Followed to the end with the same parameters, the pages hold every
	// booked row once; only the first call counts against the limit.
	n := len(page["transactions"].([]any))
	for key != "" {
		code, page = get(t, srv, path+"&continuation_key="+key, tok)
		if code != 200 {
			t.Fatalf("page: %d %v", code, page)
		}
		n += len(page["transactions"].([]any))
		key, _ = page["continuation_key"].(string)
	}
	if n != len(f.Booked(uid)) {
		t.Errorf("%d rows over the pages, %d booked", n, len(f.Booked(uid)))
	}
	if got := f.QuotaRemaining(uid, EndpointTransactions); got != 3 {
		t.Errorf("%d calls left, want 3", got)
	}
}

func TestDailyLimitAndExpiredSession(t *testing.T) {
	f := New(Options{Sessions: 1, DailyLimit: 1})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tok := sign(t, f.opts.Key, f.ApplicationID(), time.Now(), time.Hour, jwt.SigningMethodRS256)
	uid := f.AccountUIDs(f.SessionIDs()[0])[0]
	if code, _ := get(t, srv, "/accounts/"+uid+"/balances", tok); code != 200 {
		t.Fatal(code)
	}
	if code, body := get(t, srv, "/accounts/"+uid+"/balances", tok); code != 429 || body["error"] != "ASPSP_RATE_LIMIT_EXCEEDED" {
		t.Fatalf("over the limit: %d %v", code, body)
	}
	f.ExpireSession(f.SessionIDs()[0])
	if code, body := get(t, srv, "/accounts/"+uid+"/details", tok); code != 401 || body["error"] != "EXPIRED_SESSION" {
		t.Fatalf("expired: %d %v", code, body)
	}
	if code, body := get(t, srv, "/sessions/"+f.SessionIDs()[0], tok); code != 200 || body["status"] != "EXPIRED" {
		t.Fatalf("session: %d %v", code, body)
	}
}

// TestPagesServeTheBookedRows: followed to the end, the pages of every
// account hold its booked rows exactly as Booked serves them, in order,
// a positional bank's numbering included, though a page encodes only its
// own rows.
func TestPagesServeTheBookedRows(t *testing.T) {
	f := New(Options{Sessions: 2, TransactionsPerAccount: 40, PageSize: 7})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	tok := sign(t, f.opts.Key, f.ApplicationID(), time.Now(), time.Hour, jwt.SigningMethodRS256)
	positional := 0
	for _, sid := range f.SessionIDs() {
		for _, uid := range f.AccountUIDs(sid) {
			if f.accounts[uid].positional {
				positional++
			}
			var want []string
			for _, raw := range f.Booked(uid) {
				var r struct{ Status string }
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				if r.Status == "BOOK" {
					want = append(want, string(raw))
				}
			}
			var got []string
			path := "/accounts/" + uid + "/transactions?date_from=2000-01-01&transaction_status=BOOK"
			for key := ""; ; {
				req, _ := http.NewRequest("GET", srv.URL+path+key, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var page struct {
					Transactions    []json.RawMessage `json:"transactions"`
					ContinuationKey string            `json:"continuation_key"`
				}
				err = json.NewDecoder(resp.Body).Decode(&page)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%s: %d %v", uid, resp.StatusCode, err)
				}
				for _, raw := range page.Transactions {
					got = append(got, string(raw))
				}
				if page.ContinuationKey == "" {
					break
				}
				key = "&continuation_key=" + page.ContinuationKey
			}
			if !slices.Equal(got, want) {
				t.Errorf("account %s (positional %v): the pages served %d rows that differ from the %d booked", uid, f.accounts[uid].positional, len(got), len(want))
			}
		}
	}
	if positional == 0 {
		t.Fatal("no positional account among two sessions: the test would not see its numbering")
	}
}
