package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookLogRemovedUnderTheReceiver: the log directory removed while
// the receiver runs (a cleanup script, an operator starting afresh). The
// receiver kept appending to the open segment, no longer in any directory,
// and answered 200 to every event, which no reader would ever see: Pluggy
// took them as delivered, and they were lost. Now the first append after
// the removal is answered 503, the receiver starts the log again (the
// directory, its lock, a new segment), and Pluggy's retry is appended
// there; a second receiver on the directory is still refused.
func TestWebhookLogRemovedUnderTheReceiver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiver(t, dir)
	if got := r.post(t, deletedEvent("gone-1", uuidOf("gone-1")), authHeader); got != http.StatusOK {
		t.Fatalf("first event: %d", got)
	}
	st.Must(t, os.RemoveAll(dir), "removing the log directory")
	ev := deletedEvent("after-1", uuidOf("after-1"))
	if got := r.post(t, ev, authHeader); got != http.StatusServiceUnavailable {
		t.Fatalf("the first event after the log was removed: %d, want 503 (it went to a file no reader sees)", got)
	}
	for i, body := range []string{ev, deletedEvent("after-2", uuidOf("after-2"))} {
		if got := r.post(t, body, authHeader); got != http.StatusOK {
			t.Fatalf("event %d after the log was started again: %d, want 200\n%s", i, got, r.log())
		}
	}
	if got := fmt.Sprint(logEventIDs(t, dir)); got != "[after-1 after-2]" {
		t.Fatalf("the log holds %s, want [after-1 after-2]", got)
	}
	resp, err := http.Get(r.url + "/healthz")
	st.Must(t, err, "GET /healthz")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz once the log was started again: %d", resp.StatusCode)
	}
	_, stderr, code := st.Exec(t, st.Build(t, "source-pluggy"), "webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b")
	if code != 1 || !strings.Contains(string(stderr), "in use by another receiver") {
		t.Fatalf("a second receiver on the log started again: exit %d, %s", code, stderr)
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}
