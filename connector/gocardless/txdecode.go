package gocardless

import (
	"errors"
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// This file decodes GET /accounts/{id}/transactions/, the one call that
// answers an account's whole history (up to two years of it, unpaged):
// {"transactions": {"booked": [...], "pending": [...]}, ...}.
//
// The rows pass through as served, so all the connector needs is each row's
// byte range and the few fields that key it and date it. encoding/json took
// 79% of a read's CPU on that (4.2 of 5.3 s for 348,764 rows): it validates
// the whole body before decoding it, copied every row into a RawMessage of
// its own, and decoded each row again for its keys. jsonrow's Scanner, the
// one the Pluggy pages and the sinks use, validates the body once and
// picks the fields out on the way; the rows are slices of the body.
//
// Keys are matched unescaped but exactly ("bookingDate", not "BookingDate",
// which encoding/json's case-folding matched): GoCardless's keys are
// camelCase, and a folded match would be an accident.

// decodeTransactions decodes an account's transactions answer. A body that
// is not the JSON of such an answer is an error, which the HTTP client
// retries as it would a truncated one. A row that is not a transaction
// object (not an object, or a key field of the wrong type) is kept, with
// its problem, for the caller: a row that is not an object fails the
// account (that is the bank's answer, and asking again would not change
// it); a key field of another type is a value no schema expected, and the
// row is kept as sent (see txRow.misfit).
func decodeTransactions(b []byte) (booked, pending []txRow, err error) {
	var s jsonrow.Scanner
	s.Reset(b)
	if s.Peek() != '{' {
		if s.AtEnd() {
			return nil, nil, errors.New("empty answer")
		}
		return nil, nil, s.Syntax("want the answer's object")
	}
	found := false
	err = s.Object(func(key []byte) error {
		if string(key) != "transactions" {
			return s.Skip()
		}
		if s.Peek() == 'n' {
			found, booked, pending = false, nil, nil // as encoding/json: a later null wins
			return s.Literal("null")
		}
		if s.Peek() != '{' {
			return errors.New(`"transactions" is not an object`)
		}
		found = true
		return s.Object(func(key []byte) error {
			var rows *[]txRow
			switch string(key) {
			case "booked":
				rows = &booked
			case "pending":
				rows = &pending
			default:
				return s.Skip()
			}
			switch s.Peek() {
			case 'n':
				*rows = nil
				return s.Literal("null")
			case '[':
			default:
				return fmt.Errorf(`"%s" is not an array`, key)
			}
			*rows = (*rows)[:0]
			return s.Array(func() error {
				r, err := decodeTxRow(&s)
				*rows = append(*rows, r)
				return err
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	if !s.AtEnd() {
		return nil, nil, s.Syntax("more after the answer's object")
	}
	if !found {
		return nil, nil, errors.New(`no "transactions" object in the answer`)
	}
	return booked, pending, nil
}

// decodeTxRow consumes one row of a booked or pending list: its bytes, as
// a slice of the body, and its key fields. When a key repeats, the last one wins,
// as with encoding/json.
func decodeTxRow(s *jsonrow.Scanner) (txRow, error) {
	var r txRow
	// field notes a key field of another type than a string: problem, as
	// encoding/json's type error, and misfit, its name.
	field := func(name string, read func(*bool) error) error {
		wrong := false
		err := read(&wrong)
		if wrong {
			r.problem, r.misfit = true, name
		}
		return err
	}
	raw, notObject, err := s.Row(func(key []byte) error {
		switch string(key) {
		case "transactionId":
			return field("transactionId", func(w *bool) error { return s.OptionalTextField(&r.keys.TransactionID, w) })
		case "internalTransactionId":
			return field("internalTransactionId", func(w *bool) error { return s.OptionalTextField(&r.keys.InternalTransactionID, w) })
		case "bookingDate":
			return field("bookingDate", func(w *bool) error { return s.TextField(&r.keys.BookingDate, w) })
		case "valueDate":
			return field("valueDate", func(w *bool) error { return s.TextField(&r.keys.ValueDate, w) })
		}
		return s.Skip()
	})
	if notObject {
		r = txRow{problem: true, notObject: true}
	}
	r.raw = raw
	return r, err
}
