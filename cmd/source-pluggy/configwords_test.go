package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConfigMessagesInWords: a config with an empty secret, a number out
// of range and a number in quotes fails check and read with one message
// per field, each naming the field and the fix in words, never in the
// validator's terms (minLength: got 0, want 1; got string, want integer).
func TestConfigMessagesInWords(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 1})
	cfg := e.config(map[string]any{"client_secret": "", "lookback_days": 400, "requests_per_minute": "60"})
	want := []string{
		`config.client_secret: is empty: give your Pluggy application's clientSecret`,
		`config.lookback_days: 400 is more than 365, the most it takes: give a number from 0 to 365`,
		`config.requests_per_minute: "60" is a string; write the number without quotes: 60`,
	}
	jargon := regexp.MustCompile(`got \w+, want|minLength|maximum:`)

	cs, _ := st.CheckRun(t, e.bin, cfg)
	if cs.Status != protocol.StatusFailed {
		t.Fatalf("check: %s %q, want FAILED", cs.Status, cs.Message)
	}
	r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", e.catalog(false, "items"))
	st.ValidateProtocol(t, r)
	errs := r.ErrorTraces()
	if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError {
		t.Fatalf("read: exit %d, errors %+v; want one config_error", r.Code, errs)
	}
	for what, msg := range map[string]string{"check": cs.Message, "read": errs[0].Message} {
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: the message lacks %q:\n%s", what, w, msg)
			}
		}
		if jargon.MatchString(msg) {
			t.Errorf("%s: the message speaks the validator's jargon: %s", what, msg)
		}
	}
}
