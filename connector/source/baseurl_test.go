package source

import (
	"strings"
	"testing"
)

func TestParseBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.example.com/":       "https://api.example.com",
		"https://api.example.com/api/v2": "https://api.example.com/api/v2",
		"http://127.0.0.1:8080/api/v2/":  "http://127.0.0.1:8080/api/v2",
		"http://[::1]:9":                 "http://[::1]:9",
		"http://localhost:1":             "http://localhost:1",
	} {
		u, err := ParseBaseURL(raw, "https://api.example.com")
		if err != nil || u.String() != want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", raw, u, err, want)
		}
	}
	for raw, mention := range map[string]string{
		"http://api.example.com":      "loopback",
		"ftp://127.0.0.1":             "scheme",
		"not a url":                   "not a base URL like https://api.example.com",
		"https://user:pw@example.com": "not a base URL",
		"https://u:hunter2@x.com":     "user or password",
		"https://example.com/?q=1":    "not a base URL",
		// A query or fragment may hold a key: the URL is quoted without it.
		"https://example.com/api?token=s3cret": `"https://example.com/api" with a query`,
		"https://example.com/api#s3cret":       `"https://example.com/api" with a fragment`,
	} {
		_, err := ParseBaseURL(raw, "https://api.example.com")
		if err == nil || !strings.Contains(err.Error(), mention) || !strings.HasPrefix(err.Error(), "Config validation error: config.base_url") ||
			strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), ":pw@") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseBaseURL(%q) = %v; want a Config validation error: config.base_url error mentioning %q", raw, err, mention)
		}
	}
}
