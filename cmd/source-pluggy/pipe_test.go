package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestInputsFromProcessSubstitution: a config decrypted by a secrets tool
// on the fly (`--config <(sops -d config.enc.json)`) never touches the
// disk. The shell hands the binary /dev/fd/63, a pipe, which was refused
// as "not a regular file"; check and read now take it, and the catalog and
// state the same way. A named pipe nobody writes to is refused at once
// (connector/source's TestInputFromAPipe).
func TestInputsFromProcessSubstitution(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for process substitution")
	}
	e := newEnv(t, fake.Options{})
	cfg, cat := e.config(nil), e.catalog(true, "accounts")
	run := func(script string, args ...string) *st.Result {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bash, append([]string{"-c", script, e.bin}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		r := st.Parse(t, stdout.Bytes())
		r.Stderr, r.Code = stderr.Bytes(), cmd.ProcessState.ExitCode()
		st.ValidateProtocol(t, r)
		e.noSecrets(r)
		return r
	}

	r := run(`exec "$0" check --config <(cat "$1")`, cfg)
	if s := r.OfType(protocol.TypeConnectionStatus); r.Code != 0 || len(s) != 1 || s[0].ConnectionStatus.Status != "SUCCEEDED" {
		t.Fatalf("check --config <(...): exit %d, %+v\n%s", r.Code, s, r.Stderr)
	}

	first := run(`exec "$0" read --config <(cat "$1") --catalog <(cat "$2")`, cfg, cat)
	if first.Code != 0 || len(first.Records()["accounts"]) == 0 {
		t.Fatalf("read --config <(...) --catalog <(...): exit %d, %d accounts\n%s", first.Code, len(first.Records()["accounts"]), first.Stderr)
	}
	second := run(`exec "$0" read --config <(cat "$1") --catalog <(cat "$2") --state <(cat "$3")`, cfg, cat, first.StateFile(t))
	if second.Code != 0 || strings.Contains(string(second.Stderr), "not a regular file") {
		t.Fatalf("read --state <(...): exit %d\n%s", second.Code, second.Stderr)
	}
}
