package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// consent gives consent to every account at the fake bank's page link,
// as its Approve button does, following the redirect to connect's
// callback (whose page waits for the run's outcome).
func consent(link string) {
	resp, err := http.PostForm(link, url.Values{"account": {"0", "1"}, "action": {"approve"}})
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestConnectReconnectInterruptedWhileMatching: Ctrl-C while connect
// --reconnect --write reads the new accounts' details (a card is matched
// by its masked PAN and currency, which only the details give) stops the
// run with exit 1, naming the linked requisition, and writes neither the
// config nor the state. The details cut short used to read as absent: the
// card stayed unmatched, the old requisition was replaced without moving
// its state, and the run exited 0.
func TestConnectReconnectInterruptedWhileMatching(t *testing.T) {
	// Each answer takes long enough for the signal to land between the
	// two accounts' details calls.
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 5, Latency: 500 * time.Millisecond})
	p := st.Start(t, e.bin, "connect", "--no-open", "--config", e.configFile(), "--institution", "LHV_LHVBEE22")
	go consent(p.WaitLine(st.OpenURL)[1])
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("first link exited %d: %s", code, p.Stderr())
	}
	first := parseResult(t, p)
	e.cfg["requisition_ids"] = []string{first.RequisitionID}
	state := e.read(e.catalog(true, "accounts")).StateFile(t)
	e.fake.ExpireRequisition(first.RequisitionID)
	cfg := e.configFile()
	origCfg, origState := e.mustReadFile(cfg), e.mustReadFile(state)
	e.fake.ResetStats()

	cmd := exec.Command(e.bin, "connect", "--no-open", "--config", cfg, "--reconnect", first.RequisitionID, "--state", state, "--write")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	st.Must(t, err, "stderr pipe")
	st.Must(t, cmd.Start(), "start")
	var stderr strings.Builder
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if m := st.OpenURL.FindStringSubmatch(sc.Text()); m != nil {
			go consent(m[1])
			go func() { // Ctrl-C once the first new account's details are read
				for e.fake.Stats().Count(fake.RouteDetails) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGINT)
			}()
		}
	}
	err = cmd.Wait()
	msg := stderr.String()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.Len() != 0 || !strings.Contains(msg, "stopped by a signal (Ctrl-C or SIGTERM)") ||
		!strings.Contains(msg, "is linked, but nothing was written") {
		t.Errorf("Ctrl-C while matching: %v, stdout %q, stderr:\n%s\nwant exit 1 saying nothing was written", err, stdout.String(), msg)
	}
	if string(e.mustReadFile(cfg)) != string(origCfg) {
		t.Error("the config changed")
	}
	if string(e.mustReadFile(state)) != string(origState) {
		t.Error("the state changed")
	}
}

func (e *env) mustReadFile(path string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(path)
	st.Must(e.t, err, "read "+path)
	return b
}
