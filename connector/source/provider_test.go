package source

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// TestUnreachableOnlyWithoutAnAnswer: a check that got no answer says the
// API cannot be reached at base_url; one the API answered with a transient
// status (a 429, a 503), even under a provider's own message, says what
// the API answered and keeps its failure type.
func TestUnreachableOnlyWithoutAnAnswer(t *testing.T) {
	base, _ := url.Parse("https://api.example.test")
	noAnswer := &httpclient.TransportError{Route: "POST /auth", Err: errors.New("connection refused")}
	if err := Unreachable(noAnswer, "the API", base); FailureTypeOf(err) != protocol.ConfigError || !strings.Contains(err.Error(), "cannot reach the API at base_url") {
		t.Errorf("no answer: %v (%s)", err, FailureTypeOf(err))
	}
	limited := &Error{Type: protocol.TransientError, Msg: "the API allows 100 tokens an hour; run again later", Quoted: true,
		Err: &httpclient.StatusError{Route: "POST /token", Status: 429}}
	if err := Unreachable(limited, "the API", base); FailureTypeOf(err) != protocol.TransientError || strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("an answered 429: %v (%s)", err, FailureTypeOf(err))
	}
}
