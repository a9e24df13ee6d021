package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectOverSSHSaysToForwardThePort: run over SSH, connect's server
// listens on the server's loopback, and the bank (reachable from anywhere)
// sends the user's browser back to 127.0.0.1 of the user's own computer.
// Without a forward that redirect fails only after the consent, while
// connect waits out --timeout and the bank's single-use code expires. So
// in an SSH session connect prints, with the URL, the ssh command that
// forwards its port from the user's computer; outside one it does not.
func TestConnectOverSSHSaysToForwardThePort(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(nil)
	back := regexp.MustCompile(`back to http://127\.0\.0\.1:(\d+)/enablebanking/callback`)
	t.Setenv("SSH_TTY", "")
	t.Setenv("USER", "ana")
	for _, ssh := range []string{"10.0.0.5 51234 10.0.0.9 22", ""} {
		t.Setenv("SSH_CONNECTION", ssh)
		_, stderr, code := st.Exec(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--timeout", "1s")
		m := back.FindStringSubmatch(string(stderr))
		if code != 1 || m == nil {
			t.Fatalf("SSH_CONNECTION=%q: exit %d, stderr:\n%s\nwant the timeout's exit 1 after the bank's URL", ssh, code, stderr)
		}
		forward := "ssh -N -L " + m[1] + ":127.0.0.1:" + m[1] + " ana@10.0.0.9"
		if got := strings.Contains(string(stderr), forward); got != (ssh != "") {
			t.Errorf("SSH_CONNECTION=%q: stderr says %q: %v, want %v; stderr:\n%s", ssh, forward, got, ssh != "", stderr)
		}
	}
}
