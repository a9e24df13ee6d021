package connect

import "testing"

// TestMaskAccountID: an account identifier in connect's result keeps only
// its last 4 characters, for both GoCardless and Enable Banking.
func TestMaskAccountID(t *testing.T) {
	for in, want := range map[string]string{
		"DE89370400440532013000": "******************3000", // GoCardless's case, as before
		"FI6324051636931287":     "**************1287",
		"FI63 2405 1636 9312 87": "**************1287", // a formatted IBAN hides as many
		"12345678901234":         "**********1234",     // a BBAN
		"412345******6789":       "************6789",   // a PAN the bank masked already
		"ÅÄÖ12345":               "****2345",           // counted in characters, not bytes
		"1234":                   "1234",
		"":                       "",
	} {
		if got := MaskAccountID(in); got != want {
			t.Errorf("MaskAccountID(%q) = %q, want %q", in, got, want)
		}
	}
}
