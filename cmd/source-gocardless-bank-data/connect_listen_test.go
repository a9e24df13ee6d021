package main

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectBadFlagsCostNoAPICall: a bad --listen (not loopback,
// malformed, or a port in use) and an unreadable --state are usage or
// config errors the command can find on its own, so it finds them before
// any call to GoCardless. It once created the end-user agreement (and got
// a token) first: each such run left an orphan agreement at GoCardless
// behind an exit 2 that says the flags were bad.
func TestConnectBadFlagsCostNoAPICall(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cfg := e.configFile()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "listen")
	defer busy.Close()
	old := e.fake.RequisitionIDs()[0]
	missing := filepath.Join(t.TempDir(), "missing.json")
	cases := []st.ExitCase{
		{Name: "not loopback, search", Args: []string{"--country", "EE", "--search", "lhv", "--listen", "0.0.0.0:9999"}, Code: 2, Stderr: `--listen "0.0.0.0:9999" is not a loopback address`},
		{Name: "not loopback, institution", Args: []string{"--institution", "LHV_LHVBEE22", "--listen", "192.0.2.1:0"}, Code: 2, Stderr: "is not a loopback address"},
		{Name: "port in use", Args: []string{"--institution", "LHV_LHVBEE22", "--listen", busy.Addr().String()}, Code: 2, Stderr: "--listen " + busy.Addr().String() + ": the port is in use"},
		{Name: "port in use, reconnect", Args: []string{"--reconnect", old, "--listen", busy.Addr().String()}, Code: 2, Stderr: "the port is in use"},
		{Name: "malformed", Args: []string{"--country", "EE", "--search", "lhv", "--listen", "127.0.0.1"}, Code: 2, Stderr: "is not HOST:PORT"},
		// --search looks within --country: without one (allowed beside
		// --reconnect) it searched every country and said "in ;".
		{Name: "search without country, reconnect", Args: []string{"--reconnect", old, "--search", "in"}, Code: 2, Stderr: "--search needs --country"},
		{Name: "state unreadable", Args: []string{"--reconnect", old, "--state", t.TempDir() + "/missing.json"}, Code: 1, Stderr: "cannot read --state"},
		{Name: "state missing, write", Args: []string{"--reconnect", old, "--state", missing, "--write"}, Code: 1, Stderr: "cannot read --state " + missing},
		// The state must move with a --write: the next read would read
		// every account's whole history again under its new id.
		{Name: "reconnect --write without --state", Args: []string{"--reconnect", old, "--write", "--timeout", "5s"}, Code: 2, Stderr: "--reconnect --write needs --state FILE"},
		{Name: "no-state beside state", Args: []string{"--reconnect", old, "--state", "state.json", "--no-state"}, Code: 2, Stderr: "--no-state is only for --reconnect without --state"},
		{Name: "no-state without reconnect", Args: []string{"--institution", "LHV_LHVBEE22", "--no-state"}, Code: 2, Stderr: "--no-state is only for --reconnect"},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			e.fake.ResetStats()
			_, stderr, code := st.Exec(t, e.bin, append([]string{"connect", "--no-open", "--config", cfg}, c.Args...)...)
			if code != c.Code || !strings.Contains(string(stderr), c.Stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, c.Code, c.Stderr)
			}
			e.noSecretsIn("stderr", string(stderr))
			stats := e.fake.Stats()
			for _, route := range []string{fake.RouteCreateAgreement, fake.RouteCreateRequisition} {
				if n := stats.Count(route); n != 0 {
					t.Errorf("%s answered %d time(s): a flag error must create nothing at GoCardless", route, n)
				}
			}
			if len(stats.Requests) != 0 || stats.TokenNew != 0 {
				t.Errorf("the fake saw %v (tokens issued: %d); the flags are checked before any API call", stats.Requests, stats.TokenNew)
			}
		})
	}
	// A --state naming no file (a typo) leaves no lock file beside it: it
	// once created missing.json.lock before finding missing.json absent.
	if _, err := os.Stat(missing + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.lock exists after connect refused the missing --state (%v); nothing should be left behind", missing, err)
	}
}
