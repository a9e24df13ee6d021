package httpclient

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

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

// FailureType maps the status as Airbyte's CDK does: 401/403 are the user's
// credentials, 408/429/5xx are worth a later retry, anything else is a bug
// or an unexpected answer.
func (e *StatusError) FailureType() protocol.FailureType {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return protocol.ConfigError
	case e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500:
		return protocol.TransientError
	}
	return protocol.SystemError
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

// FailureType is transient: the same request may well work later.
func (e *TransportError) FailureType() protocol.FailureType { return protocol.TransientError }
