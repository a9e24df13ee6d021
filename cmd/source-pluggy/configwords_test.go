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
		`config.lookback_days: 400 is more than 365, the most it takes: give a whole number from 0 to 365`,
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

// TestLongValuesAreNotRepeated: a value longer than 60 characters that is
// not a date or a UUID is refused without being repeated, as every other
// message of the spec's rules refuses one (configuration.md says none does);
// the format and pattern messages quoted it whole.
func TestLongValuesAreNotRepeated(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 1})
	long := strings.Repeat("pasted-", 10)
	cfg := e.config(map[string]any{"start_date": long, "item_ids": []string{long + "id"}})
	want := []string{
		`config.start_date: is not a date: write it as YYYY-MM-DD, e.g. 2025-01-31`,
		`config.item_ids.0: is not a UUID: give the id as 32 hex digits in groups of 8-4-4-4-12`,
	}
	cs, _ := st.CheckRun(t, e.bin, cfg)
	r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", e.catalog(false, "items"))
	errs := r.ErrorTraces()
	if cs.Status != protocol.StatusFailed || r.Code != 1 || len(errs) != 1 {
		t.Fatalf("check %s %q; read exit %d, errors %+v: want both to fail", cs.Status, cs.Message, r.Code, errs)
	}
	for what, msg := range map[string]string{"check": cs.Message, "read": errs[0].Message} {
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: the message lacks %q:\n%s", what, w, msg)
			}
		}
		if strings.Contains(msg, "pasted-pasted") {
			t.Errorf("%s: the message repeats the long value:\n%s", what, msg)
		}
	}
}

// TestKeysDifferingInCaseAreIgnored: a key that is a setting's name in
// other letters ("Lookback_Days", "MAX_CONCURRENCY") is no setting, and
// check says it is ignored; it was not: encoding/json matches fields
// without regard to case, so the connector read it as the setting without
// the spec's checks (a string failed as "cannot unmarshal string into Go
// struct field", a max_concurrency of 1000 passed).
func TestKeysDifferingInCaseAreIgnored(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 1})
	cfg := e.config(map[string]any{"Lookback_Days": "abc", "MAX_CONCURRENCY": 1000})
	cs, _ := st.CheckRun(t, e.bin, cfg)
	if cs.Status != protocol.StatusSucceeded {
		t.Fatalf("check: %s %q, want SUCCEEDED: the keys are no settings", cs.Status, cs.Message)
	}
	for _, w := range []string{
		`config field "Lookback_Days" is not a setting of this connector and is ignored (did you mean lookback_days?)`,
		`config field "MAX_CONCURRENCY" is not a setting of this connector and is ignored (did you mean max_concurrency?)`,
	} {
		if !strings.Contains(cs.Message, w) {
			t.Errorf("check's message lacks %q:\n%s", w, cs.Message)
		}
	}
	r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", e.catalog(false, "items"))
	st.ValidateProtocol(t, r)
	if r.Code != 0 || !r.Warned(`config field "Lookback_Days" is not a setting`) {
		t.Fatalf("read: exit %d, errors %+v; want a success that warns of the key", r.Code, r.ErrorTraces())
	}
}

// TestCatalogKeyBesideTheTombstonesIsRefused: transactions' tombstones
// carry only the stream's key (id), its cursor and _ab_cdc_deleted_at, so a
// destination deduplicating on a catalog's other primary_key never deletes
// the row: refused before any record is read, as the Singer mode refuses
// such a key. Without deduplication the destination does not key rows,
// and a WARN says the key is not the stream's.
func TestCatalogKeyBesideTheTombstonesIsRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 3})
	path := e.catalog(true, "transactions")
	other := func(mode string) string {
		return st.EditCatalog(t, path, func(cat *protocol.ConfiguredCatalog) {
			cat.Streams[0].PrimaryKey = [][]string{{"description"}}
			cat.Streams[0].DestinationSyncMode = mode
		})
	}
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", other("append_dedup"))
	st.ValidateProtocol(t, r)
	errs := r.ErrorTraces()
	if r.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError ||
		!strings.Contains(errs[0].Message, `catalog.streams[0].primary_key [["description"]] cannot be stream "transactions"'s key with destination_sync_mode append_dedup: the stream has tombstones`) ||
		!strings.Contains(errs[0].Message, `set it to [["id"]]`) {
		t.Fatalf("exit %d, errors %+v; want one config_error naming the key and the fix", r.Code, errs)
	}
	if n := len(r.OfType(protocol.TypeRecord)); n > 0 {
		t.Errorf("%d records read before the refusal", n)
	}
	r = e.read(other("append"))
	if !r.Warned(`catalog.streams[0].primary_key [["description"]] is not stream "transactions"'s key, [["id"]]`) {
		t.Errorf("no WARN that the key is not the stream's:\n%s", r.Stdout)
	}
}
