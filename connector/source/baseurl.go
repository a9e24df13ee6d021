package source

import (
	"net"
	"net/url"
	"strings"
)

// ParseBaseURL validates config.base_url: https anywhere, plain http only on
// loopback, where a local fake runs, because credentials must never cross a
// network in clear text. A trailing slash is dropped. example is the real
// API's URL, quoted in the message when raw is not a base URL.
func ParseBaseURL(raw, example string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err == nil && u.User != nil {
		// Never quote it: the user:password part is a credential.
		return nil, InvalidConfigf("config.base_url: the URL is not a base URL like %s: it carries a user or password (user:password@host), which is never quoted back", example)
	}
	if err == nil && u.Host != "" && (u.RawQuery != "" || u.Fragment != "" || u.ForceQuery) {
		// Quoted without them: a query (?key=...) may hold a credential.
		what := "a query (?...)"
		if u.RawQuery == "" && !u.ForceQuery {
			what = "a fragment (#...)"
		}
		bare := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
		return nil, InvalidConfigf("config.base_url: %q with %s is not a base URL like %s: remove the %s (it is never quoted back: it may hold a key)", bare.String(), what, example, strings.Fields(what)[1])
	}
	if err != nil || u.Host == "" {
		return nil, InvalidConfigf("config.base_url: %q is not a base URL like %s", urlForMessage(raw), example)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, InvalidConfigf("config.base_url: plain http is only allowed for loopback hosts (127.0.0.1, ::1, localhost); use https://%s", u.Host)
		}
	default:
		return nil, InvalidConfigf("config.base_url: scheme %q is not supported; use https://", u.Scheme)
	}
	return u, nil
}

// urlForMessage is a URL as written, for a message that quotes it, with
// what may hold a key cut: its query or fragment (from the first ? or #)
// to "?…" or "#…" (a proxy's ?api_key=), and a user or password before
// an @ to "xxxxx@", as a connection string's password is shown (a token
// given as the user). A URL that does not parse or has no host is quoted
// as text, not as the URL it fails to be, so the text is cut, not the
// parsed URL.
func urlForMessage(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i+1] + "…"
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	// The last @: a password may hold one.
	if i := strings.LastIndexByte(s[start:], '@'); i >= 0 {
		s = s[:start] + "xxxxx" + s[start+i:]
	}
	return s
}

// IsLoopback reports whether host (a name or an IP, without port) is this
// machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
