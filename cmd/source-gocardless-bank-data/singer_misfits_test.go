package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSingerMisfitsKeptInLeftovers: booked rows off the schema (the fake's
// Misfits: balanceAfterTransaction as text where the schema says object,
// and xBankField, which no schema declares) and rows whose transactionId,
// valueDate or bookingDate, the stream's replication key, is not a string
// reach a Singer target as records that validate against their SCHEMA, as
// a Meltano SDK target checks each before loading it (and stops the load
// at the first that fails). Each misfit is kept in the record's _leftovers
// as sent, with one WARNING per field; bookingDate stays in place, null.
func TestSingerMisfitsKeptInLeftovers(t *testing.T) {
	var mu sync.Mutex
	served := map[string][]string{} // field → values as sent, one per row
	injected := map[string]string{"bookingDate": `20250101`, "transactionId": `12345`, "valueDate": `true`}
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 20, Misfits: true}, func(_ *fake.Server, h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, func(body []byte) []byte {
			var page, txns map[string]json.RawMessage
			var booked []map[string]json.RawMessage
			if json.Unmarshal(body, &page) != nil || json.Unmarshal(page["transactions"], &txns) != nil || json.Unmarshal(txns["booked"], &booked) != nil || len(booked) == 0 {
				return body
			}
			for f, v := range injected {
				booked[0][f] = json.RawMessage(v)
			}
			mu.Lock()
			for _, row := range booked {
				for _, f := range []string{"balanceAfterTransaction", "xBankField", "bookingDate", "transactionId", "valueDate"} {
					if v, ok := row[f]; ok && (f != "balanceAfterTransaction" || v[0] == '"') && (injected[f] == "" || string(v) == injected[f]) {
						served[f] = append(served[f], string(st.Canonical(t, v)))
					}
				}
			}
			mu.Unlock()
			txns["booked"], _ = json.Marshal(booked)
			page["transactions"], _ = json.Marshal(txns)
			out, _ := json.Marshal(page)
			return out
		})
	})
	tap := st.TapLink(t, e.bin, "tap-gocardless-bank-data")
	out, stderr, code := st.Exec(t, tap, "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("the sync exited %d:\n%s", code, stderr)
	}
	txns := st.SingerRecords(t, out)["transactions"]
	if len(served["balanceAfterTransaction"]) == 0 || len(served["xBankField"]) == 0 || len(served["bookingDate"]) == 0 {
		t.Fatalf("the fake served no misfit: %v", served)
	}
	for _, field := range []string{"balanceAfterTransaction", "xBankField", "bookingDate", "transactionId", "valueDate"} {
		kept, _ := st.SingerLeftovers(t, txns, field)
		want := served[field]
		slices.Sort(kept)
		slices.Sort(want)
		if !slices.Equal(kept, want) {
			t.Errorf("%s: _leftovers hold %d values, the fake sent %d misfits; not the same values", field, len(kept), len(want))
		}
	}
	// The replication key stays in place, null, in the rows whose
	// bookingDate was a number.
	nulled := 0
	for _, raw := range txns {
		var rec map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &rec), "record")
		if v, ok := rec["bookingDate"]; ok && string(v) == "null" {
			nulled++
		}
	}
	if nulled != len(served["bookingDate"]) {
		t.Errorf("%d records have bookingDate null in place, want %d", nulled, len(served["bookingDate"]))
	}
	for _, w := range []string{
		`field "balanceAfterTransaction" is declared object or null in the stream's schema, but in a record it is a string; moved into its records' _leftovers object`,
		`field "bookingDate", the stream's replication key, is declared string or null in the stream's schema, but in a record it is a number; it stays in place as null`,
		`field "valueDate" is declared string or null in the stream's schema, but in a record it is a boolean; moved`,
		`field "xBankField" is not in the stream's schema`,
	} {
		if n := strings.Count(string(stderr), "WARNING stream 'transactions': "+w); n != 1 {
			t.Errorf("%d WARNINGs %q, want 1:\n%s", n, w, stderr)
		}
	}
}

// TestSingerUnreadableDatesKeptInLeftovers: a booked row whose valueDate
// or bookingDate (format date; bookingDate the replication key) is a
// string a Meltano SDK target cannot parse (31/12/2024, 2024-13-45, a
// date-time where the schema says date) reaches the target as a record
// it loads: its validator leaves formats unchecked, but its sink then
// parses every date and by default stops the load at the first it cannot
// read. valueDate is moved into _leftovers as sent; bookingDate stays in
// place, null, its value as sent in _leftovers; one WARNING per field.
func TestSingerUnreadableDatesKeptInLeftovers(t *testing.T) {
	var mu sync.Mutex
	served := map[string][]string{} // field → the unreadable values as sent
	injected := []map[string]string{
		{"bookingDate": `"31/12/2024"`},
		{"valueDate": `"2024-13-45"`},
		{"valueDate": `"2024-05-01T00:00:00"`},
	}
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 20}, func(_ *fake.Server, h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/transactions/") }, func(body []byte) []byte {
			var page, txns map[string]json.RawMessage
			var booked []map[string]json.RawMessage
			if json.Unmarshal(body, &page) != nil || json.Unmarshal(page["transactions"], &txns) != nil || json.Unmarshal(txns["booked"], &booked) != nil || len(booked) < len(injected) {
				return body
			}
			mu.Lock()
			for i, fields := range injected {
				for f, v := range fields {
					booked[i][f] = json.RawMessage(v)
					served[f] = append(served[f], v)
				}
			}
			mu.Unlock()
			txns["booked"], _ = json.Marshal(booked)
			page["transactions"], _ = json.Marshal(txns)
			out, _ := json.Marshal(page)
			return out
		})
	})
	tap := st.TapLink(t, e.bin, "tap-gocardless-bank-data")
	out, stderr, code := st.Exec(t, tap, "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("the sync exited %d:\n%s", code, stderr)
	}
	txns := st.SingerRecords(t, out)["transactions"]
	if len(served["valueDate"]) == 0 {
		t.Fatal("the fake served no row to rewrite")
	}
	for _, field := range []string{"bookingDate", "valueDate"} {
		kept, _ := st.SingerLeftovers(t, txns, field)
		want := served[field]
		slices.Sort(kept)
		slices.Sort(want)
		if !slices.Equal(kept, want) {
			t.Errorf("%s: _leftovers hold %v, the fake sent %v", field, kept, want)
		}
	}
	nulled := 0
	for _, raw := range txns {
		var rec map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &rec), "record")
		if v, ok := rec["bookingDate"]; ok && string(v) == "null" {
			nulled++
		}
	}
	if nulled != len(served["bookingDate"]) {
		t.Errorf("%d records have bookingDate null in place, want %d", nulled, len(served["bookingDate"]))
	}
	for _, w := range []string{
		`field "bookingDate", the stream's replication key, is declared string or null in the stream's schema, but in a record it is a string that is no date (YYYY-MM-DD) a target can read; it stays in place as null`,
		`field "valueDate" is declared string or null in the stream's schema, but in a record it is a string that is no date (YYYY-MM-DD) a target can read; moved`,
	} {
		if n := strings.Count(string(stderr), "WARNING stream 'transactions': "+w); n != 1 {
			t.Errorf("%d WARNINGs %q, want 1:\n%s", n, w, stderr)
		}
	}
	for _, v := range []string{"2024-13-45", "31/12/2024"} {
		if strings.Contains(string(stderr), v) {
			t.Errorf("the log quotes the value %s:\n%s", v, stderr)
		}
	}
}
