package httpclient

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// refuseRedirects is every request's CheckRedirect: the client follows no
// redirect at all, and the 3xx comes back to once, which turns it into a
// *RedirectError.
//
// Why not follow same-origin ones: Go's own policy copies every custom header
// (X-API-KEY, and Authorization within a domain) to the new URL and re-posts
// a 307/308's body (POST /auth's clientSecret, POST /token/new/'s secret_key)
// to it, so a hostile DNS entry, proxy or API front end could collect the
// credentials. Following only same-origin redirects would need the
// credentials again to be of any use, and neither Pluggy nor GoCardless
// redirects an API call: a redirect is a moved API (a new base_url to
// configure) or an attack, and in both cases the user must hear of it
// rather than get another host's page counted as a complete sync.
func refuseRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RedirectError is a 3xx answer with a Location: the client never follows
// it, and says where it pointed.
type RedirectError struct {
	Route  string
	Status int
	// From is the origin the request went to (scheme://host:port).
	From string
	// To is the redirect's target, without its query.
	To      string
	secrets *secret.Redactor
}

func (e *RedirectError) Error() string {
	where := "to another origin than " + e.From + "; nothing was sent there"
	if sameOrigin(e.From, e.To) {
		where = "on the same origin"
	}
	return e.secrets.String(fmt.Sprintf("%s: the API answered HTTP %d with a redirect to %s (%s). The connector follows no redirect, so no credential or request body leaves for another URL; if the API has moved, set config.base_url to its new address, otherwise something between the connector and the API (DNS, a proxy) is redirecting it",
		e.Route, e.Status, e.To, where))
}

// Class is permanent: a retry would get the same redirect, and the user or
// the API operator must look at it.
func (e *RedirectError) Class() Class { return Permanent }

// redirectError builds the error for resp, a 3xx to req with a Location.
func redirectError(route string, req *http.Request, resp *http.Response, secrets *secret.Redactor) *RedirectError {
	to := resp.Header.Get("Location")
	if u, err := req.URL.Parse(to); err == nil {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		to = u.String()
	}
	// Masked before it is cut: a secret across the cut would be shown up
	// to it.
	to = secrets.String(to)
	if len(to) > 200 {
		to = to[:200] + "…"
	}
	return &RedirectError{Route: route, Status: resp.StatusCode, From: origin(req.URL), To: strings.ToValidUTF8(to, "\uFFFD"), secrets: secrets}
}

// origin is scheme://host:port with the scheme's default port spelled out,
// so https://h and https://h:443 compare equal.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

func sameOrigin(from, to string) bool {
	u, err := url.Parse(to)
	return err == nil && u.Host != "" && origin(u) == from
}
