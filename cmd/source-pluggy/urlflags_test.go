package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestURLGivenToAFileFlagIsMasked: a PostgreSQL URL given to a flag that
// takes a file (--state-file, taken for where --postgres keeps the state;
// --state, --catalog, --config), in every mode, is refused as a path that
// does not exist, with its password masked. The refusal quoted the path
// whole, password included ("cannot read --state postgres://u:PASSWORD@…").
func TestURLGivenToAFileFlagIsMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	cfg, cat := e.config(nil), e.catalog(true, "accounts")
	const pw = "Pg5ecretW0rdCANARY"
	url := "postgres://u:" + pw + "@127.0.0.1:5432/bank"
	for _, args := range [][]string{
		{"read", "--config", cfg, "--catalog", cat, "--state-file", url},
		{"read", "--config", cfg, "--catalog", cat, "--state", url},
		{"read", "--config", cfg, "--catalog", url},
		{"check", "--config", url},
		{"singer", "--config", cfg, "--state", url},
		{"singer", "--config", cfg, "--catalog", url},
		{"singer", "--config", url, "--discover"},
		{"connect", "--config", url},
		{"webhook", "list", "--config", url},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, args...)
		out := string(stdout) + string(stderr)
		// check reports a failure as a FAILED status and exits 0.
		failed := code != 0 || args[0] == "check" && strings.Contains(out, `"FAILED"`)
		if !failed || !strings.Contains(out, "postgres://u:") {
			t.Errorf("%v: exit %d, want a failure naming the URL:\n%s", args, code, out)
		}
		if strings.Contains(out, pw) {
			t.Errorf("%v: the output holds the password:\n%s", args, out)
		}
	}
	// --postgres's own password is its sink's to mask, as xxxxx: one that
	// is also a word is not masked in the rest of the messages.
	stdout, stderr, _ := st.Exec(t, e.bin, "read", "--config", cfg, "--catalog", cat, "--postgres", "postgres://postgres:postgres@127.0.0.1:"+st.ClosedPort(t)+"/bank?connect_timeout=5")
	if out := string(stdout) + string(stderr); !strings.Contains(out, "postgres://postgres:xxxxx@127.0.0.1:") || !strings.Contains(out, "in --postgres") || strings.Contains(out, "**********") {
		t.Errorf("a --postgres password that is a word is masked where it is that word:\n%s", out)
	}
}
