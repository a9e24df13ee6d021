package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookHeaderValueIsTrimmedAsHTTPDoes: an HTTP header value has no
// leading or trailing white space (servers drop it), so a value taken with
// its line break (a Kubernetes Secret made from a file, an env file with a
// trailing space) could never match: the receiver answered 401 to every
// event, and register gave Pluggy the value with the line break. Both now
// use the value trimmed; a line break inside it, which no header can
// carry, is a usage error naming the flag and not the value.
func TestWebhookHeaderValueIsTrimmedAsHTTPDoes(t *testing.T) {
	t.Setenv("PLUGGY_TEST_HOOK_TOKEN", hookSecret+"\n")
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiverArgs(t, dir, "--header-env", "X-Hook-Token=PLUGGY_TEST_HOOK_TOKEN")
	if got := r.post(t, deletedEvent("trim-1", uuidOf("t1")), authHeader); got != 200 {
		t.Fatalf("the header as Pluggy sends it, the variable ending in a line break: %d, want 200\n%s", got, r.log())
	}

	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	stdout, stderr, code := st.Exec(t, e.bin, "webhook", "register", "--config", e.config(nil), "--url", r.url, "--header-env", "X-Hook-Token=PLUGGY_TEST_HOOK_TOKEN")
	if code != 0 {
		t.Fatalf("register: exit %d\n%s%s", code, stdout, stderr)
	}
	id := strings.Fields(string(stdout))[1]
	if got := e.fake.WebhookHeaders(id)["X-Hook-Token"]; got != hookSecret {
		t.Fatalf("register gave Pluggy the header %q, want %q", got, hookSecret)
	}

	t.Setenv("PLUGGY_TEST_HOOK_TOKEN", "s3cr3t-part-one\ns3cr3t-part-two")
	for _, args := range [][]string{
		{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header-env", "X-Hook-Token=PLUGGY_TEST_HOOK_TOKEN"},
		{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-Hook-Token=s3cr3t-part-one\ns3cr3t-part-two"},
		{"webhook", "register", "--config", e.config(nil), "--url", r.url, "--header-env", "X-Hook-Token=PLUGGY_TEST_HOOK_TOKEN"},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, args...)
		if code != 2 || len(stdout) != 0 || !strings.Contains(string(stderr), "X-Hook-Token") || !strings.Contains(string(stderr), "line break") || strings.Contains(string(stderr), "s3cr3t-part") {
			t.Errorf("%v with a line break inside the value: exit %d\nstdout: %s\nstderr: %s", args[:2], code, stdout, stderr)
		}
	}
}
