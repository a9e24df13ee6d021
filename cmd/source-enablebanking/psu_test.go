package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestBankRequiringMorePSUHeadersThanAttendedSends: a bank's
// required_psu_headers (GET /aspsps) are the headers it wants when the
// account holder is present, and Enable Banking takes "either all required
// PSU headers or none", else 422 PSU_HEADER_NOT_PROVIDED (the reference,
// §5). Attended mode sends two (Psu-Ip-Address, Psu-User-Agent); a bank
// requiring more refuses every attended call. The read names the account,
// the missing header and the fix that works, attended false (no PSU header
// at all), not "run attended" (it was); the other bank's accounts are
// read; and a read that follows the advice reads the refused accounts.
func TestBankRequiringMorePSUHeadersThanAttendedSends(t *testing.T) {
	// Session 0 is at Nordea, session 1 at Swedbank.
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 10, RequiredPSUHeaders: map[string][]string{
		"Nordea": {"psu-ip-address", "psu-user-agent", "psu-accept", "psu-referer"},
	}})
	sessions := e.fake.SessionIDs()
	nordea, swedbank := e.fake.AccountUIDs(sessions[0]), e.fake.AccountUIDs(sessions[1])
	cat := e.catalog(true, "transactions")

	r := e.run(cat, map[string]any{"attended": true, "psu_ip_address": "192.0.2.7", "psu_user_agent": "Mozilla/5.0"})
	if r.Code != 1 {
		t.Fatalf("attended read: exit %d, want 1; errors %q", r.Code, errorTexts(r))
	}
	read := byUID(t, r.Records()["transactions"])
	for _, uid := range swedbank {
		if len(read[uid]) == 0 {
			t.Errorf("account %s of the bank requiring no PSU header was not read", uid)
		}
	}
	for _, uid := range nordea {
		if len(read[uid]) != 0 {
			t.Errorf("account %s of the bank refusing the headers has records", uid)
		}
		found := false
		for _, tr := range r.ErrorTraces() {
			found = found || tr.FailureType == protocol.ConfigError && contains(tr.Message,
				e.fake.IdentificationHash(uid), "PSU_HEADER_NOT_PROVIDED", "psuAccept", "Psu-Ip-Address and Psu-User-Agent", "config.attended false")
		}
		if !found {
			t.Errorf("no config error for account %s naming the missing header and the fix (attended false); errors %q", uid, errorTexts(r))
		}
	}
	for _, tr := range r.ErrorTraces() {
		if strings.Contains(tr.Message, "config.attended true") {
			t.Errorf("an attended run is told to run attended: %q", tr.Message)
		}
	}

	// The advice: no PSU header at all is what the bank takes.
	r = e.read(cat)
	read = byUID(t, r.Records()["transactions"])
	for _, uid := range nordea {
		if len(read[uid]) == 0 {
			t.Errorf("account %s was not read unattended, as the advice said it would be", uid)
		}
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestBankRefusingUnattendedReadsSaysToReadAttended: some banks answer
// every unattended call with a blanket 400 ASPSP_ERROR (ynabber met it at
// Sparebanken Vest and Bulder; the reference, §5), which reads like a
// passing failure. An unattended read fails that bank's accounts with the
// bank's answer and, beside "run again later", the fix that works when it
// keeps coming (attended, with the holder there); the other bank is read;
// and an attended read, following the advice, reads the refused accounts.
func TestBankRefusingUnattendedReadsSaysToReadAttended(t *testing.T) {
	// Session 0 is at Nordea, session 1 at Swedbank.
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 10, UnattendedASPSPError: []string{"Swedbank"}})
	sessions := e.fake.SessionIDs()
	nordea, swedbank := e.fake.AccountUIDs(sessions[0]), e.fake.AccountUIDs(sessions[1])
	cat := e.catalog(true, "transactions")

	r := e.run(cat, nil)
	if r.Code != 1 {
		t.Fatalf("unattended read: exit %d, want 1; errors %q", r.Code, errorTexts(r))
	}
	read := byUID(t, r.Records()["transactions"])
	for _, uid := range nordea {
		if len(read[uid]) == 0 {
			t.Errorf("account %s of the bank taking unattended reads was not read", uid)
		}
	}
	for _, uid := range swedbank {
		found := false
		for _, tr := range r.ErrorTraces() {
			found = found || tr.FailureType == protocol.TransientError && contains(tr.Message,
				e.fake.IdentificationHash(uid), "ASPSP_ERROR", "run again later", "config.attended true")
		}
		if !found {
			t.Errorf("no transient error for account %s naming the answer and the attended fix; errors %q", uid, errorTexts(r))
		}
	}

	attended := e.run(cat, map[string]any{"attended": true, "psu_ip_address": "192.0.2.7", "psu_user_agent": "Mozilla/5.0"})
	st.Succeeded(t, attended)
	read = byUID(t, attended.Records()["transactions"])
	for _, uid := range swedbank {
		if len(read[uid]) == 0 {
			t.Errorf("account %s was not read attended, as the advice said it would be", uid)
		}
	}
}
