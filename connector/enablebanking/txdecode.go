package enablebanking

import (
	"bytes"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// This file decodes a page of GET /accounts/{uid}/transactions:
// {"transactions": [...], "continuation_key": "..." or null}.
//
// The rows pass through as served, so all the connector needs is each row's
// byte range and the few fields that key, date, sign and sort it. The
// encoding/json decode this replaced parsed every page three times: once
// into a map to see that "transactions" is there, once into the envelope,
// copying every row into a RawMessage of its own, and once per row for its
// fields. jsonrow's Scanner, the one the Pluggy pages, the GoCardless
// answers and the sinks use, validates the page once and picks the fields
// out on the way; the rows are slices of the page.
//
// Keys are matched unescaped but exactly ("booking_date", not
// "Booking_Date", which encoding/json's case-folding matched): Enable
// Banking's keys are snake_case, and a folded match would be an accident.

// txPage is one decoded page.
type txPage struct {
	rows []txRow
	// next is the continuation key; nil when the page has none (absent or
	// null).
	next *string
}

// decodeTxPage decodes a page of an account's transactions. A body that is
// not the JSON of such a page is an error, which the HTTP client retries as
// it would a truncated one. A row that is not a transaction object (not an
// object, or a field of the wrong type) is kept, with its problem, for the
// caller: a row that is not an object fails the account (that is the
// bank's answer, and asking again would not change it); a field of another
// type is a value no schema expected, and the row is kept as sent (see
// txRow.misfit).
func decodeTxPage(b []byte) (txPage, error) {
	var p txPage
	var s jsonrow.Scanner
	s.Reset(b)
	if s.Peek() != '{' {
		if s.AtEnd() {
			return p, errors.New("empty answer")
		}
		return p, s.Syntax("want the page's object")
	}
	found := false
	err := s.Object(func(key []byte) error {
		switch string(key) {
		case "transactions":
			found = true
			switch s.Peek() {
			case 'n':
				p.rows = nil // as encoding/json: a later null wins
				return s.Literal("null")
			case '[':
			default:
				return errors.New(`"transactions" is not an array`)
			}
			p.rows = p.rows[:0]
			return s.Array(func() error {
				r, err := decodeTxRow(&s)
				p.rows = append(p.rows, r)
				return err
			})
		case "continuation_key":
			wrong := false
			if err := s.OptionalTextField(&p.next, &wrong); err != nil || !wrong {
				return err
			}
			return errors.New(`"continuation_key" is not a string`)
		}
		return s.Skip()
	})
	if err != nil {
		return txPage{}, err
	}
	if !s.AtEnd() {
		return txPage{}, s.Syntax("more after the page's object")
	}
	if !found {
		return txPage{}, errors.New(`no "transactions" in the answer`)
	}
	return p, nil
}

// decodeTxRow consumes one row of a page: its bytes, as a slice of the
// page, and its fields. When a key repeats, the last one wins, as with encoding/json.
func decodeTxRow(s *jsonrow.Scanner) (txRow, error) {
	var r txRow
	f := &r.f
	// field notes a field of another type than the one read: problem, as
	// encoding/json's type error, and misfit, its name.
	field := func(name string, read func(*bool) error) error {
		wrong := false
		err := read(&wrong)
		if wrong {
			r.problem, r.misfit = true, name
		}
		return err
	}
	text := func(name string, v *string) error {
		return field(name, func(w *bool) error { return s.TextField(v, w) })
	}
	raw, notObject, err := s.Row(func(key []byte) error {
		switch string(key) {
		case "entry_reference":
			v, err := s.Raw()
			f.EntryReference = bytes.Clone(v) // only raw is a slice of the page (see jsonrow.Detach)
			return err
		case "transaction_amount":
			return field("transaction_amount", func(w *bool) error { return amount(s, f, w) })
		case "credit_debit_indicator":
			return text("credit_debit_indicator", &f.Indicator)
		case "status":
			return text("status", &f.Status)
		case "booking_date":
			return text("booking_date", &f.BookingDate)
		case "value_date":
			return text("value_date", &f.ValueDate)
		case "transaction_date":
			return text("transaction_date", &f.TransactionDate)
		}
		return s.Skip()
	})
	if notObject {
		r = txRow{problem: true, notObject: true}
	}
	r.raw = raw
	return r, err
}

// amount reads transaction_amount: an object with amount (any JSON value,
// kept as it is) and currency (a string), or null, which leaves both as
// they were; any other value sets *problem.
func amount(s *jsonrow.Scanner, f *txFields, problem *bool) error {
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '{':
	default:
		*problem = true
		return s.Skip()
	}
	return s.Object(func(key []byte) error {
		switch string(key) {
		case "amount":
			v, err := s.Raw()
			f.Amount.Amount = bytes.Clone(v)
			return err
		case "currency":
			return s.TextField(&f.Amount.Currency, problem)
		}
		return s.Skip()
	})
}
