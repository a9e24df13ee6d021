package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectWriteWithAPipedConfig: a config given as a pipe (security.md's
// `--config <(sops -d config.enc.json)`) cannot be rewritten: connect
// --write exits 1 before any API call saying so, and to run without
// --write, instead of telling the user to make /dev/fd writable.
func TestConnectWriteWithAPipedConfig(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	raw, err := os.ReadFile(e.configFile())
	st.Must(t, err, "config")
	r, w, err := os.Pipe()
	st.Must(t, err, "pipe")
	_, err = w.Write(raw)
	st.Must(t, err, "writing the pipe")
	w.Close()
	defer r.Close()
	before := e.fake.Stats()
	cmd := exec.Command(e.bin, "connect", "--no-open", "--timeout", "5s", "--config", "/dev/fd/3", "--write", "--institution", "LHV_LHVBEE22")
	cmd.ExtraFiles = []*os.File{r}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.Len() != 0 {
		t.Fatalf("connect --write --config /dev/fd/3: %v, stdout %q, want exit 1 and nothing\nstderr: %s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"--write", "/dev/fd/3", "is not a file", "run without --write"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "make the folder writable") {
		t.Errorf("stderr tells the user to make /dev/fd writable:\n%s", stderr.String())
	}
	if n := e.fake.Stats().Count(fake.RouteCreateAgreement) - before.Count(fake.RouteCreateAgreement); n != 0 {
		t.Errorf("connect created %d agreements", n)
	}
}
