package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookLogConnectionStringIsRefused: a PostgreSQL key=value
// connection string ("host=… password=…") is not a URL, so --log took it
// for a directory: the receiver created a folder named after it, the
// password in its name, and kept the events there while the user expected
// them in PostgreSQL (the masked name in its log hid that it was a
// folder). --log and webhook_log now refuse it, asking for the URL form.
func TestWebhookLogConnectionStringIsRefused(t *testing.T) {
	const pw = "hunter2-dsn-password"
	dsn := "host=127.0.0.1 port=5432 user=bob password=" + pw + " dbname=pluggy"
	bin := st.Build(t, "source-pluggy")
	wd := t.TempDir()
	cmd := exec.Command(bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", dsn, "--header", "X-Hook-Token="+hookSecret)
	cmd.Dir = wd
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	st.Must(t, cmd.Start(), "start")
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second): // it started, on a folder
		_ = cmd.Process.Kill()
		err = <-done
	}
	code := cmd.ProcessState.ExitCode()
	if code != 2 || !strings.Contains(stderr.String(), "--log") || !strings.Contains(stderr.String(), "postgres://USER:PASSWORD@HOST:PORT/DATABASE") || strings.Contains(stderr.String(), pw) {
		t.Errorf("serve --log with a key=value connection string: exit %d (%v)\nstderr: %s", code, err, stderr.String())
	}
	if ents, _ := os.ReadDir(wd); len(ents) != 0 {
		t.Errorf("serve created %q in its working directory", ents[0].Name())
	}

	e := newEnv(t, fake.Options{})
	cfg := e.config(map[string]any{"webhook_log": dsn})
	r := st.Run(t, e.bin, "check", "--config", cfg)
	cs := r.OfType(protocol.TypeConnectionStatus)
	if len(cs) != 1 || cs[0].ConnectionStatus.Status != protocol.StatusFailed || !strings.Contains(cs[0].ConnectionStatus.Message, "webhook_log") || !strings.Contains(cs[0].ConnectionStatus.Message, "postgres://USER:PASSWORD@HOST:PORT/DATABASE") {
		t.Errorf("check with webhook_log a key=value connection string: %s%s", r.Stdout, r.Stderr)
	}
	if strings.Contains(string(r.Stdout)+string(r.Stderr), pw) {
		t.Error("check printed the connection string's password")
	}
}

// TestWebhookLogTLSSettingsAreNamed: a webhook_log URL whose TLS settings
// cannot be used (a CA file not where it says, an sslmode misspelt) parses
// as a URL, so the fix is in those settings, as --postgres says of its
// own; it said to percent-encode the URL's password.
func TestWebhookLogTLSSettingsAreNamed(t *testing.T) {
	const pw = "hunter2-tls-password"
	e := newEnv(t, fake.Options{})
	for _, c := range []struct{ query, want string }{
		{"sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert"},
		{"sslmode=verify-everything", "sslmode one of disable, allow, prefer, require, verify-ca, verify-full"},
	} {
		url := "postgres://bob:" + pw + "@127.0.0.1:5432/pluggy?" + c.query
		r := st.Run(t, e.bin, "check", "--config", e.config(map[string]any{"webhook_log": url}))
		cs := r.OfType(protocol.TypeConnectionStatus)
		if len(cs) != 1 || cs[0].ConnectionStatus.Status != protocol.StatusFailed {
			t.Fatalf("check with webhook_log %s: %s%s", c.query, r.Stdout, r.Stderr)
		}
		msg := cs[0].ConnectionStatus.Message
		for _, want := range []string{"webhook_log", "TLS settings cannot be used", c.want} {
			if !strings.Contains(msg, want) {
				t.Errorf("check with webhook_log %s does not say %q: %s", c.query, want, msg)
			}
		}
		if strings.Contains(msg, "percent-encoded") {
			t.Errorf("check with webhook_log %s says to percent-encode a URL that parses: %s", c.query, msg)
		}
		if strings.Contains(string(r.Stdout)+string(r.Stderr), pw) {
			t.Error("check printed the URL's password")
		}
	}
}
