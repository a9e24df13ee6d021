package main

import (
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookSubcommandUsageLines: each webhook subcommand's --help opens
// with its command line as webhook --help lists it, ID... of delete
// included; they used to say only `source-pluggy webhook delete`, as if
// delete took no ids.
func TestWebhookSubcommandUsageLines(t *testing.T) {
	bin := st.Build(t, "source-pluggy")
	overview, _, code := st.Exec(t, bin, "webhook", "--help")
	if code != 0 {
		t.Fatalf("webhook --help: exit %d", code)
	}
	listed := map[string]string{} // subcommand → its command line, spaces collapsed
	for _, line := range strings.Split(string(overview), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "source-pluggy" && f[1] == "webhook" {
			listed[f[2]] = strings.Join(f, " ")
		}
	}
	for _, sub := range []string{"serve", "register", "list", "delete"} {
		stdout, _, code := st.Exec(t, bin, "webhook", sub, "--help")
		first, _, _ := strings.Cut(string(stdout), "\n")
		if want := "Usage: " + listed[sub]; code != 0 || listed[sub] == "" || first != want {
			t.Errorf("webhook %s --help: exit %d, first line\n  %s\nwant\n  %s", sub, code, first, want)
		}
	}
	if !strings.HasSuffix(listed["delete"], " ID...") {
		t.Errorf("webhook --help lists delete as %q, without its ids", listed["delete"])
	}
	// A usage error shows the same line.
	_, stderr, code := st.Exec(t, bin, "webhook", "delete", "--bogus")
	if code != 2 || !strings.Contains(string(stderr), "Usage: source-pluggy webhook delete --config FILE ID...") {
		t.Errorf("webhook delete --bogus: exit %d\n%s", code, stderr)
	}
}
