package fake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAdminRestoreUpdatedAt: POST /__fake/mutate?kind=restore serves
// deleted rows again with updatedAt now (Restore), or with
// updated_at=keep as they were before the deletion (RestoreUnchanged),
// the variant a user running the fake by hand could not reach over
// HTTP; any other updated_at is a 400 naming it.
func TestAdminRestoreUpdatedAt(t *testing.T) {
	h := newHarness(t, Options{})
	admin := newAdminServer(t, h.s)
	mutate := func(query string) (int, []string, string) {
		t.Helper()
		resp, err := http.Post(admin+"/__fake/mutate?"+query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out struct{ IDs []string }
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out.IDs, string(b)
	}
	before := h.allRows()
	code, deleted, body := mutate("kind=delete&n=3")
	if code != http.StatusOK || len(deleted) != 3 {
		t.Fatalf("delete: %d %s", code, body)
	}
	h.clock.Advance(time.Hour)
	const later = "2026-05-29T21:59:39.793Z"

	if code, _, body := mutate("kind=restore&ids=" + deleted[0] + "&updated_at=yesterday"); code != http.StatusBadRequest || !strings.Contains(body, "updated_at must be now") {
		t.Errorf("updated_at=yesterday: %d %s, want 400 naming updated_at", code, body)
	}
	cases := []struct{ query, id, updatedAt string }{
		{"&updated_at=keep", deleted[0], before[deleted[0]].UpdatedAt},
		{"", deleted[1], later},
		{"&updated_at=now", deleted[2], later},
	}
	for _, c := range cases {
		code, got, body := mutate("kind=restore&ids=" + c.id + c.query)
		if code != http.StatusOK || len(got) != 1 || got[0] != c.id {
			t.Errorf("restore%s: %d %s, want the id restored", c.query, code, body)
		}
	}
	after := h.allRows()
	for _, c := range cases {
		r, ok := after[c.id]
		if !ok {
			t.Errorf("%s is not served again", c.id)
			continue
		}
		if r.UpdatedAt != c.updatedAt {
			t.Errorf("%s restored (%q) with updatedAt %s, want %s (before the deletion: %s)", c.id, c.query, r.UpdatedAt, c.updatedAt, before[c.id].UpdatedAt)
		}
		if r.CreatedAt != before[c.id].CreatedAt || r.Amount != before[c.id].Amount || r.Description != before[c.id].Description {
			t.Errorf("%s restored as %+v, was %+v", c.id, r, before[c.id])
		}
	}
	if before[deleted[0]].UpdatedAt == later {
		t.Fatalf("the deleted row's updatedAt was already %s: the test cannot tell keep from now", later)
	}
}
