package enablebanking

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// referencePage is the decode decodeTxPage replaced, encoding/json three
// times over, kept as the fuzz test's reference: ok is false where it
// refused the body (an error the HTTP client retries).
func referencePage(b []byte) (p txPage, ok bool) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return p, false
	}
	if _, ok := probe["transactions"]; !ok {
		return p, false
	}
	var env struct {
		Transactions []json.RawMessage `json:"transactions"`
		Continuation *string           `json:"continuation_key"`
	}
	if json.Unmarshal(b, &env) != nil {
		return p, false
	}
	for _, raw := range env.Transactions {
		r := txRow{raw: raw}
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &r.f) != nil {
			r = txRow{raw: raw, problem: true}
		}
		p.rows = append(p.rows, r)
	}
	p.next = env.Continuation
	return p, true
}

// decodedNames are the names decodeTxPage looks for (see sourcetest.CaseVariant).
var decodedNames = []string{"transactions", "continuation_key", "entry_reference", "transaction_amount", "amount", "currency",
	"credit_debit_indicator", "status", "booking_date", "value_date", "transaction_date"}

// FuzzDecodeTxPage checks decodeTxPage against the encoding/json decode it
// replaced: the same bodies refused, the same rows with the same bytes,
// problems and fields, the same continuation key.
func FuzzDecodeTxPage(f *testing.F) {
	for _, s := range []string{
		`{"transactions":[{"entry_reference":"E1","transaction_amount":{"amount":"1.50","currency":"EUR"},"credit_debit_indicator":"DBIT","status":"BOOK","booking_date":"2025-01-02","value_date":"2025-01-01","transaction_date":"2025-01-01","remittance_information":["x"]}],"continuation_key":"k"}`,
		`{"transactions":[{"entry_reference":null,"transaction_amount":null,"status":null},7,"s",[],{"status":5},{"transaction_amount":"x"},{"transaction_amount":{"amount":12.5,"currency":3}}],"continuation_key":null}`,
		`{"transactions":[{"booking_date":"a","booking_date":null,"entry_reference":"\u00e9\ud800"}]}`,
		`{"transactions":[{"x":1}],"transactions":[{"y":2}],"continuation_key":"a","continuation_key":"b"}`,
		`{"transactions":[{"x":1}],"transactions":null}`,
		`{"transactions":null}`, `{"transactions":{}}`, `{"continuation_key":"k"}`, `{"transactions":[],"continuation_key":5}`,
		`{"transactions":[]} x`, `null`, `[]`, ``, " {\"transactions\" :\t[ ] } ",
		`{"Transactions":[{"Status":"PDNG"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeTxPage(b)
		if errors.Is(err, jsonrow.ErrTooDeep) || sourcetest.CaseVariant(b, decodedNames...) {
			return // encoding/json nests 10 times deeper; and matches keys case-blind
		}
		want, ok := referencePage(b)
		if !ok {
			if err == nil {
				t.Fatalf("accepted %q, which encoding/json refuses or which is no page", b)
			}
			return
		}
		if err != nil {
			t.Fatalf("refused %q: %v", b, err)
		}
		if (got.next == nil) != (want.next == nil) || got.next != nil && *got.next != *want.next {
			t.Fatalf("%q: continuation %v, want %v", b, got.next, want.next)
		}
		if len(got.rows) != len(want.rows) {
			t.Fatalf("%q: %d rows, want %d", b, len(got.rows), len(want.rows))
		}
		for i := range got.rows {
			g, w := got.rows[i], want.rows[i]
			if !bytes.Equal(g.raw, w.raw) || g.problem != w.problem {
				t.Fatalf("%q: row %d: raw %q problem %v, want raw %q problem %v", b, i, g.raw, g.problem, w.raw, w.problem)
			}
			if g.problem {
				continue
			}
			gf, wf := g.f, w.f
			if !bytes.Equal(gf.EntryReference, wf.EntryReference) || !bytes.Equal(gf.Amount.Amount, wf.Amount.Amount) {
				t.Fatalf("%q: row %d: entry_reference %q amount %q, want %q %q", b, i, gf.EntryReference, gf.Amount.Amount, wf.EntryReference, wf.Amount.Amount)
			}
			if gf.Amount.Currency != wf.Amount.Currency || gf.Indicator != wf.Indicator || gf.Status != wf.Status ||
				gf.BookingDate != wf.BookingDate || gf.ValueDate != wf.ValueDate || gf.TransactionDate != wf.TransactionDate {
				t.Fatalf("%q: row %d: fields %+v, want %+v", b, i, gf, wf)
			}
		}
	})
}

// TestDecodeTxPageRows pins what the fuzz test compares against a
// reference: the rows are slices of the page, in order, with their fields,
// which are not (jsonrow.Detach copies a row's raw alone out of the page).
func TestDecodeTxPageRows(t *testing.T) {
	body := []byte(`{"continuation_key": "next", "transactions": [` +
		`{"entry_reference": "E\u0031", "transaction_amount": {"currency": "EUR", "amount": "12.50"}, "status": "PDNG", "booking_date": null}, 42]}`)
	p, err := decodeTxPage(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.rows) != 2 || p.next == nil || *p.next != "next" {
		t.Fatalf("%d rows, continuation %v", len(p.rows), p.next)
	}
	r := p.rows[0]
	if r.problem || string(r.f.EntryReference) != `"E\u0031"` || string(r.f.Amount.Amount) != `"12.50"` || r.f.Amount.Currency != "EUR" || r.f.Status != "PDNG" {
		t.Errorf("first row: %+v", r)
	}
	if at := bytes.Index(body, []byte(`{"entry_reference"`)); &r.raw[0] != &body[at] || !bytes.HasSuffix(r.raw, []byte(`null}`)) {
		t.Errorf("first row's raw is not its slice of the page: %q", r.raw)
	}
	if sourcetest.Within(r.f.EntryReference, body) || sourcetest.Within(r.f.Amount.Amount, body) {
		t.Errorf("first row's entry_reference or amount is a slice of the page: only raw may keep it")
	}
	if !p.rows[1].problem || string(p.rows[1].raw) != "42" {
		t.Errorf("second row: %+v", p.rows[1])
	}
	for _, bad := range []string{`{}`, `{"transactions":{}}`, `{"transactions":[{]}`, `{"transactions":[]}{}`, `{"transactions":[],"continuation_key":1}`} {
		if _, err := decodeTxPage([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// BenchmarkDecodeTxPage decodes a page of 500 rows as the fake serves
// them, against the encoding/json decode it replaced:
//
//	go test -run=^$ -bench=DecodeTxPage -benchmem ./connector/enablebanking/
func BenchmarkDecodeTxPage(b *testing.B) {
	f := fake.New(fake.Options{Sessions: 1, TransactionsPerAccount: 500})
	rows := f.Booked(f.AccountUIDs(f.SessionIDs()[0])[0])
	body, err := json.Marshal(map[string]any{"transactions": rows, "continuation_key": "k"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jsonrow", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if p, err := decodeTxPage(body); err != nil || len(p.rows) != len(rows) {
				b.Fatal(len(p.rows), err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := referencePage(body); !ok || len(p.rows) != len(rows) {
				b.Fatal(len(p.rows))
			}
		}
	})
}
