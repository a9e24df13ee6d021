package main

import (
	"bufio"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookHugeRequestLineIsNotLoggedWhole: anyone on the internet may
// send the receiver a request line or headers up to Go's default limit
// (1 MB), and every refusal is logged with its path and method: a 900 KB
// path made a 900 KB log line, once a request, which log shippers split
// or drop (Docker's json-file log cuts lines at 16 KB, Loki refuses them
// past 256 KB) and which cost the receiver's disk as much as the sender's
// bandwidth. The receiver takes headers up to 64 KiB (431 past them), and
// logs the first 256 bytes of a path or method, saying how long it was; a
// key in the path is masked before it is cut. So it does an ignored
// event's name and eventId.
func TestWebhookHugeRequestLineIsNotLoggedWhole(t *testing.T) {
	r := startReceiver(t, filepath.Join(t.TempDir(), "log"))
	addr := strings.TrimPrefix(r.url, "http://")
	long := "/pluggy/pRx7Kq2ZtW9mLc4VbN/" + strings.Repeat("ab/", 15000) // 45 KB
	for _, req := range []string{
		"POST " + long + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		"GET " + long + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		strings.Repeat("G", 40000) + " /pluggy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	} {
		if got := rawStatus(t, addr, req); got != http.StatusUnauthorized && got != http.StatusMethodNotAllowed {
			t.Errorf("%.20s…: %d, want 401 or 405", req, got)
		}
	}
	huge := "POST /pluggy HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 200<<10) + "\r\nConnection: close\r\n\r\n"
	if got := rawStatus(t, addr, huge); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a request with 200 KB of headers: %d, want 431", got)
	}
	// An event of a kind the receiver does not act on is acknowledged
	// and logged with its name and eventId, which no check bounds but the
	// body's size: the sender's, authenticated, but a line of 1 MB all
	// the same.
	ignored := `{"event":"` + strings.Repeat("e", 20000) + `","eventId":"` + strings.Repeat("i", 20000) + `"}`
	if got := r.post(t, ignored, authHeader); got != http.StatusOK {
		t.Errorf("an event of another kind: %d, want 200", got)
	}
	time.Sleep(100 * time.Millisecond) // the refusals' lines
	for _, line := range strings.Split(r.log(), "\n") {
		if len(line) > 2048 {
			t.Errorf("a log line of %d bytes: %.300s…", len(line), line)
		}
		if strings.Contains(line, "pRx7Kq2ZtW9mLc4VbN") {
			t.Errorf("a key in the path was logged: %.300s", line)
		}
	}
	if !strings.Contains(r.log(), "path_bytes") {
		t.Errorf("no log line says how long the path cut short was:\n%.2000s", r.log())
	}
}

// rawStatus sends req as written on a connection of its own and returns
// the status of the answer.
func rawStatus(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	st.Must(t, err, "dial")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = c.Write([]byte(req)) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	st.Must(t, err, "reading the answer")
	resp.Body.Close()
	return resp.StatusCode
}
