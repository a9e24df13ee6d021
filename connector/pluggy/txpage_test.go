package pluggy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

func TestDecodeTransactionsPage(t *testing.T) {
	type row struct{ id, created, date, problem string }
	for _, tc := range []struct {
		name string
		page string
		rows []row
		next string // "<nil>" for none
		err  string // substring; empty for success
	}{
		{name: "typical", page: `{"results":[{"id":"a","date":"2025-01-02T00:00:00.000Z","amount":-1.50,"createdAt":"2025-01-03T04:05:06.789Z"}],"next":"?after=x%3D"}`,
			rows: []row{{"a", "2025-01-03T04:05:06.789Z", "2025-01-02T00:00:00.000Z", ""}}, next: "?after=x%3D"},
		{name: "next first, whitespace everywhere", page: " \r\n{ \"next\" : null ,\n\t\"results\" : [ { \"id\" : \"a\" } , {\"id\":\"b\"} ] } \n",
			rows: []row{{"a", "", "", ""}, {"b", "", "", ""}}, next: "<nil>"},
		{name: "no next", page: `{"results":[]}`, next: "<nil>"},
		{name: "unknown members skipped", page: `{"page":1,"results":[{"id":"a","paymentData":{"id":"nested","x":[1,2,{"y":null}]},"merchant":null,"ok":true}],"total":1e3,"x":{"results":5}}`,
			rows: []row{{"a", "", "", ""}}, next: "<nil>"},
		{name: "escapes and UTF-8 decode as encoding/json does", page: `{"results":[{"id":"\u0061\"b","createdAt":"ação","date":"\ud83d\ude00"}]}`,
			rows: []row{{"a\"b", "ação", "😀", ""}}, next: "<nil>"},
		{name: "escaped key still matches", page: `{"results":[{"\u0069d":"a"}],"n\u0065xt":"?after=1"}`, rows: []row{{"a", "", "", ""}}, next: "?after=1"},
		{name: "a repeated key is a row problem", page: `{"results":[{"id":"a","id":"b","date":"x","date":null}],"next":"?a","next":null}`, rows: []row{{"b", "", "", "appears twice"}}, next: "<nil>"},
		{name: "a repeated accountId is a row problem", page: `{"results":[{"id":"a","accountId":"x","accountId":"y"},{"id":"b","x":1,"x":2}]}`, rows: []row{{"a", "", "", `"accountId" appears twice`}, {"b", "", "", ""}}, next: "<nil>"},
		{name: "keys match exactly", page: `{"results":[{"ID":"a","CreatedAt":"x"}]}`, rows: []row{{"", "", "", ""}}, next: "<nil>"},
		{name: "wrong-typed keys are a row problem", page: `{"results":[{"id":7},{"id":"a","createdAt":{"t":1}},3,null,"s"]}`,
			rows: []row{{"", "", "", `"id" is not a string`}, {"a", "", "", `"createdAt" is not a string`}, {problem: "not an object"}, {problem: "not an object"}, {problem: "not an object"}}, next: "<nil>"},

		{name: "empty", page: ``, err: "empty"},
		{name: "html", page: `<html>502</html>`, err: "offset 0: want the page object"},
		{name: "array", page: `[]`, err: "want the page object"},
		{name: "null", page: `null`, err: "want the page object"},
		{name: "no results", page: `{"next":null}`, err: `no "results"`},
		{name: "results not an array", page: `{"results":{}}`, err: `"results" is not an array`},
		{name: "results null", page: `{"results":null}`, err: `"results" is not an array`},
		{name: "next a number", page: `{"results":[],"next":5}`, err: `"next" is neither`},
		{name: "truncated", page: `{"results":[{"id":"a"`, err: "unexpected end"},
		{name: "truncated in string", page: `{"results":[{"id":"a`, err: "unexpected end"},
		{name: "trailing garbage", page: `{"results":[]}x`, err: "after the page object"},
		{name: "two documents", page: `{"results":[]}{}`, err: "after the page object"},
		{name: "trailing comma", page: `{"results":[{"id":"a"},]}`, err: "want a value"},
		{name: "missing colon", page: `{"results" []}`, err: "want ':'"},
		{name: "bare word", page: `{"results":[{"id":"a","x":nul}]}`, err: "bad literal"},
		{name: "leading zero", page: `{"results":[{"x":01}]}`, err: "want ',' or '}'"},
		{name: "bad fraction", page: `{"results":[{"x":1.}]}`, err: "want digits after '.'"},
		{name: "bad exponent", page: `{"results":[{"x":1e+}]}`, err: "want digits in the exponent"},
		{name: "lone minus", page: `{"results":[{"x":-}]}`, err: "want a number"},
		{name: "control character in string", page: "{\"results\":[{\"id\":\"a\tb\"}]}", err: "control character in string"},
		{name: "bad escape", page: `{"results":[{"id":"a\x"}]}`, err: "bad escape"},
		{name: "short unicode escape", page: `{"results":[{"id":"\u12"}]}`, err: `bad \u escape`},
		{name: "too deep", page: `{"results":[{"x":` + strings.Repeat("[", jsonrow.MaxDepth+10) + strings.Repeat("]", jsonrow.MaxDepth+10) + `}]}`, err: "nested too deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, next, err := decodeTransactionsPage([]byte(tc.page), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if json.Valid([]byte(tc.page)) && !strings.Contains(tc.err, "results") && !strings.Contains(tc.err, "next") && !strings.Contains(tc.err, "object") && !strings.Contains(tc.err, "too deep") {
					t.Fatalf("json.Valid accepts %q, but it was rejected as malformed", tc.page)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotNext := "<nil>"
			if next != nil {
				gotNext = *next
			}
			if gotNext != tc.next {
				t.Errorf("next = %q, want %q", gotNext, tc.next)
			}
			if len(rows) != len(tc.rows) {
				t.Fatalf("%d rows, want %d", len(rows), len(tc.rows))
			}
			for i, r := range rows {
				w := tc.rows[i]
				if r.ID != w.id || r.CreatedAt != w.created || r.Date != w.date || !strings.Contains(r.Problem, w.problem) || (w.problem == "") != (r.Problem == "") {
					t.Errorf("row %d = %q %q %q problem %q, want %+v", i, r.ID, r.CreatedAt, r.Date, r.Problem, w)
				}
				if !json.Valid(r.Raw) || !bytes.Contains([]byte(tc.page), r.Raw) {
					t.Errorf("row %d raw %q is not a slice of the page", i, r.Raw)
				}
			}
		})
	}
}

// referencePage decodes a page with encoding/json, matching keys exactly
// and letting a repeated key's last value win: what decodeTransactionsPage
// must agree with.
func referencePage(b []byte) (rows []txRow, next *string, ok bool) {
	if !json.Valid(b) {
		return nil, nil, false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return nil, nil, false
	}
	res, has := top["results"]
	if !has || res[0] != '[' {
		return nil, nil, false
	}
	if n, has := top["next"]; has && string(n) != "null" {
		var s string
		if json.Unmarshal(n, &s) != nil {
			return nil, nil, false
		}
		next = &s
	}
	var raws []json.RawMessage
	if json.Unmarshal(res, &raws) != nil {
		return nil, nil, false
	}
	for _, raw := range raws {
		r := txRow{Raw: raw}
		var m map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
			r.Problem = "not an object"
			rows = append(rows, r)
			continue
		}
		if repeatsKey(raw, "id", "createdAt", "date", "accountId") {
			r.Problem = "a key appears twice"
		}
		for key, dst := range map[string]*string{"id": &r.ID, "createdAt": &r.CreatedAt, "date": &r.Date} {
			v, has := m[key]
			if !has || string(v) == "null" {
				continue
			}
			if json.Unmarshal(v, dst) != nil {
				r.Problem = key + " is not a string"
			}
		}
		rows = append(rows, r)
	}
	return rows, next, true
}

// repeatsKey reports whether the object raw has one of keys twice at its
// top level.
func repeatsKey(raw []byte, keys ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token() // '{'
	seen := map[string]bool{}
	for dec.More() {
		t, _ := dec.Token()
		k, _ := t.(string)
		if slices.Contains(keys, k) {
			if seen[k] {
				return true
			}
			seen[k] = true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

func FuzzDecodeTransactionsPage(f *testing.F) {
	for _, s := range []string{
		`{"results":[{"id":"a","createdAt":"2025-01-01T00:00:00.000Z","date":"2025-01-01T00:00:00.000Z","amount":-1.50e-2}],"next":null}`,
		`{"results":[{"id":"\u00e9","x":[true,false,null,{"id":"n"}]}],"next":"?after=a+b/c=="}`,
		`{"results":[{"id":"a","id":null},7,"s",[]],"next":"x","next":null}`,
		`{"results":[],"results":[{"id":"b"}]}`, " {\"results\" :\t[ ]\n} ", `{"results":[{"id":"a"}]}}`, `{"results":[{"id":1.5E+3}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, next, err := decodeTransactionsPage(b, nil)
		if errors.Is(err, jsonrow.ErrTooDeep) {
			return // encoding/json nests 10 times deeper
		}
		want, wantNext, ok := referencePage(b)
		if !ok {
			if err == nil {
				t.Fatalf("accepted %q, which encoding/json refuses or which is no page", b)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused %q: %v", b, err)
		}
		if (next == nil) != (wantNext == nil) || next != nil && *next != *wantNext {
			t.Fatalf("next of %q = %v, want %v", b, next, wantNext)
		}
		if len(rows) != len(want) {
			t.Fatalf("%d rows from %q, want %d", len(rows), b, len(want))
		}
		for i := range rows {
			g, w := rows[i], want[i]
			if !bytes.Equal(g.Raw, w.Raw) || (g.Problem == "") != (w.Problem == "") {
				t.Fatalf("row %d of %q: raw %q problem %q, want raw %q problem %q", i, b, g.Raw, g.Problem, w.Raw, w.Problem)
			}
			if g.Problem == "" && g.txKeys != w.txKeys {
				t.Fatalf("row %d of %q: keys %+v, want %+v", i, b, g.txKeys, w.txKeys)
			}
		}
	})
}

// fakePage returns a first-sync page of n rows as the fake serves it.
func fakePage(tb testing.TB, n int) []byte {
	tb.Helper()
	f := fake.New(fake.Options{Items: 1, AccountsPerItem: 3, TransactionsPerAccount: n, PageSize: n, Now: func() time.Time { return time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC) }})
	h := f.Handler()
	do := func(req *http.Request) []byte {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			tb.Fatalf("%s %s: %d %s", req.Method, req.URL, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	var auth struct{ APIKey string }
	_ = json.Unmarshal(do(httptest.NewRequest(http.MethodPost, "/auth", strings.NewReader(`{"clientId":"demo-client-id","clientSecret":"demo-client-secret"}`))), &auth)
	// The card account: installments, merchants, pending rows.
	req := httptest.NewRequest(http.MethodGet, "/v2/transactions?accountId="+f.AccountIDs(f.ItemIDs()[0])[2], nil)
	req.Header.Set("X-API-KEY", auth.APIKey)
	return do(req)
}

// BenchmarkDecodeTransactionsPage decodes one 500-row page.
//
//	go test -run=^$ -bench=TransactionsPage -benchmem ./connector/pluggy/
func BenchmarkDecodeTransactionsPage(b *testing.B) {
	page := fakePage(b, 500)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		rows, _, err := decodeTransactionsPage(page, nil)
		if err != nil || len(rows) != 500 {
			b.Fatal(len(rows), err)
		}
	}
}

// BenchmarkDecodeTransactionsPageEncodingJSON is the decode this file
// replaced, for comparison: the page into []RawMessage, then each row into
// txKeys.
func BenchmarkDecodeTransactionsPageEncodingJSON(b *testing.B) {
	page := fakePage(b, 500)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		var env struct {
			Results []json.RawMessage `json:"results"`
			Next    *string           `json:"next"`
		}
		if err := json.Unmarshal(page, &env); err != nil {
			b.Fatal(err)
		}
		for _, raw := range env.Results {
			var k txKeys
			if err := json.Unmarshal(raw, &k); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPageToRecords is the decode→encode path of one page: decode it,
// then write each row as a RECORD with its itemId, as a read does (without
// HTTP, locks per record or the pipe).
func BenchmarkPageToRecords(b *testing.B) {
	page := fakePage(b, 500)
	w := protocol.NewWriter(io.Discard, nil)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	start := time.Now()
	joins := []jsonrow.Field{jsonrow.String("itemId", "d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5")}
	for b.Loop() {
		rows, _, err := decodeTransactionsPage(page, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			if err := w.Record("transactions", jsonrow.Row{Raw: rows[i].Raw, Fields: joins}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*500/time.Since(start).Seconds(), "records/s")
}
