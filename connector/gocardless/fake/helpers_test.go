package fake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fixedNow is the wall clock of most tests: with it, data and answers are
// byte-for-byte reproducible.
var fixedNow = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// harness is a fake behind a real HTTP listener, as the connector sees it.
type harness struct {
	t     *testing.T
	fake  *Server
	base  string
	token string
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return fixedNow }
	}
	f := New(o)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, fake: f, base: srv.URL + "/api/v2"}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
}

// apiErr decodes an error body, failing on fields other than the four the
// API sends.
func (a answer) apiErr(t *testing.T) apiError {
	t.Helper()
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", a.body, err)
	}
	return e
}

func (h *harness) do(method, path string, body any, bearer string) answer {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// login gets an access token and keeps it for get.
func (h *harness) login() {
	h.t.Helper()
	a := h.do("POST", "/token/new/", map[string]string{"secret_id": h.fake.SecretID(), "secret_key": h.fake.SecretKey()}, "")
	if a.status != 200 {
		h.t.Fatalf("token/new: %d %s", a.status, a.body)
	}
	var tok tokenPair
	a.decode(h.t, &tok)
	h.token = tok.Access
}

func (h *harness) get(path string) answer {
	h.t.Helper()
	return h.do("GET", path, nil, h.token)
}

func (h *harness) firstAccount() string {
	return h.fake.AccountIDs(h.fake.RequisitionIDs()[0])[0]
}

func wantStatus(t *testing.T, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
}
