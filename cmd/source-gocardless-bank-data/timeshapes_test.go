package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestLenientTimesParsedAlikeInEverySink: banks fill bookingDateTime
// inconsistently (gocardless-api.md §3.2), and each typed sink adds
// bookingDateTime_parsed beside the verbatim string. A time without
// seconds, or with a space or lower-case letters around its zone, was
// parsed by the Parquet sink and left null by the PostgreSQL sink, which
// read fewer shapes: one read gave the two outputs different data. Both
// now read every shape parquet.md lists, to the same instant.
func TestLenientTimesParsedAlikeInEverySink(t *testing.T) {
	// Each shape, written on the row's bookingDate, and the instant it
	// stands for.
	shapes := []struct{ suffix, instant string }{
		{"T10:22", "T10:22:00.000000Z"},
		{" 10:22", "T10:22:00.000000Z"},
		{" 10:22:31Z", "T10:22:31.000000Z"},
		{"t10:22:31z", "T10:22:31.000000Z"},
		{"T10:22Z", "T10:22:00.000000Z"},
		{"T10:22:31.5+01:00", "T09:22:31.500000Z"},
	}
	isTransactions := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v2/accounts/") && strings.HasSuffix(r.URL.Path, "/transactions/")
	}
	var n atomic.Int64 // answers are rewritten concurrently
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 24}, func(_ *fake.Server, h http.Handler) http.Handler {
		return st.Rewrite(h, isTransactions, func(b []byte) []byte {
			var body struct {
				Transactions map[string][]map[string]any `json:"transactions"`
			}
			st.Must(t, json.Unmarshal(b, &body), "transactions answer")
			for _, row := range body.Transactions["booked"] {
				if d, ok := row["bookingDate"].(string); ok {
					row["bookingDateTime"] = d + shapes[(n.Add(1)-1)%int64(len(shapes))].suffix
				}
			}
			out, err := json.Marshal(body)
			st.Must(t, err, "transactions answer")
			return out
		})
	})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "transactions"), "--parquet-dir", dir, "--postgres", url)

	want := map[string]string{} // account_id|transaction_key -> the instant
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			AccountID   string `json:"account_id"`
			Key         string `json:"transaction_key"`
			BookingDate string `json:"bookingDate"`
			Time        string `json:"bookingDateTime"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "record")
		for _, s := range shapes {
			if x.Time == x.BookingDate+s.suffix {
				want[x.AccountID+"|"+x.Key] = x.BookingDate + s.instant
			}
		}
	}
	if len(want) < len(shapes) {
		t.Fatalf("%d rows read with a rewritten bookingDateTime; the test needs every shape", len(want))
	}

	seen := 0
	for _, row := range st.ParquetStrings(t, dir, "transactions", "account_id", "transaction_key", "bookingDateTime", "bookingDateTime_parsed") {
		k := *row["account_id"] + "|" + *row["transaction_key"]
		w, ok := want[k]
		if !ok {
			continue
		}
		seen++
		if got := row["bookingDateTime_parsed"]; got == nil || *got != w {
			t.Errorf("Parquet row %s: bookingDateTime %q parsed as %s, want %s", k, *row["bookingDateTime"], deref(got), w)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d rewritten rows in Parquet", seen, len(want))
	}

	conn := pgtest.Connect(t, url)
	for k, w := range want {
		account, key, _ := strings.Cut(k, "|")
		var sent string
		var got *string
		err := conn.QueryRow(context.Background(), `SELECT "bookingDateTime", to_char("bookingDateTime_parsed" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
			FROM gocardless.transactions WHERE account_id = $1 AND transaction_key = $2`, account, key).Scan(&sent, &got)
		st.Must(t, err, "transaction "+k)
		if got == nil || *got != w {
			t.Errorf("PostgreSQL row %s: bookingDateTime %q parsed as %s, want %s (as Parquet)", k, sent, deref(got), w)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
