package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSingerMisfitsKeptInLeftovers: booked rows whose status,
// credit_debit_indicator, transaction_amount, value_date or booking_date
// (the stream's replication key) is not of the type the schema declares
// reach a Singer target as records that validate against their SCHEMA, as
// a Meltano SDK target checks each before loading it (and stops the load
// at the first that fails): each misfit is kept in the record's _leftovers
// as sent, with one WARNING per field, and booking_date stays in place,
// null. The shapes the reference lists that the schema takes (a
// remittance_information with null elements, a status no document lists,
// an amount with one decimal) stay in place.
func TestSingerMisfitsKeptInLeftovers(t *testing.T) {
	misfits := []struct{ field, value string }{
		{"booking_date", `20250101`},
		{"status", `1`},
		{"credit_debit_indicator", `true`},
		{"transaction_amount", `"12.50 EUR"`},
		{"value_date", `{"d":7}`},
	}
	var mu sync.Mutex
	served := map[string][]string{} // field → misfit values as sent
	e := newAttackedEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20, PendingStatuses: []string{"PDNG", "HOLD", "ZZZZ"}}, false, func(h http.Handler) http.Handler {
		return st.Rewrite(h, isTransactions, func(b []byte) []byte {
			var page map[string]json.RawMessage
			var rows []map[string]json.RawMessage
			if json.Unmarshal(b, &page) != nil || json.Unmarshal(page["transactions"], &rows) != nil {
				return b
			}
			i := 0
			mu.Lock()
			for _, row := range rows {
				row["remittance_information"] = json.RawMessage(`["Invoice 7",null]`)
				row["transaction_amount"] = json.RawMessage(`{"currency":"NOK","amount":"15237.0"}`)
				if i < len(misfits) && string(row["status"]) == `"BOOK"` {
					row[misfits[i].field] = json.RawMessage(misfits[i].value)
					served[misfits[i].field] = append(served[misfits[i].field], string(st.Canonical(t, json.RawMessage(misfits[i].value))))
					i++
				}
			}
			mu.Unlock()
			page["transactions"], _ = json.Marshal(rows)
			out, _ := json.Marshal(page)
			return out
		})
	})
	tap := st.TapLink(t, e.bin, "tap-enablebanking")
	out, stderr, code := st.Exec(t, tap, "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("the sync exited %d:\n%s", code, stderr)
	}
	records := st.SingerRecords(t, out)
	txns := records["transactions"]
	for _, m := range misfits {
		kept, _ := st.SingerLeftovers(t, txns, m.field)
		want := served[m.field]
		slices.Sort(kept)
		if len(want) == 0 || !slices.Equal(kept, want) {
			t.Errorf("%s: _leftovers hold %v, the fake sent %v", m.field, kept, want)
		}
		if n := strings.Count(string(stderr), "WARNING stream 'transactions': field \""+m.field+"\""); n != 1 {
			t.Errorf("%d WARNINGs name %s, want 1:\n%s", n, m.field, stderr)
		}
	}
	if !strings.Contains(string(stderr), `field "booking_date", the stream's replication key, is declared string or null in the stream's schema, but in a record it is a number; it stays in place as null`) {
		t.Errorf("no WARNING says booking_date stays in place as null:\n%s", stderr)
	}
	if !strings.Contains(string(stderr), `field "transaction_amount" is declared object or null in the stream's schema, but in a record it is a string; moved`) {
		t.Errorf("no WARNING says what came for transaction_amount:\n%s", stderr)
	}
	for _, stream := range []string{"transactions", "pending_transactions"} {
		recs := records[stream]
		if len(recs) == 0 {
			t.Fatalf("no %s records", stream)
		}
		for _, field := range []string{"remittance_information", "status"} {
			if kept, _ := st.SingerLeftovers(t, recs, field); len(kept) > 0 && (stream != "transactions" || field != "status" || len(kept) != len(served["status"])) {
				t.Errorf("%s: %d records moved %s, which fits, into _leftovers", stream, len(kept), field)
			}
		}
	}
}
