package fake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAdminHandler: every switch the runnable fake serves under /__fake/
// does what the Go method of the same name does, and a bad parameter is a
// 400 that says which.
func TestAdminHandler(t *testing.T) {
	f := New(Options{Sessions: 3, TransactionsPerAccount: 5})
	mux := http.NewServeMux()
	mux.Handle("/__fake/", f.AdminHandler())
	mux.Handle("/", f.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sessions := f.SessionIDs()
	uid := f.AccountUIDs(sessions[0])[0]

	before := len(f.Booked(uid))
	if code := post("/__fake/add-booked?uid=" + uid + "&n=2"); code != 200 || len(f.Booked(uid)) != before+2 {
		t.Errorf("add-booked: %d, %d rows after %d", code, len(f.Booked(uid)), before)
	}
	if code := post("/__fake/exhaust-quota?uid=" + uid + "&endpoint=transactions"); code != 200 || f.QuotaRemaining(uid, "transactions") != 0 {
		t.Errorf("exhaust-quota: %d, %d calls left", code, f.QuotaRemaining(uid, "transactions"))
	}
	clock := f.Now()
	if code := post("/__fake/advance-clock?hours=2"); code != 200 || f.Now().Sub(clock) < 2*time.Hour {
		t.Errorf("advance-clock: %d, clock moved %v", code, f.Now().Sub(clock))
	}
	// Signed on the fake's clock, which checks the token's life.
	tok := sign(t, f.opts.Key, f.ApplicationID(), f.Now(), time.Hour, jwt.SigningMethodRS256)
	other := f.AccountUIDs(sessions[1])[0]
	if code := post("/__fake/aspsp-error?uid=" + other + "&on=true"); code != 200 {
		t.Errorf("aspsp-error: %d", code)
	}
	if code, body := get(t, srv, "/accounts/"+other+"/details", tok); code != 400 || body["error"] != "ASPSP_ERROR" {
		t.Errorf("after aspsp-error: %d %v", code, body)
	}
	for status, path := range map[string]string{"EXPIRED": "expire-session", "REVOKED": "revoke-session"} {
		id := sessions[1]
		if status == "REVOKED" {
			id = sessions[2]
		}
		if code := post("/__fake/" + path + "?id=" + id); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		if code, body := get(t, srv, "/sessions/"+id, tok); code != 200 || body["status"] != status {
			t.Errorf("after %s: session %d %v, want %s", path, code, body, status)
		}
		if code, body := get(t, srv, "/accounts/"+f.AccountUIDs(id)[0]+"/details", tok); code != 401 || body["error"] != status+"_SESSION" {
			t.Errorf("after %s: account call %d %v, want 401 %s_SESSION", path, code, body, status)
		}
	}
	resp, err := http.Get(srv.URL + "/__fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Requests.Count(RouteSession) == 0 {
		t.Errorf("stats: %v %+v", err, st)
	}
	resp.Body.Close()
	for _, path := range []string{
		"/__fake/add-booked?uid=" + uid + "&n=-1",
		"/__fake/add-booked?uid=nope&n=1",
		"/__fake/revoke-session?id=nope",
		"/__fake/expire-session?id=nope",
		"/__fake/advance-clock?hours=soon",
		"/__fake/change-references?uid=" + uid,
	} {
		if code := post(path); code != 400 {
			t.Errorf("%s: %d, want 400", path, code)
		}
	}
}
