package sourcetest

import (
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"
)

// A reserved port refuses connections and cannot be listened on while the
// test runs.
func TestClosedPortStaysClosed(t *testing.T) {
	port := ClosedPort(t)
	if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
		c.Close()
		t.Fatal("a connection to the closed port succeeded")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialling the closed port: %v, want connection refused", err)
	}
	if runtime.GOOS != "linux" {
		return // reserved on Linux only (closedport_other.go)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:"+port); err == nil {
		ln.Close()
		t.Fatal("another listener took the closed port")
	}
}
