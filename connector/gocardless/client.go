package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Client talks to the GoCardless Bank Account Data API.
//
// Auth: POST /token/new/ is limited to 100 an hour per company, so a run asks
// for one access token, the first time one is needed, and every stream and
// worker reuses it. A failed token/new is not asked again in the run. An
// access token lives 24 hours; should one be refused mid-run anyway, the
// client renews it once through POST /token/refresh/ (100 a minute), never
// through token/new.
type Client struct {
	// Log hears of the client's own recoveries (a token renewed early); NewClient
	// sets one that discards them.
	Log *slog.Logger

	base      *url.URL
	http      *httpclient.Client
	secretID  string
	secretKey string
	secrets   *secret.Redactor
	clock     *httpclient.ServerClock

	mu        sync.Mutex
	tried     bool // token/new was called
	tokenErr  error
	access    string
	refresh   string
	gen       int // bumped on each new access token
	refreshed bool
}

// NewClient returns a client for base using hc for transport.
func NewClient(base *url.URL, secretID, secretKey string, hc *httpclient.Client, secrets *secret.Redactor, clock *httpclient.ServerClock) *Client {
	hc.RetryAfter = companyRetryAfter
	return &Client{Log: slog.New(slog.DiscardHandler), base: base, http: hc, secretID: secretID, secretKey: secretKey, secrets: secrets, clock: clock}
}

// companyRetryAfter reads how long a company-level 429 asks to wait: the
// seconds in its detail, else the general reset header.
func companyRetryAfter(resp *httpclient.Response) time.Duration {
	if d, ok := detailSeconds(decodeAPIError(resp.Body).detail()); ok {
		return d
	}
	if s, ok := rateLimitInt(resp.Header, "x-ratelimit-reset"); ok {
		return time.Duration(s) * time.Second
	}
	return 0
}

// noRetry keeps the retrying client off the answers a retry makes worse: a
// per-account 429 (the account's daily quota is spent; a retry would only
// fail again, for hours; see accountLimited) and a 500 UnknownRequestError (it counts towards
// suspending the account; the connector decides about those itself).
func noRetry(resp *httpclient.Response) bool {
	switch resp.Status {
	case http.StatusTooManyRequests:
		return accountLimited(resp.Header, decodeAPIError(resp.Body))
	case http.StatusInternalServerError:
		return decodeAPIError(resp.Body).Type == typeUnknownRequest
	}
	return false
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// token returns the run's access token and its generation.
func (c *Client) token(ctx context.Context) (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access != "" {
		return c.access, c.gen, nil
	}
	if c.tried {
		if c.tokenErr == nil {
			c.tokenErr = source.ConfigErrorf("GoCardless refused the run's access token and renewing it failed; check secret_id/secret_key")
		}
		return "", 0, c.tokenErr
	}
	c.tried = true
	body, _ := json.Marshal(map[string]string{"secret_id": c.secretID, "secret_key": c.secretKey})
	var tp tokenPair
	resp, err := c.http.Do(ctx, &httpclient.Request{
		Method: http.MethodPost, URL: c.url("/token/new/", nil), Route: "POST /token/new/", Body: body,
		Idempotent: true, // a token nobody uses harms nothing
		Accept:     tp.accept,
	})
	c.observeClock(resp, err)
	if err != nil {
		c.tokenErr = c.authError(err)
		return "", 0, c.tokenErr
	}
	c.secrets.Add(tp.Access)
	c.secrets.Add(tp.Refresh)
	c.access, c.refresh = tp.Access, tp.Refresh
	c.gen++
	return c.access, c.gen, nil
}

// authError explains a failed token/new. A 403 is not about the secret:
// GoCardless answers it to a machine whose IP address is not on the
// allow-list (reference §3.3; Actual: "IP address access denied"), on
// every endpoint, token/new first, so copying the secret again would not
// help.
func (c *Client) authError(err error) error {
	if se, ae, ok := statusOf(err); ok {
		switch se.Status {
		case http.StatusForbidden:
			return &tokenError{&source.Error{Type: protocol.ConfigError, Msg: fmt.Sprintf("GoCardless refused this machine's IP address (%s): add the address this connector runs from to the IP allow-list in the Bank Account Data portal, or run it from an address already on the list", ae.describe(se.Status))}}
		case http.StatusUnauthorized, http.StatusBadRequest:
			return &tokenError{&source.Error{Type: protocol.ConfigError, Msg: fmt.Sprintf("GoCardless rejected secret_id/secret_key (%s); copy both from a user secret in the Bank Account Data portal", ae.describe(se.Status))}}
		case http.StatusTooManyRequests:
			return &tokenError{&source.Error{Type: protocol.TransientError, Msg: fmt.Sprintf("GoCardless allows 100 new access tokens an hour and this company has used them (%s); run again later", ae.describe(se.Status)), Err: err, Quoted: true}}
		}
	}
	// Unanswered (an unreachable base_url) or failed: the run's one token
	// call, about no requisition either.
	return c.asTokenError("getting an access token", err)
}

// asTokenError is a token call's failure (what: "getting an access
// token") as a *tokenError, keeping its failure type; the end of the run
// (context.Canceled) is passed on as it is.
func (c *Client) asTokenError(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	werr := c.wrap(what, err)
	if se, ok := werr.(*source.Error); ok { //nolint:errorlint // wrap's own error, not one it wraps
		return &tokenError{se}
	}
	return &tokenError{&source.Error{Type: source.FailureTypeOf(err), Err: werr}}
}

// tokenError is a failed token/new: about the keys, this machine, the
// company's token budget or the API's reach, never about the call that
// needed the token, so wrap passes it on without naming that call (a
// requisition blamed for wrong keys sent the user to the wrong place, and
// an API that did not answer was said once per requisition).
type tokenError struct{ err *source.Error }

func (e *tokenError) Error() string { return e.err.Error() }

func (e *tokenError) Unwrap() error { return e.err }

// renew replaces the access token of generation gen through the refresh
// token, once per run. A renewal that fails is a *tokenError, which every
// call after it gets too (token): not the account's whose call met the
// refusal, so the caller does not read the token call's answer (a 503 of
// POST /token/refresh/) as its bank's; and not a refusal of the keys
// unless the refresh answered one.
func (c *Client) renew(ctx context.Context, gen int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil // another worker renewed it already
	}
	if c.refreshed && c.tokenErr != nil {
		return c.tokenErr // the renewal failed: no renewed token was refused
	}
	if c.refreshed || c.refresh == "" {
		c.access = ""
		return source.ConfigErrorf("GoCardless refused a renewed access token; check that secret_id/secret_key may read these requisitions")
	}
	c.refreshed = true
	body, _ := json.Marshal(map[string]string{"refresh": c.refresh})
	var tp tokenPair
	resp, err := c.http.Do(ctx, &httpclient.Request{
		Method: http.MethodPost, URL: c.url("/token/refresh/", nil), Route: "POST /token/refresh/", Body: body,
		Idempotent: true, Accept: tp.accept,
	})
	c.observeClock(resp, err)
	if err != nil {
		c.access = ""
		err = c.asTokenError("renewing the access token", err)
		var te *tokenError
		if errors.As(err, &te) {
			c.tokenErr = err
		}
		return err
	}
	c.secrets.Add(tp.Access)
	c.access = tp.Access
	c.gen++
	return nil
}

// get sends GET path?q with the access token and returns the 2xx answer,
// whose body decode has accepted. A 401 that refuses the token itself
// (tokenRefused) renews the token once and tries again; every other
// non-2xx answer comes back as a *httpclient.StatusError for the caller to
// judge, with its headers.
func (c *Client) get(ctx context.Context, route, path string, q url.Values, decode func([]byte) error) (*httpclient.Response, error) {
	for attempt := 0; ; attempt++ {
		token, gen, err := c.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.http.Do(ctx, &httpclient.Request{
			Method: http.MethodGet, URL: c.url(path, q), Route: route,
			Header:     http.Header{"Authorization": {"Bearer " + token}},
			Idempotent: true, Accept: decode, NoRetry: noRetry,
		})
		c.observeClock(resp, err)
		var se *httpclient.StatusError
		if attempt == 0 && errors.As(err, &se) && tokenRefused(se) {
			c.Log.Info("GoCardless refused the access token before its expiry; renewing it")
			if rerr := c.renew(ctx, gen); rerr != nil {
				return nil, rerr
			}
			continue
		}
		return resp, err
	}
}

// tokenRefused tells a 401 about the access token from one about the end
// user's consent. Both can come without a type: an expired end-user
// agreement answers {"summary":"End User Agreement (EUA) … has expired",
// "detail":"EUA was valid for 180 days…"} with no type on some paths
// (opencollective#8538). Renewing the token cannot help that one, and each
// failed bank call counts towards suspension, so only an untyped 401 that
// does not read as expired consent renews the token.
func tokenRefused(se *httpclient.StatusError) bool {
	if se.Status != http.StatusUnauthorized {
		return false
	}
	ae := decodeAPIError(se.Body)
	return ae.Type == "" && !accessExpired(se.Status, ae)
}

// observeClock feeds the server clock from an answer, or from the error
// that carries one.
func (c *Client) observeClock(resp *httpclient.Response, err error) {
	c.clock.ObserveAnswer(resp, err)
}

// wrap turns a client error into one whose message says what failed
// (what: "account A transactions"; not when it is the route, which the
// answer names) and quotes GoCardless's own (type, summary, detail), or
// the client's, while keeping its failure type.
func (c *Client) wrap(what string, err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return err
	}
	if se, ae, ok := statusOf(err); ok && (ae.Summary != "" || ae.Type != "") {
		msg := answered(se, ae)
		if what != "" && what != se.Route {
			msg = what + ": " + msg
		}
		return &source.Error{Type: source.FailureTypeOfClass(se.Class()), Msg: c.secrets.String(msg), Err: err, Quoted: true}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// statusOf returns the non-2xx answer inside err with its decoded body.
func statusOf(err error) (*httpclient.StatusError, apiError, bool) {
	var se *httpclient.StatusError
	if !errors.As(err, &se) {
		return nil, apiError{}, false
	}
	return se, decodeAPIError(se.Body), true
}

// answered says what GoCardless answered, and why the client stopped
// retrying when it did.
func answered(se *httpclient.StatusError, ae apiError) string {
	msg := "GoCardless answered " + se.Route + " with " + ae.describe(se.Status)
	if se.Hint != "" {
		msg += " (" + se.Hint + ")"
	}
	return msg
}

// getJSON fetches one object into v.
func (c *Client) getJSON(ctx context.Context, route, path string, v any) (*httpclient.Response, error) {
	return c.get(ctx, route, path, nil, func(b []byte) error { return json.Unmarshal(b, v) })
}
