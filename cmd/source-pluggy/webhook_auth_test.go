package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebhookRefusalNamesTheHeader: a 401 is logged with the names of the
// configured headers the request lacked and of those whose value differed,
// never a value. A webhook registered under another header name than the
// receiver's --header and one registered with an old value both used to
// be logged as "a configured header is missing or differs", every event
// refused, with nothing to tell the two fixes apart.
func TestWebhookRefusalNamesTheHeader(t *testing.T) {
	const second = "second-hook-value-9d2c"
	r := startReceiverArgs(t, filepath.Join(t.TempDir(), "log"), "--header", "X-Hook-Token="+hookSecret, "--header", "X-Second="+second)
	for i, c := range []struct {
		header           map[string]string
		missing, differs string
	}{
		{nil, "[X-Hook-Token X-Second]", "[]"},
		{map[string]string{"Authorization": hookSecret, "X-Second": second}, "[X-Hook-Token]", "[]"},
		{map[string]string{"X-Hook-Token": hookSecret + "-old", "X-Second": second}, "[]", "[X-Hook-Token]"},
		{map[string]string{"X-Hook-Token": hookSecret, "X-Second": "old"}, "[]", "[X-Second]"},
	} {
		id := fmt.Sprintf("case-%d", i)
		if got := r.post(t, deletedEvent(id, uuidOf(id)), c.header); got != http.StatusUnauthorized {
			t.Fatalf("case %d: status %d, want 401", i, got)
		}
		var found bool
		for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			found = false
			n := 0
			for _, line := range strings.Split(r.log(), "\n") {
				var l struct {
					Msg              string
					Missing, Differs []string
				}
				if json.Unmarshal([]byte(line), &l) != nil || !strings.HasPrefix(l.Msg, "refused an unauthenticated") {
					continue
				}
				if n++; n == i+1 {
					if got := fmt.Sprint(l.Missing); got != c.missing {
						t.Errorf("case %d: missing %s, want %s", i, got, c.missing)
					}
					if got := fmt.Sprint(l.Differs); got != c.differs {
						t.Errorf("case %d: differs %s, want %s", i, got, c.differs)
					}
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("case %d: the 401 was not logged:\n%s", i, r.log())
		}
	}
	if strings.Contains(r.log(), hookSecret) || strings.Contains(r.log(), second) {
		t.Fatalf("the receiver's log shows a header value:\n%s", r.log())
	}
}
