package connect

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

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

// TestEnvLogsPlainLines: what a provider logs during connect reads like
// the command's own lines on stderr (no time, no level=INFO msg="…"), a
// warning marked as one, attributes as key=value (each key once), secrets
// masked.
func TestEnvLogsPlainLines(t *testing.T) {
	var stderr strings.Builder
	s := &Session{Stderr: &stderr, Secrets: &secret.Redactor{}}
	s.Secrets.Add("s3cr3t-value")
	log := s.Env().Log.With("bank", "Nordea")
	log.Info("Enable Banking refused a token signed before the API's clock was known; signing again", "skew", "2s")
	log.Warn("the token s3cr3t-value was refused", "status", 401, "why", "a reason with spaces")
	log.Info("named again", "bank", "Nordea", "n", 1)
	want := "Enable Banking refused a token signed before the API's clock was known; signing again bank=Nordea skew=2s\n" +
		"warning: " + s.Secrets.String("the token s3cr3t-value") + " was refused bank=Nordea status=401 why=\"a reason with spaces\"\n" +
		"named again bank=Nordea n=1\n"
	if got := stderr.String(); got != want || strings.Contains(got, "s3cr3t") {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}
