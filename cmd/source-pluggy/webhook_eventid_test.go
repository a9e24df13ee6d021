package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestWebhookEventIDPluggyNeverSendsIsRefused: Pluggy's eventIds are UUIDs.
// One holding a control character (a NUL, which a PostgreSQL text column
// refuses) or of more than 256 bytes (past PostgreSQL's limit on a unique
// key's index entry, about 2.7 KB, for such ids) is no eventId of its,
// and is answered 422, not appended, by either log. A PostgreSQL log
// answered both 503, as if the database were failing: its ERROR said it
// could not append, each of Pluggy's nine deliveries was refused the same
// way, and the other events of the burst's transaction had theirs
// inserted again one by one; a directory log appended them.
func TestWebhookEventIDPluggyNeverSendsIsRefused(t *testing.T) {
	t.Run("directory", func(t *testing.T) { testEventIDRefused(t, filepath.Join(t.TempDir(), "log")) })
	t.Run("postgres", func(t *testing.T) { testEventIDRefused(t, pgtest.DB(t)) })
}

func testEventIDRefused(t *testing.T, location string) {
	r := startReceiver(t, location)
	item := `"itemId":"a5c763cb-0952-457b-9936-630f79c5b016"`
	for _, c := range []struct {
		eventID string // as written in the JSON
		want    int
	}{
		{`nul\u0000id`, http.StatusUnprocessableEntity},
		{`line\nbreak`, http.StatusUnprocessableEntity},
		{strings.Repeat("y", 300000), http.StatusUnprocessableEntity},
		{strings.Repeat("z", 257), http.StatusUnprocessableEntity},
		{strings.Repeat("w", 256), http.StatusOK},
		{"d876fd7c-e9bd-4c4c-bd46-cc96c62aac29", http.StatusOK},
	} {
		body := fmt.Sprintf(`{"event":"item/updated","eventId":"%s",%s}`, c.eventID, item)
		if got := r.post(t, body, authHeader); got != c.want {
			t.Errorf("eventId %.30q (%d bytes): %d, want %d", c.eventID, len(c.eventID), got, c.want)
		}
	}
	resp, err := http.Get(r.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if strings.Contains(r.log(), `"level":"ERROR"`) {
		t.Errorf("an ERROR logged for an event refused:\n%.3000s", r.log())
	}
}
