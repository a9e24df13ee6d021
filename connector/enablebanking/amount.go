package enablebanking

import (
	"encoding/json"
	"regexp"
	"strings"
)

// decimal is what an amount must look like to be signed: digits, an
// optional fraction, an optional sign a bank may send despite the spec.
var decimal = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// signedAmount derives the signed decimal string of a transaction:
// transaction_amount.amount is unsigned and the direction is only in
// credit_debit_indicator (DBIT is money out). It is exact text work, never
// a float, and it never replaces the original fields. ok is false (the
// record gets null) when the amount is not a decimal or the indicator is
// neither CRDT nor DBIT: such a row is still emitted as sent.
func signedAmount(amount json.RawMessage, indicator string) (string, bool) {
	s := strings.TrimSpace(string(amount))
	var str string
	if json.Unmarshal(amount, &str) == nil {
		s = strings.TrimSpace(str) // a string, as documented; else a bare number
	}
	if !decimal.MatchString(s) {
		return "", false
	}
	s = strings.TrimPrefix(s, "+")
	neg := strings.HasPrefix(s, "-")
	abs := strings.TrimPrefix(s, "-")
	zero := strings.Trim(abs, "0.") == ""
	switch strings.ToUpper(strings.TrimSpace(indicator)) {
	case "DBIT":
		if neg || zero {
			return s, true // already signed by the bank; or zero, which has no sign
		}
		return "-" + abs, true
	case "CRDT":
		return s, true
	}
	return "", false
}
