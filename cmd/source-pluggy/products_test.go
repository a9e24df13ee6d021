package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The tests in this file cover the streams beyond items, accounts,
// transactions and categories: credit_card_bills, investments,
// investment_transactions, loans and identity.

// newWrappedEnv is newEnv with wrap around the fake's handler, for answers
// the fake cannot be told to give.
func newWrappedEnv(t *testing.T, o fake.Options, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	f := fake.New(o)
	srv := httptest.NewServer(wrap(f.Handler()))
	t.Cleanup(srv.Close)
	return &env{t: t, bin: st.Build(t, "source-pluggy"), fake: f, srv: srv, cfg: map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
		"base_url": srv.URL, "requests_per_minute": 0, "lookback_days": 7,
	}}
}

// readOver is read with config overrides.
func (e *env) readOver(over map[string]any, catalog string, extra ...string) *st.Result {
	e.t.Helper()
	saved := e.cfg
	e.cfg = map[string]any{}
	for k, v := range saved {
		e.cfg[k] = v
	}
	for k, v := range over {
		e.cfg[k] = v
	}
	defer func() { e.cfg = saved }()
	return e.read(catalog, extra...)
}

// apiGet asks the fake for path the way the connector does, to compute what
// a read must emit. It does not count towards the fake's stats the test
// looks at: call it before ResetStats or after the stats are read.
func (e *env) apiGet(path string, v any) []byte {
	e.t.Helper()
	return e.apiDo(http.MethodGet, path, nil, v)
}

// apiDo sends method path with a JSON body (none when nil) and a fresh
// apiKey, fails the test on a non-200, and decodes the answer into v (when
// not nil).
func (e *env) apiDo(method, path string, body, v any) []byte {
	e.t.Helper()
	creds, _ := json.Marshal(map[string]string{"clientId": e.fake.ClientID(), "clientSecret": e.fake.ClientSecret()})
	resp, err := http.Post(e.srv.URL+"/auth", "application/json", bytes.NewReader(creds))
	st.Must(e.t, err, "auth")
	var auth struct {
		APIKey string `json:"apiKey"`
	}
	st.Must(e.t, json.NewDecoder(resp.Body).Decode(&auth), "auth body")
	resp.Body.Close()
	var payload io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		st.Must(e.t, err, "request body")
		payload = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, payload)
	req.Header.Set("X-API-KEY", auth.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err = http.DefaultClient.Do(req)
	st.Must(e.t, err, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	st.Must(e.t, err, path)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	if v != nil {
		st.Must(e.t, json.Unmarshal(b, v), path)
	}
	return b
}

type apiPage struct {
	Total   int               `json:"total"`
	Results []json.RawMessage `json:"results"`
}

type joinRow struct {
	ID           string `json:"id"`
	ItemID       string `json:"itemId"`
	AccountID    string `json:"accountId"`
	InvestmentID string `json:"investmentId"`
	Type         string `json:"type"`
	Date         string `json:"date"`
}

func joinRows(t *testing.T, raws []json.RawMessage) map[string]joinRow {
	t.Helper()
	out := map[string]joinRow{}
	for _, r := range raws {
		var x joinRow
		st.Must(t, json.Unmarshal(r, &x), "record")
		if _, dup := out[x.ID]; dup {
			t.Fatalf("id %s emitted twice", x.ID)
		}
		out[x.ID] = x
	}
	return out
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	st.Must(t, json.Compact(&buf, b), "compact")
	return buf.String()
}

var productStreams = []string{"credit_card_bills", "investments", "investment_transactions", "loans", "identity"}

// TestProductStreams reads every product stream in full and compares it
// with what the API serves: every row, each with the ids that join it to its
// parents, and nothing else.
func TestProductStreams(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 10})
	items := e.fake.ItemIDs()

	// What the API serves.
	cards := map[string]string{} // card account -> item
	wantBills := 0
	invItem := map[string]string{} // investment -> item
	wantInvTx := 0
	for _, item := range items {
		var accts apiPage
		e.apiGet("/accounts?itemId="+item, &accts)
		for _, raw := range accts.Results {
			var a joinRow
			st.Must(t, json.Unmarshal(raw, &a), "account")
			if a.Type == "CREDIT" {
				cards[a.ID] = item
				var bills apiPage
				e.apiGet("/bills?accountId="+a.ID, &bills)
				wantBills += len(bills.Results)
			}
		}
		var invs apiPage
		e.apiGet("/investments?itemId="+item+"&pageSize=500", &invs)
		for _, raw := range invs.Results {
			var in joinRow
			st.Must(t, json.Unmarshal(raw, &in), "investment")
			invItem[in.ID] = item
			var txs apiPage
			e.apiGet("/investments/"+in.ID+"/transactions?pageSize=500", &txs)
			wantInvTx += txs.Total
		}
	}
	servedLoan := e.apiGet("/loans?itemId="+items[0], nil)
	e.fake.ResetStats()

	r := e.read(e.catalog(false, productStreams...))
	recs := r.Records()

	bills := joinRows(t, recs["credit_card_bills"])
	if len(cards) == 0 || wantBills == 0 || len(bills) != wantBills {
		t.Fatalf("credit_card_bills: %d records, the API serves %d bills on %d cards", len(bills), wantBills, len(cards))
	}
	perCard := map[string]int{}
	for id, b := range bills {
		if _, ok := cards[b.AccountID]; !ok {
			t.Fatalf("bill %s: accountId %q is not a credit-card account", id, b.AccountID)
		}
		perCard[b.AccountID]++
	}
	if len(perCard) != len(cards) {
		t.Errorf("bills came from %d of %d cards", len(perCard), len(cards))
	}

	invs := joinRows(t, recs["investments"])
	if len(invs) != len(invItem) || len(invs) == 0 {
		t.Fatalf("investments: %d records, the API serves %d", len(invs), len(invItem))
	}
	for id, in := range invs {
		if in.ItemID != invItem[id] {
			t.Errorf("investment %s: itemId %q, want %q", id, in.ItemID, invItem[id])
		}
	}
	txs := joinRows(t, recs["investment_transactions"])
	if len(txs) != wantInvTx || wantInvTx == 0 {
		t.Fatalf("investment_transactions: %d records, the API serves %d", len(txs), wantInvTx)
	}
	for id, tx := range txs {
		item, ok := invItem[tx.InvestmentID]
		if !ok || tx.ItemID != item {
			t.Fatalf("investment transaction %s: investmentId %q itemId %q do not join", id, tx.InvestmentID, tx.ItemID)
		}
	}

	// Loans pass through byte for byte, Portuguese enum values included.
	var page struct {
		Results []json.RawMessage `json:"results"`
	}
	st.Must(t, json.Unmarshal(servedLoan, &page), "loans page")
	if len(recs["loans"]) != 1 || len(page.Results) != 1 {
		t.Fatalf("loans: %d records, the first item has %d (the second none)", len(recs["loans"]), len(page.Results))
	}
	if got, want := compact(t, recs["loans"][0]), compact(t, page.Results[0]); got != want {
		t.Fatalf("loan changed on the way:\nserved  %s\nemitted %s", want, got)
	}
	for _, pt := range []string{`"installmentPeriodicity":"MES"`, `"taxType":"EFETIVA"`, `"chargeType":"UNICA"`} {
		if !strings.Contains(string(recs["loans"][0]), pt) {
			t.Errorf("loan lacks %s", pt)
		}
	}

	// Identity: the first item has one; the second answers 404, which is
	// no record and no error.
	ids := joinRows(t, recs["identity"])
	if len(ids) != 1 {
		t.Fatalf("identity: %d records, want 1", len(ids))
	}
	for _, id := range ids {
		if id.ItemID != items[0] {
			t.Errorf("identity itemId %q, want %q", id.ItemID, items[0])
		}
	}
	if s := r.Statuses()["identity"]; len(s) == 0 || s[len(s)-1] != protocol.Complete {
		t.Fatalf("identity statuses %v, want COMPLETE", s)
	}
	if len(r.ErrorTraces()) != 0 {
		t.Fatalf("errors: %+v", r.ErrorTraces())
	}

	// Calls: one per card for bills, one per item for investments, loans and
	// identity, one per investment for its movements; never a PATCH.
	s := e.fake.Stats()
	for route, want := range map[string]int{
		"GET /bills": len(cards), "GET /investments": len(items), "GET /loans": len(items), "GET /identity": len(items),
		"GET /investments/{id}/transactions": len(invItem), "PATCH /items/{id}": 0,
	} {
		if got := s.ByRoute[route]; got != want {
			t.Errorf("%s: %d calls, want %d", route, got, want)
		}
	}
}

// extraMovement appends one movement to an investment's first page of
// GET /investments/{id}/transactions, as Pluggy does when it ingests a row
// late under an old date.
type extraMovement struct {
	investment string
	row        json.RawMessage
}

func withExtraMovement(p *atomic.Pointer[extraMovement]) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x := p.Load()
			if x == nil || r.Method != http.MethodGet || r.URL.Path != "/investments/"+x.investment+"/transactions" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			results, _ := page["results"].([]any)
			var row any
			_ = json.Unmarshal(x.row, &row)
			page["results"] = append(results, row)
			page["total"] = page["total"].(float64) + 1
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
		})
	}
}

// TestInvestmentTransactionsIncremental: a second run emits only the
// movements within lookback_days of the newest date read; a movement Pluggy
// adds late under an old date makes the run emit that investment's history
// again; a state from the future emits nothing, with a WARN per investment.
func TestInvestmentTransactionsIncremental(t *testing.T) {
	var extra atomic.Pointer[extraMovement]
	e := newWrappedEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5}, withExtraMovement(&extra))
	cat := e.catalog(true, "investment_transactions")

	r1 := e.read(cat)
	first := joinRows(t, r1.Records()["investment_transactions"])
	if len(first) == 0 {
		t.Fatal("first read emitted nothing")
	}
	state1 := r1.StateFile(t)
	var st1 struct {
		Investments map[string]struct {
			Date string `json:"date"`
			IDs  string `json:"ids"`
		} `json:"investments"`
	}
	st.Must(t, json.Unmarshal(lastState(t, r1, "investment_transactions"), &st1), "state")
	perInv := map[string]int{}
	for _, tx := range first {
		perInv[tx.InvestmentID]++
	}
	if len(st1.Investments) != len(perInv) {
		t.Fatalf("state has %d investments, the read saw %d", len(st1.Investments), len(perInv))
	}

	// Nothing changed: only the rows dated within 7 days of each cursor.
	r2 := e.read(cat, "--state", state1)
	second := joinRows(t, r2.Records()["investment_transactions"])
	if len(second) == 0 || len(second) >= len(first) {
		t.Fatalf("second read emitted %d of %d rows, want some but fewer", len(second), len(first))
	}
	for id, tx := range second {
		cur, _ := time.Parse(time.DateOnly, st1.Investments[tx.InvestmentID].Date)
		if tx.Date[:10] < cur.AddDate(0, 0, -7).Format(time.DateOnly) {
			t.Errorf("row %s dated %s is outside the lookback of cursor %s", id, tx.Date, cur.Format(time.DateOnly))
		}
	}

	// A movement ingested late, dated 200 days back.
	var target string
	for inv := range perInv {
		target = inv
		break
	}
	late := "7e1a0c55-0000-4000-8000-00000000beef"
	oldDate := time.Now().UTC().AddDate(0, 0, -200).Format("2006-01-02") + "T00:00:00.000Z"
	extra.Store(&extraMovement{investment: target, row: json.RawMessage(`{"id":"` + late + `","type":"BUY","movementType":"DEBIT","description":"Aplicação tardia","quantity":1,"value":100.5,"amount":100.5,"netAmount":100.5,"date":"` + oldDate + `","tradeDate":null}`)})
	r3 := e.read(cat, "--state", r2.StateFile(t))
	third := joinRows(t, r3.Records()["investment_transactions"])
	if x, ok := third[late]; !ok || x.InvestmentID != target {
		t.Fatalf("the late movement was not emitted (or not joined): %+v", x)
	}
	for id, tx := range first {
		if tx.InvestmentID == target {
			if _, ok := third[id]; !ok {
				t.Errorf("changed investment: row %s not re-emitted", id)
			}
		}
	}

	// A state from the future reads nothing and still checkpoints.
	future := map[string]any{}
	for inv := range perInv {
		future[inv] = map[string]any{"date": "2999-01-01", "synced_at": "2999-01-01T00:00:00Z"}
	}
	state := st.WriteFile(t, "abnormal_state.json", []any{map[string]any{"type": "STREAM", "stream": map[string]any{
		"stream_descriptor": map[string]any{"name": "investment_transactions"},
		"stream_state":      map[string]any{"version": 1, "investments": future},
	}}})
	r4 := e.read(cat, "--state", state)
	if n := len(r4.Records()["investment_transactions"]); n != 0 {
		t.Fatalf("future state emitted %d records", n)
	}
	if len(r4.OfType(protocol.TypeState)) == 0 {
		t.Fatal("no STATE after a future state")
	}
	// Nothing emitted, and no error to say why: a WARN does, per
	// investment, as transactions does per account.
	for inv := range perInv {
		if !r4.Warned("investment_transactions:", inv, "after today", "date=2999-01-01") {
			t.Errorf("no WARN that investment %s's state is from the future", inv)
		}
	}
}

// lastState returns a stream's last emitted state.
func lastState(t *testing.T, r *st.Result, stream string) json.RawMessage {
	t.Helper()
	var last json.RawMessage
	for _, m := range r.OfType(protocol.TypeState) {
		if m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == stream {
			last = m.State.Stream.StreamState
		}
	}
	if last == nil {
		t.Fatalf("no state for %s", stream)
	}
	return last
}
