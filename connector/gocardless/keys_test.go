package gocardless

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
)

func rowsOf(t *testing.T, raws ...string) []txRow {
	t.Helper()
	body := `{"transactions":{"booked":[` + strings.Join(raws, ",") + `]}}`
	rows, _, err := decodeTransactions([]byte(body))
	if err == nil {
		err = checkRows(t.Context(), accountRef{ID: "a"}, "booked", rows)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestBookedKeys(t *testing.T) {
	rows := rowsOf(t,
		`{"transactionId":"T1","internalTransactionId":"i1"}`,
		`{"transactionId":"T2","internalTransactionId":" "}`,   // blank internal id: the bank's
		`{"transactionId":" T3 "}`,                             // trimmed
		`{"transactionId":" ","internalTransactionId":" i4 "}`, // trimmed
		`{"transactionId":"NotProvided"}`,
		`{"transactionId":"R"}`, // repeated: not usable
		`{"transactionId":"R"}`,
		`{"transactionAmount":{"amount":"-1.00","currency":"EUR"}}`, // no id at all
	)
	got := bookedKeys(rows, false, "")
	want := []string{"i1", "T2", "T3", "i4", rowkey.Content(rows[4].raw), rowkey.Content(rows[5].raw), rowkey.Content(rows[6].raw) + "#2", rowkey.Content(rows[7].raw)} // twins: #2
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: key %q, want %q", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(got[7], "sha256:") || len(got[7]) != len("sha256:")+64 {
		t.Errorf("content key %q", got[7])
	}
	if !idsRepeat(rows) {
		t.Error("idsRepeat missed R")
	}
	// An account remembered as repeating never falls back on the bank's ids.
	got = bookedKeys(rows, true, "")
	if got[0] != "i1" || got[1] != rowkey.Content(rows[1].raw) {
		t.Errorf("keys of a repeating account %v", got[:2])
	}
}

// TestBookedKeysLegacyWindow: an account migrated from the
// transactionId-first rule keeps that rule for the rows dated on or before
// the migration's booked_through, and uses internal ids after.
func TestBookedKeysLegacyWindow(t *testing.T) {
	rows := rowsOf(t,
		`{"transactionId":"T1","internalTransactionId":"i1","bookingDate":"2025-01-10"}`,
		`{"transactionId":"T2","internalTransactionId":"i2","bookingDate":"2025-01-11"}`,
		`{"transactionId":"T3","internalTransactionId":"i3","valueDate":"2025-01-09"}`,
	)
	got := bookedKeys(rows, false, "2025-01-10")
	if want := []string{"T1", "i2", "T3"}; !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	// A repeating account was keyed internal-first before too.
	if got := bookedKeys(rows, true, "2025-01-10"); got[0] != "i1" {
		t.Errorf("repeating account key %q", got[0])
	}
}

func TestContentKeyIgnoresLayoutNotContent(t *testing.T) {
	a := rowkey.Content(json.RawMessage(`{"b":"x","a":{"amount":"1.10","currency":"EUR"}}`))
	b := rowkey.Content(json.RawMessage(`{ "a" : {"currency":"EUR", "amount":"1.10"}, "b":"x" }`))
	c := rowkey.Content(json.RawMessage(`{"b":"x","a":{"amount":"1.1","currency":"EUR"}}`))
	if a != b {
		t.Error("the same row spaced and ordered differently got another key")
	}
	if a == c {
		t.Error(`"1.10" and "1.1" got the same key`)
	}
}

func TestPendingKeysDisambiguateTwins(t *testing.T) {
	rows := rowsOf(t, `{"creditorName":"Café"}`, `{"creditorName":"Café"}`, `{"creditorName":"Bar"}`)
	keys := pendingKeys(rows)
	if keys[1] != keys[0]+"#2" || keys[2] == keys[0] {
		t.Fatalf("keys %v", keys)
	}
}

func TestRowDate(t *testing.T) {
	for raw, want := range map[string]string{
		`{"bookingDate":"2025-01-02","valueDate":"2025-01-01"}`: "2025-01-02",
		`{"valueDate":"2025-01-01"}`:                            "2025-01-01",
		`{"bookingDate":"2025-01-02T10:00:00Z"}`:                "2025-01-02",
		`{}`:                                                    "",
	} {
		var k txKeys
		_ = json.Unmarshal([]byte(raw), &k)
		if got := k.date(); got != want {
			t.Errorf("%s: date %q, want %q", raw, got, want)
		}
	}
}
