package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookReceiverThatCannotListenLeavesNoSegment: every start of the
// receiver begins a new segment, and it used to open the log before it
// listened, so a receiver restarted in a loop on a port in use
// (Restart=always, a CrashLoopBackOff) added an empty segment to the log
// at every failed start.
func TestWebhookReceiverThatCannotListenLeavesNoSegment(t *testing.T) {
	bin := st.Build(t, "source-pluggy")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "listen")
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "log")
	for range 3 {
		_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", taken.Addr().String(), "--log", dir, "--header", "X-Hook-Token="+hookSecret)
		if code != 1 || !strings.Contains(string(stderr), "address already in use") {
			t.Fatalf("serve on a port in use: exit %d\n%s", code, stderr)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl")); len(segs) != 0 {
		t.Fatalf("failed starts left %d segments in the log: %v", len(segs), segs)
	}
}
