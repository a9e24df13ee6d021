package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestEscapedJoinKeyIsTheKey: a transaction that carries its itemId spelled
// with an escape ("item\u0049d") has that key already. stdout, Singer and
// Parquet all see one itemId, the API's, rather than a second one added in
// front (which used to fail the stream with --parquet-dir).
func TestEscapedJoinKeyIsTheKey(t *testing.T) {
	var itemID string
	escape := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v2/transactions" {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`{"id":`), []byte(`{"item\u0049d":"`+itemID+`","id":`))
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 20, PageSize: 10}, fake.Hostile{}, escape)
	itemID = e.fake.ItemIDs()[0]
	dir := t.TempDir()
	catalog := e.catalog(false, "transactions")
	r := e.readWith(nil, catalog, "--parquet-dir", dir)
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v", r.Code, r.ErrorTraces())
	}
	recs := r.Records()["transactions"]
	if len(recs) == 0 {
		t.Fatal("no transactions")
	}
	for _, raw := range recs {
		if !bytes.Contains(raw, []byte(`"item\u0049d"`)) {
			t.Fatalf("the API's escaped key did not pass through: %s", raw)
		}
		if n := topLevelCount(t, raw, "itemId"); n != 1 {
			t.Fatalf("stdout record has itemId %d times: %s", n, raw)
		}
	}

	s := runSinger(t, true, e.bin, "singer", "--config", e.config(nil))
	srecs := s.records()["transactions"]
	if len(srecs) != len(recs) {
		t.Fatalf("singer: %d transactions, Airbyte %d", len(srecs), len(recs))
	}
	for _, raw := range srecs {
		if n := topLevelCount(t, raw, "itemId"); n != 1 {
			t.Fatalf("Singer record has itemId %d times: %s", n, raw)
		}
	}

	rows := st.ParquetStrings(t, dir, "transactions", "itemId")
	for _, row := range rows {
		if got := row["itemId"]; got == nil || *got != itemID {
			t.Fatalf("Parquet itemId %v, want %q", got, itemID)
		}
	}
	if len(rows) != len(recs) {
		t.Errorf("Parquet has %d transactions, stdout %d", len(rows), len(recs))
	}
}

// topLevelCount counts the top-level members of raw named key, however
// spelled.
func topLevelCount(t *testing.T, raw []byte, key string) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		st.Must(t, err)
		if k, _ := tok.(string); k == key {
			n++
		}
		var skip json.RawMessage
		st.Must(t, dec.Decode(&skip))
	}
	return n
}
