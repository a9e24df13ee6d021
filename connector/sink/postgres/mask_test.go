package postgres

import (
	"context"
	"strings"
	"testing"
)

// TestUnparseableURLShowsNoPieceOfThePassword: a connection string the
// parser refuses is quoted back in the error, and the parser quotes the
// input from where it stopped, which can be inside the password
// ("missing key/value separator … in URI query parameter: \"Part3@host\"").
// The password was masked whole, so its tail was printed in clear. No
// piece of it (three bytes or more between the characters a parser stops
// at) may appear in the error, nor in the URL as a message shows it.
func TestUnparseableURLShowsNoPieceOfThePassword(t *testing.T) {
	for _, c := range []struct{ raw, password string }{
		{"postgres://loader:TopSecret/Part2?Part3Leak@127.0.0.1:5432/bank", "TopSecret/Part2?Part3Leak"},
		{"postgres://loader:Top?Secret=Leak3d&More@127.0.0.1:5432/bank", "Top?Secret=Leak3d&More"},
		{"postgres://loader:Top#Frag/Ment?Leak@127.0.0.1:x/bank", "Top#Frag/Ment?Leak"},
		{"postgres://u@127.0.0.1/db?password=se cr3tTail&sslmode=disable", "se cr3tTail"},
		{"postgres://u:Pg5ecret[Tail@127.0.0.1/db", "Pg5ecret[Tail"},
		{"host=127.0.0.1 password='unclosed Secr3tTail dbname=bank", "unclosed Secr3tTail dbname=bank"},
		{"host=127.0.0.1 password=Pl41nSecret dbname", "Pl41nSecret"},
		// libpq and pgx read a backslash-escaped space as part of the
		// value: Tail4ever is the password's, and was printed.
		{`host=127.0.0.1 password=Secr3t\ Tail4ever sslmode=bogus`, "Secr3t Tail4ever"},
	} {
		_, err := Open(context.Background(), Options{URL: c.raw, Connector: "source-pluggy"}, nil)
		if err == nil {
			t.Errorf("%s: opened", c.raw)
			continue
		}
		shown := MaskURL(c.raw)
		for _, piece := range strings.FieldsFunc(c.password, func(r rune) bool { return strings.ContainsRune("/?#@&=;:,'[ \\", r) }) {
			if len(piece) < 3 {
				continue
			}
			if strings.Contains(err.Error(), piece) {
				t.Errorf("%s: the error shows %q of the password: %v", c.raw, piece, err)
			}
			if strings.Contains(shown, piece) {
				t.Errorf("%s: the URL is shown as %s, with %q of the password", c.raw, shown, piece)
			}
		}
	}
}

// TestMaskLeavesWordsHoldingAShortPassword: a short password ("a") is
// masked where it stands alone, as the redactor masks it, not inside every
// word of the message: the refusal of --postgres postgres:/u:a@host/db read
// "cxxxxxnnot pxxxxxrse … fxxxxxiled".
func TestMaskLeavesWordsHoldingAShortPassword(t *testing.T) {
	for _, c := range []struct{ raw, msg, want string }{
		{"postgres:/u:a@127.0.0.1:1/db", "cannot parse `postgres:/u:a@127.0.0.1:1/db`: failed", "cannot parse `postgres:/u:xxxxx@127.0.0.1:1/db`: failed"},
		{"postgres://u:pass@h/db", "password authentication failed: pass", "password authentication failed: xxxxx"},
		{"postgres://u:Pg5ecret@h/db", "user=u password=Pg5ecretX", "user=u password=xxxxxX"},
	} {
		if got := Mask(c.raw, c.msg); got != c.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", c.raw, c.msg, got, c.want)
		}
	}
}
