package fake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock reading all tests start from.
var testNow = time.Date(2026, 5, 29, 20, 59, 39, 793e6, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testNow} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a fake behind an httptest server plus a logged-in client.
type harness struct {
	t     *testing.T
	s     *Server
	clock *clock
	ts    *httptest.Server
	key   string
}

// newHarness starts a server with o (its clock replaced by a test clock
// unless set) and authenticates.
func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock()}
	if o.Now == nil {
		o.Now = h.clock.Now
	}
	h.s = New(o)
	h.ts = httptest.NewServer(h.s.Handler())
	t.Cleanup(h.ts.Close)
	h.key = h.login()
	return h
}

// login performs POST /auth and returns the key.
func (h *harness) login() string {
	h.t.Helper()
	code, body := h.post("/auth", `{"clientId":"`+h.s.ClientID()+`","clientSecret":"`+h.s.ClientSecret()+`","nonExpiring":false}`)
	if code != http.StatusOK {
		h.t.Fatalf("POST /auth: %d %s", code, body)
	}
	var out struct{ APIKey string }
	if err := json.Unmarshal(body, &out); err != nil || out.APIKey == "" {
		h.t.Fatalf("POST /auth body %s: %v", body, err)
	}
	return out.APIKey
}

func (h *harness) post(path, body string) (int, []byte) {
	h.t.Helper()
	resp, err := h.ts.Client().Post(h.ts.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// do sends an authenticated request and returns the response with its body
// read.
func (h *harness) do(method, path string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url(path), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", h.key)
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

// get is do("GET") returning just the status and body.
func (h *harness) get(path string) (int, []byte) {
	h.t.Helper()
	resp, b := h.do(http.MethodGet, path)
	return resp.StatusCode, b
}

// url resolves a path, a relative "?…" next link or an absolute URL.
func (h *harness) url(path string) string {
	switch {
	case strings.HasPrefix(path, "http"):
		return path
	case strings.HasPrefix(path, "?"):
		return h.ts.URL + "/v2/transactions" + path
	}
	return h.ts.URL + path
}

// mustGet fails the test unless the request answers 200.
func (h *harness) mustGet(path string, v any) []byte {
	h.t.Helper()
	code, b := h.get(path)
	if code != http.StatusOK {
		h.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			h.t.Fatalf("GET %s: decoding %s: %v", path, b, err)
		}
	}
	return b
}

// v2Page is the v2 cursor envelope with rows kept raw.
type v2Page struct {
	Results []json.RawMessage `json:"results"`
	Next    *string           `json:"next"`
}

// walk follows `next` from first until it is null and returns every row,
// the number of pages and the next links seen. It fails after maxPages.
func (h *harness) walk(first string, maxPages int) (rows []json.RawMessage, pages int, nexts []string) {
	h.t.Helper()
	path := first
	for {
		var p v2Page
		h.mustGet(path, &p)
		pages++
		rows = append(rows, p.Results...)
		if p.Next == nil {
			return rows, pages, nexts
		}
		nexts = append(nexts, *p.Next)
		if pages >= maxPages {
			h.t.Fatalf("walk %s: still paging after %d pages", first, pages)
		}
		path = *p.Next
	}
}

// row is the subset of a transaction tests inspect.
type row struct {
	ID                      string          `json:"id"`
	AccountID               string          `json:"accountId"`
	Date                    string          `json:"date"`
	Description             string          `json:"description"`
	Amount                  json.Number     `json:"amount"`
	AmountInAccountCurrency *json.Number    `json:"amountInAccountCurrency"`
	CurrencyCode            string          `json:"currencyCode"`
	Balance                 *json.Number    `json:"balance"`
	Type                    string          `json:"type"`
	Status                  string          `json:"status"`
	CategoryID              *string         `json:"categoryId"`
	PaymentData             json.RawMessage `json:"paymentData"`
	CreditCardMetadata      *struct {
		BillID           string `json:"billId"`
		BillForecastDate string `json:"billForecastDate"`
		InstallmentNum   int    `json:"installmentNumber"`
	} `json:"creditCardMetadata"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func decodeRows(t *testing.T, raws []json.RawMessage) []row {
	t.Helper()
	out := make([]row, len(raws))
	for i, r := range raws {
		dec := json.NewDecoder(strings.NewReader(string(r)))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("decoding row %s: %v", r, err)
		}
	}
	return out
}

func ids(rows []row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// cents parses a JSON number with at most two decimals exactly.
func cents(t *testing.T, n json.Number) int64 {
	t.Helper()
	s := string(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		t.Fatalf("amount %s has more than two decimals", n)
	}
	frac += strings.Repeat("0", 2-len(frac))
	var v int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			t.Fatalf("bad amount %s", n)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v
}

func wantBody(t *testing.T, what string, gotCode int, got []byte, wantCode int, want string) {
	t.Helper()
	if gotCode != wantCode || string(got) != want {
		t.Errorf("%s: got %d %s\nwant %d %s", what, gotCode, got, wantCode, want)
	}
}
