package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookReceiverStalledClientDoesNotHoldSIGTERM: a client that sends
// its headers and then stalls mid-body (a dead proxy connection, a
// slowloris) is not a delivery Pluggy waits for (it wants a 2xx within
// 5 s). It used to hold the body read for 30 s, so a SIGTERM waited the
// whole 20 s shutdown grace and then exited 1 with "context deadline
// exceeded", where the docs promise exit 0. Other requests are served
// meanwhile, and the stalled one is never appended.
func TestWebhookReceiverStalledClientDoesNotHoldSIGTERM(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiver(t, dir)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	st.Must(t, err, "dial")
	defer conn.Close()
	stalled := deletedEvent("stalled-1", uuidOf("s"))
	_, err = fmt.Fprintf(conn, "POST /pluggy HTTP/1.1\r\nHost: hooks.example.com\r\nX-Hook-Token: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		hookSecret, len(stalled), stalled[:10])
	st.Must(t, err, "write the headers and a piece of the body")
	time.Sleep(300 * time.Millisecond)
	if got := r.post(t, deletedEvent("meanwhile-1", uuidOf("m")), authHeader); got != 200 {
		t.Fatalf("a request while another stalls: %d", got)
	}
	start := time.Now()
	code := r.stop(t, syscall.SIGTERM)
	took := time.Since(start)
	if code != 0 || took > 15*time.Second {
		t.Fatalf("SIGTERM with a stalled client: exit %d after %s; want exit 0 well within the 20 s grace\n%s", code, took.Round(time.Second), r.log())
	}
	if got := fmt.Sprint(logEventIDs(t, dir)); got != "[meanwhile-1]" {
		t.Fatalf("log holds %s, want [meanwhile-1]", got)
	}
}
