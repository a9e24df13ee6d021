package httpclient

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// A secret an error body echoes right where the message is cut must not
// survive as a prefix the redactor no longer recognises.
func TestStatusErrorRedactsBeforeTruncating(t *testing.T) {
	key := "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTk5OTk5OTl9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	s := &secret.Redactor{}
	s.Add(key)
	for pad := 440; pad < 520; pad += 7 {
		body := `{"message":"` + strings.Repeat("x", pad) + key + `"}`
		e := &StatusError{Route: "GET /x", Status: 400, Body: []byte(body), secrets: s}
		msg := e.Error()
		for _, part := range []string{key, key[:30], key[len(key)-30:], "eyJleHAiOjE3OTk5"} {
			if strings.Contains(msg, part) {
				t.Fatalf("pad %d: message keeps %q: %s", pad, part, msg)
			}
		}
	}
}
