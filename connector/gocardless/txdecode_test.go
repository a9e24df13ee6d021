package gocardless

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// referenceAnswer is the decode decodeTransactions replaced, encoding/json
// through structs, kept as the fuzz test's reference: ok is false where it
// refused the body (an error the HTTP client retries).
func referenceAnswer(b []byte) (booked, pending []txRow, ok bool) {
	var env struct {
		Transactions *struct {
			Booked  []json.RawMessage `json:"booked"`
			Pending []json.RawMessage `json:"pending"`
		} `json:"transactions"`
	}
	if json.Unmarshal(b, &env) != nil || env.Transactions == nil {
		return nil, nil, false
	}
	rows := func(raws []json.RawMessage) []txRow {
		var out []txRow
		for _, raw := range raws {
			r := txRow{raw: raw}
			if raw[0] != '{' || json.Unmarshal(raw, &r.keys) != nil {
				r = txRow{raw: raw, problem: true}
			}
			out = append(out, r)
		}
		return out
	}
	return rows(env.Transactions.Booked), rows(env.Transactions.Pending), true
}

func sameRows(t *testing.T, b []byte, what string, got, want []txRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%q: %d %s rows, want %d", b, len(got), what, len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !bytes.Equal(g.raw, w.raw) || g.problem != w.problem {
			t.Fatalf("%q: %s row %d: raw %q problem %v, want raw %q problem %v", b, what, i, g.raw, g.problem, w.raw, w.problem)
		}
		if g.problem {
			continue
		}
		if !sameText(g.keys.TransactionID, w.keys.TransactionID) || !sameText(g.keys.InternalTransactionID, w.keys.InternalTransactionID) ||
			g.keys.BookingDate != w.keys.BookingDate || g.keys.ValueDate != w.keys.ValueDate {
			t.Fatalf("%q: %s row %d: keys %+v, want %+v", b, what, i, g.keys, w.keys)
		}
	}
}

func sameText(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// decodedNames are the names decodeTransactions looks for (see
// sourcetest.CaseVariant).
var decodedNames = []string{"transactions", "booked", "pending", "transactionId", "internalTransactionId", "bookingDate", "valueDate"}

// FuzzDecodeTransactions checks decodeTransactions against the
// encoding/json decode it replaced: the same bodies refused, the same rows
// with the same bytes, problems and key fields.
func FuzzDecodeTransactions(f *testing.F) {
	for _, s := range []string{
		`{"transactions":{"booked":[{"transactionId":"T1","internalTransactionId":"i1","bookingDate":"2025-01-02","valueDate":"2025-01-01","transactionAmount":{"amount":"-1.50","currency":"EUR"}}],"pending":[{"valueDate":"2025-01-03"}]},"last_updated":"x"}`,
		`{"transactions":{"booked":[{"transactionId":null,"bookingDate":null},7,"s",[],{"bookingDate":5}],"pending":null}}`,
		`{"transactions":{"booked":[{"bookingDate":"a","bookingDate":null,"transactionId":"\u00e9\ud800"}]}}`,
		`{"transactions":{"booked":[{"x":1}]},"transactions":{"pending":[{"y":2}]}}`,
		`{"transactions":{"booked":[{"x":1}]},"transactions":null}`,
		`{"transactions":null,"transactions":{"booked":[]}}`,
		`{"transactions":[]}`, `{"transactions":{"booked":{}}}`, `{"transactions":{}} x`, `null`, `[]`, ``, " {\"transactions\" :\t{ } } ",
		`{"Transactions":{"Booked":[{"TransactionId":"t"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		booked, pending, err := decodeTransactions(b)
		if errors.Is(err, jsonrow.ErrTooDeep) || sourcetest.CaseVariant(b, decodedNames...) {
			return // encoding/json nests 10 times deeper; and matches keys case-blind
		}
		wantBooked, wantPending, ok := referenceAnswer(b)
		if !ok {
			if err == nil {
				t.Fatalf("accepted %q, which encoding/json refuses or which is no answer", b)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused %q: %v", b, err)
		}
		sameRows(t, b, "booked", booked, wantBooked)
		sameRows(t, b, "pending", pending, wantPending)
	})
}

// TestDecodeTransactionsRows pins what the fuzz test compares against a
// reference: the rows are slices of the body, in order, with their keys.
func TestDecodeTransactionsRows(t *testing.T) {
	body := []byte(`{"transactions": {"pending": [{"valueDate": "2025-01-03"}], "booked": [` +
		`{"transactionId": "T\u0031", "internalTransactionId": null, "bookingDate": "2025-01-02"}, 42]}}`)
	booked, pending, err := decodeTransactions(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(booked) != 2 || len(pending) != 1 {
		t.Fatalf("%d booked, %d pending", len(booked), len(pending))
	}
	r := booked[0]
	if r.problem || r.keys.TransactionID == nil || *r.keys.TransactionID != "T1" || r.keys.InternalTransactionID != nil || r.keys.BookingDate != "2025-01-02" {
		t.Errorf("first booked row: %+v", r)
	}
	if !bytes.HasPrefix(r.raw, []byte(`{"transactionId"`)) || !bytes.HasSuffix(r.raw, []byte(`"2025-01-02"}`)) || &r.raw[0] != &body[bytes.Index(body, []byte(`{"transactionId"`))] {
		t.Errorf("first booked row's raw is not its slice of the body: %q", r.raw)
	}
	if !booked[1].problem || string(booked[1].raw) != "42" {
		t.Errorf("second booked row: %+v", booked[1])
	}
	if err := checkRows(t.Context(), accountRef{ID: "a"}, "booked", booked); err == nil || !strings.Contains(err.Error(), "booked row 1 of the transactions answer is not a transaction object") {
		t.Errorf("checkRows: %v", err)
	}
	if pending[0].keys.ValueDate != "2025-01-03" {
		t.Errorf("pending row: %+v", pending[0])
	}
	for _, bad := range []string{`{"transactions":null}`, `{}`, `{"transactions":{"booked":[{]}}`, `{"transactions":{}}{}`} {
		if _, _, err := decodeTransactions([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// fakeAnswer is an account's transactions answer as the fake serves it,
// rows transactions long.
func fakeAnswer(tb testing.TB, rows int) []byte {
	tb.Helper()
	f := fake.New(fake.Options{Requisitions: 1, TransactionsPerAccount: rows})
	a := f.AccountIDs(f.RequisitionIDs()[0])[0]
	body, err := json.Marshal(map[string]any{"transactions": map[string]any{"booked": f.Booked(a), "pending": f.Pending(a)}})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkDecodeTransactions decodes an answer of 10,000 rows, against
// the encoding/json decode it replaced:
//
//	go test -run=^$ -bench=DecodeTransactions -benchmem ./connector/gocardless/
func BenchmarkDecodeTransactions(b *testing.B) {
	body := fakeAnswer(b, 10000)
	b.Run("jsonrow", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if booked, _, err := decodeTransactions(body); err != nil || len(booked) < 10000 {
				b.Fatal(len(booked), err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if booked, _, ok := referenceAnswer(body); !ok || len(booked) < 10000 {
				b.Fatal(len(booked))
			}
		}
	})
}
