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
