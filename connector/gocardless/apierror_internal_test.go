package gocardless

import "testing"

// TestDecodeAPIErrorShapes: the error bodies GoCardless sends, each read
// into the message the user sees. A bad query parameter's error comes under
// the parameter's name (the reference's future date_from); it was read as
// a bare "HTTP 400".
func TestDecodeAPIErrorShapes(t *testing.T) {
	for _, c := range []struct {
		status     int
		body, want string
	}{
		{401, `{"summary":"Invalid token","detail":"Token is invalid or expired","status_code":401}`, "HTTP 401: Invalid token (Token is invalid or expired)"},
		{429, `{"summary":"Rate limit exceeded","detail":"Try again later","status_code":429,"type":"RateLimitError"}`, "HTTP 429 RateLimitError: Rate limit exceeded (Try again later)"},
		{400, `{"date_from":{"summary":"Date can't be in future","detail":"date_from can't be in the future"},"status_code":400}`, "HTTP 400: date_from: Date can't be in future (date_from can't be in the future)"},
		{400, `{"date_to":{"summary":"Invalid date_to","detail":"Invalid date_to"},"date_from":{"summary":"Invalid date_from","detail":"Invalid date_from"},"status_code":400}`, "HTTP 400: date_from: Invalid date_from; date_to: Invalid date_to"},
		{400, `{"status_code":400}`, "HTTP 400"},
		{502, `not json`, "HTTP 502"},
	} {
		if got := decodeAPIError([]byte(c.body)).describe(c.status); got != c.want {
			t.Errorf("%s: %q, want %q", c.body, got, c.want)
		}
	}
}
