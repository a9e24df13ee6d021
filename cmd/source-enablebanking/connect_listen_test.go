package main

import (
	"net"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectListenInUseKeepsTheRegisteredPort: the --listen port is the
// one registered with the application (Enable Banking refuses any other
// redirect URL). When something else holds it, connect exits 2 before any
// API call saying to free it or register another, where it said to leave
// --listen out for a free port, which no registration names: the next run
// was refused with REDIRECT_URI_NOT_ALLOWED.
func TestConnectListenInUseKeepsTheRegisteredPort(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "hold a port")
	defer ln.Close()
	busy := ln.Addr().String()
	stdout, stderr, code := st.Exec(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--listen", busy)
	msg := string(stderr)
	if code != 2 || len(stdout) != 0 || !strings.Contains(msg, "--listen "+busy+": the port is in use") ||
		!strings.Contains(msg, "register http://127.0.0.1:OTHER/enablebanking/callback") || strings.Contains(msg, "leave --listen out") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 saying to free the port or register another, not to leave --listen out", code, stdout, msg)
	}
	if n := e.fake.Stats().Count(fake.RouteAuth); n != 0 {
		t.Errorf("a busy --listen made %d POST /auth calls, want none", n)
	}
}
