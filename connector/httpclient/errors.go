package httpclient

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Class is who or what can fix a failed request. The client only says
// which kind of failure it saw; the runtime maps a Class to the protocol's
// failure types (source.FailureTypeOf), so this package knows no protocol.
type Class int

const (
	// Permanent means the same request would fail the same way (an answer the
	// connector does not expect, a bug); someone must look at it.
	Permanent Class = iota
	// Transient means the same request may well work later (timeouts, 429,
	// most 5xx).
	Transient
	// Auth means the API refused the credentials; the user must fix them.
	Auth
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Auth:
		return "auth"
	}
	return "permanent"
}

// Classified is implemented by every error the client returns about a
// request.
type Classified interface {
	error
	Class() Class
}

// ClassOf returns the class of the first Classified error in err's chain,
// and false when there is none.
func ClassOf(err error) (Class, bool) {
	var c Classified
	if errors.As(err, &c) {
		return c.Class(), true
	}
	return Permanent, false
}

// StatusError is a non-2xx answer that was not, or no longer, retried.
type StatusError struct {
	Route  string
	Status int
	Header http.Header
	Body   []byte
	// Hint says why retrying stopped, if it did.
	Hint    string
	secrets *secret.Redactor
}

func (e *StatusError) Error() string {
	// Redact before cutting: a secret the body echoes across the cut would
	// otherwise survive as a prefix the redactor no longer recognises.
	body := e.secrets.String(strings.TrimSpace(string(e.Body)))
	if page, ok := htmlPage(e.Header, body); ok {
		body = page
	}
	if len(body) > 500 {
		body = strings.ToValidUTF8(body[:500], "") + "…"
	}
	msg := fmt.Sprintf("%s: HTTP %d", e.Route, e.Status)
	if body != "" {
		msg += ": " + body
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return e.secrets.String(msg)
}

// htmlPage says what an HTML body is, in place of its markup: a load
// balancer's or a proxy's error page ("<html><head><title>502 Bad
// Gateway</title>…" quoted whole, once per failed account) is not the
// API's answer, and its title, or else its text, is all it says.
func htmlPage(h http.Header, body string) (string, bool) {
	start := strings.ToLower(body[:min(len(body), 15)])
	if !strings.Contains(strings.ToLower(h.Get("Content-Type")), "html") && !strings.HasPrefix(start, "<!doctype html") && !strings.HasPrefix(start, "<html") {
		return "", false
	}
	text := body
	if m := htmlTitle.FindStringSubmatch(body); m != nil {
		text = m[1]
	}
	text = strings.Join(strings.Fields(html.UnescapeString(htmlTag.ReplaceAllString(text, " "))), " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "…"
	}
	if text == "" {
		return "an HTML page, not the API's answer", true
	}
	return fmt.Sprintf("an HTML page, not the API's answer: %q", text), true
}

var (
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// Class classifies the status as Airbyte's CDK does: 401/403 are the
// user's credentials, 408/429/5xx are worth a later retry, anything else
// is a bug or an unexpected answer. 501 Not Implemented is permanent: the
// server says it will never do what was asked.
func (e *StatusError) Class() Class {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return Auth
	case e.Status == http.StatusNotImplemented:
		return Permanent
	case e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500:
		return Transient
	}
	return Permanent
}

// TransportError is a failure with no usable HTTP answer: a timeout, a reset
// connection, a truncated or undecodable body.
type TransportError struct {
	Route   string
	Err     error
	secrets *secret.Redactor
}

func (e *TransportError) Error() string {
	return e.secrets.String(fmt.Sprintf("%s: %v", e.Route, e.Err))
}

func (e *TransportError) Unwrap() error { return e.Err }

// Class is transient: the same request may well work later.
func (e *TransportError) Class() Class { return Transient }

// AttemptTimeout is an attempt that ran out of Client.Timeout: the server
// never answered, or its body was still arriving (stalled, or trickling).
// It comes wrapped in a *TransportError naming the route, and is retried
// like one. It is not context.DeadlineExceeded: that is a run's own end.
type AttemptTimeout struct {
	After time.Duration
	// Body is set when the headers had come and the body had not all.
	Body bool
	// Setting is the config field that sets the limit, if one does.
	Setting string
}

func (e *AttemptTimeout) Error() string {
	msg := fmt.Sprintf("no answer within %s", e.After)
	if e.Body {
		msg = fmt.Sprintf("the answer's body was still arriving after %s", e.After)
	}
	msg += ", the time one attempt may take"
	if e.Setting != "" {
		msg += " (config " + e.Setting + ")"
	}
	return msg
}

// Timeout reports true, as net.Error's timeouts do.
func (e *AttemptTimeout) Timeout() bool { return true }
