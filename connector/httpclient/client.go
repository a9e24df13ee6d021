// Package httpclient is the runtime's HTTP client: bounded retries with
// exponential backoff and jitter, Retry-After and RateLimit-Reset honoured up
// to a cap, client-side pacing per endpoint, a timeout on every attempt, and
// errors that classify themselves (transient, auth, permanent: see Class)
// and never carry secrets.
//
// It knows nothing about a provider's auth or envelopes: a provider builds
// Requests, and checks a 2xx body with Request.Accept so a truncated or
// non-JSON body is retried like any other transient failure.
package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Client sends requests with retries. The zero value is not usable; fill the
// fields or start from New.
type Client struct {
	HTTP *http.Client
	// MaxRetries bounds retries of transient failures (5xx, timeouts, resets,
	// bad bodies) per request.
	MaxRetries int
	// MaxRateLimitRetries bounds 429 retries per request.
	MaxRateLimitRetries int
	// MaxWait caps one rate-limit wait; a server asking for more fails the
	// request rather than stalling a scheduled sync for hours.
	MaxWait time.Duration
	// MaxWaitSetting names the config field that sets MaxWait
	// ("max_rate_limit_wait_seconds"), for the error of a wait over it;
	// empty when the user cannot set it, and the error names none.
	MaxWaitSetting string
	// BaseBackoff and MaxBackoff shape exponential backoff.
	BaseBackoff, MaxBackoff time.Duration
	// Timeout bounds each attempt, headers and body included.
	Timeout time.Duration
	// TimeoutSetting names the config field that sets Timeout
	// ("http_timeout_seconds"), for the error of an attempt that ran out
	// of it; empty when the user cannot set it.
	TimeoutSetting string
	// MaxBody bounds a response body: far more than any real page, and a
	// body over it is a *TooLargeError, not retried.
	MaxBody int64
	// Budget bounds the bodies held at once by every Client sharing it
	// (New gives Bodies, the process's); nil means no bound beyond MaxBody.
	Budget *Budget
	// Pacer, if set, spaces requests per route before they are sent.
	Pacer *Pacer
	// OnRateLimited is told when a 429 makes the client wait until resetAt.
	OnRateLimited func(ctx context.Context, resetAt time.Time)
	// RetryAfter, if set, reads how long a 429 asks to wait when neither
	// Retry-After nor RateLimit-Reset says: an API that puts the seconds in
	// its own header or in the body (GoCardless: "Please try again in 85092
	// seconds"). Zero means it does not say either.
	RetryAfter func(resp *Response) time.Duration
	// OnRetry is told about every retry (for logs).
	OnRetry func(ctx context.Context, req *Request, attempt int, wait time.Duration, cause error)
	// OnInvalidUTF8 is told about a 2xx body that was not valid UTF-8,
	// after every invalid sequence was replaced with U+FFFD: APIs pass bank
	// text through, and one stray Latin-1 byte copied raw to stdout makes
	// strict consumers (Python's json, jq, the Airbyte platform) fail on
	// the line every run, or drop the row while the state moves past it.
	// body is the repaired body and replaced the offsets in it of each
	// U+FFFD put in (a U+FFFD the API sent itself is not among them), so
	// the rows cut from it can be noted; neither may be kept past the call.
	OnInvalidUTF8 func(ctx context.Context, route string, body []byte, replaced []int)
	// Secrets masks credentials in error texts.
	Secrets *secret.Redactor
	// UserAgent is sent on every request.
	UserAgent string

	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// maxHeaderBytes bounds a response's headers.
const maxHeaderBytes = 256 << 10

// maxIdlePerHost is how many idle connections to one API are kept for the
// next request. Go's default keeps 2: a read of 4 accounts at once (or 32,
// max_concurrency's maximum, each fetching its next page ahead) closed a
// connection after most requests and opened another for the next, a TCP
// and TLS handshake each time. Against the fake on loopback, a million
// transactions took 311 connections for 2,051 requests; with this, 7.
const maxIdlePerHost = 64

// New returns a Client with production defaults.
func New(secrets *secret.Redactor) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Real answers carry a few KB of headers; Go's default allows 10 MB
	// per response, which concurrent hostile answers would multiply.
	t.MaxResponseHeaderBytes = maxHeaderBytes
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.DisableCompression = true // once asks for gzip and decodes it itself
	return &Client{
		HTTP:                &http.Client{Transport: t},
		MaxRetries:          5,
		MaxRateLimitRetries: 10,
		MaxWait:             5 * time.Minute,
		BaseBackoff:         500 * time.Millisecond,
		MaxBackoff:          30 * time.Second,
		Timeout:             60 * time.Second,
		MaxBody:             64 << 20,
		Budget:              Bodies,
		Secrets:             secrets,
	}
}

// Interactive makes c fail fast, for a person waiting on the answer (a
// check, a connect): one retry after a short pause, instead of retrying
// for a minute.
func (c *Client) Interactive() {
	c.MaxRetries = 1
	c.BaseBackoff = 200 * time.Millisecond
}

// Request is one logical call, possibly sent several times.
type Request struct {
	Method string
	URL    string
	// Route names the endpoint for pacing, stats and messages, without ids:
	// "GET /v2/transactions".
	Route  string
	Header http.Header
	Body   []byte
	// Idempotent requests are retried after failures that may have reached
	// the server (timeouts, resets, bad bodies). GETs are; POST /auth is
	// too, as it creates nothing.
	Idempotent bool
	// Accept checks a 2xx body, usually by decoding it. An error means the
	// body is unusable (truncated, not JSON) and the request is retried.
	Accept func(body []byte) error
	// Authorize, if set, adds the credentials to each attempt's headers,
	// so that an attempt carries credentials valid when it is sent: a
	// token minted for a limited time (Enable Banking's JWT, an hour) is
	// outlived by a request's retries, ten rate-limit waits of up to
	// MaxWait. An error it returns ends the request as it is, unsent.
	Authorize func(h http.Header) error
	// Buffer, when its capacity holds the body, is where the body is read
	// instead of into new memory, and Response.Body (and what Accept gets)
	// share it: a caller reading page after page hands back the memory of
	// a page it is done with. Every attempt reads into it afresh.
	Buffer []byte
	// NoRetry, if set, is asked about every non-2xx answer; true returns it
	// at once as a *StatusError, whatever its status. A provider uses it for
	// answers a retry would only make worse: a per-account daily quota that
	// is spent, an error that counts towards suspending the account.
	NoRetry func(resp *Response) bool
}

// Response is a completed exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	held   int64 // what Body holds of the Budget until Do returns
}

// Do sends req until it succeeds, fails for good, or ctx ends. A non-2xx
// answer that is not retried, or retries running out, gives a *StatusError
// or a *TransportError.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	var transient, limited int
	// held is the current attempt's share of the Budget, given back once
	// its body is done with: before a retry's wait, or when Do returns
	// (after Accept has decoded it).
	var held int64
	defer func() { c.Budget.give(held) }()
	for {
		if c.Pacer != nil {
			if err := c.Pacer.Wait(ctx, req.Route); err != nil {
				return nil, err
			}
		}
		resp, err := c.once(ctx, req)
		if resp != nil {
			held = resp.held
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var wait time.Duration
		switch {
		case err == nil && resp.Status >= 200 && resp.Status < 300:
			if req.Accept == nil {
				return resp, nil
			}
			aerr := req.Accept(resp.Body)
			if aerr == nil {
				return resp, nil
			}
			err = &TransportError{Route: req.Route, Err: fmt.Errorf("unusable response body (%d bytes%s): %w", len(resp.Body), notJSON(resp.Header), aerr)}
			if !req.Idempotent || transient >= c.MaxRetries {
				return nil, c.scrub(err)
			}
			transient++
			wait = c.backoff(transient)
		case err != nil:
			var re *RedirectError
			var big *TooLargeError
			if errors.As(err, &re) || errors.As(err, &big) {
				return nil, err // the same request would get the same answer
			}
			var un *unauthorized
			if errors.As(err, &un) {
				return nil, un.err
			}
			if !req.Idempotent || transient >= c.MaxRetries {
				return nil, c.scrub(err)
			}
			transient++
			wait = c.backoff(transient)
		case req.NoRetry != nil && req.NoRetry(resp):
			return nil, c.statusError(req, resp)
		case resp.Status == http.StatusTooManyRequests:
			serr := c.statusError(req, resp)
			wait = retryAfter(resp.Header, c.clock())
			if wait <= 0 && c.RetryAfter != nil {
				wait = c.RetryAfter(resp)
			}
			if wait <= 0 {
				wait = c.backoff(limited + 1)
			}
			if wait > c.MaxWait {
				serr.Hint = fmt.Sprintf("the API asks to wait %s, more than the %s cap", wait.Round(time.Second), c.MaxWait)
				if c.MaxWaitSetting != "" {
					serr.Hint += " (" + c.MaxWaitSetting + ")"
				} else {
					serr.Hint += "; run again after that"
				}
				return nil, serr
			}
			if limited >= c.MaxRateLimitRetries {
				serr.Hint = fmt.Sprintf("still rate limited after %d waits", limited)
				return nil, serr
			}
			limited++
			if c.OnRateLimited != nil {
				c.OnRateLimited(ctx, c.clock().Add(wait))
			}
			err = serr
		case retryableStatus(resp.Status) && transient < c.MaxRetries:
			transient++
			wait = c.backoff(transient)
			err = c.statusError(req, resp)
		default:
			return nil, c.statusError(req, resp)
		}
		if c.OnRetry != nil {
			c.OnRetry(ctx, req, transient+limited, wait, c.scrub(err))
		}
		c.Budget.give(held)
		held = 0
		if err := c.doSleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// notJSON says, for an unusable 2xx body, that its Content-Type was not
// JSON: then it is not the API's answer but a page of something answering
// for it, a proxy, a captive portal or a load balancer, which the user
// can look at, where "invalid JSON at offset 0" left them to guess. Empty
// for a JSON type, or none.
func notJSON(h http.Header) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && strings.Contains(mt, "json") {
		return ""
	}
	if err != nil {
		mt = ct
	}
	return fmt.Sprintf(" of %.60s, not JSON: a proxy, captive portal or load balancer may be answering for the API", mt)
}

// retryableStatus: a timeout or a server error may pass; 501 Not
// Implemented never will.
func retryableStatus(s int) bool {
	return s == http.StatusRequestTimeout || (s >= 500 && s != http.StatusNotImplemented)
}

// once sends one attempt and reads its whole body under the attempt timeout.
func (c *Client) once(ctx context.Context, req *Request) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, req.URL, body)
	if err != nil {
		return nil, &TransportError{Route: req.Route, Err: err}
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if req.Authorize != nil {
		if err := req.Authorize(hr.Header); err != nil {
			return nil, &unauthorized{err}
		}
	}
	if req.Body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Accept-Encoding", "gzip") // and decoded here: see gzip.go
	if c.UserAgent != "" {
		hr.Header.Set("User-Agent", c.UserAgent)
	}
	hc := *c.HTTP // a copy, so no caller's http.Client can bring redirects back
	hc.CheckRedirect = refuseRedirects
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, &TransportError{Route: req.Route, Err: c.timedOut(ctx, actx, stripURL(err), false)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		return nil, redirectError(req.Route, hr, resp, c.Secrets)
	}
	body, release, err := decodedBody(resp)
	if err != nil {
		return nil, &TransportError{Route: req.Route, Err: err}
	}
	b, held, err := readBody(body, resp.ContentLength, c.MaxBody, c.Budget, req.Buffer)
	release()
	if err != nil {
		c.Budget.give(held)
		var big errTooLarge
		if errors.As(err, &big) {
			return nil, &TooLargeError{Route: req.Route, Limit: c.MaxBody, Announced: big.announced}
		}
		err = c.timedOut(ctx, actx, stripURL(err), true)
		var late *AttemptTimeout
		if !errors.As(err, &late) {
			err = fmt.Errorf("reading response body: %w", err)
		}
		return nil, &TransportError{Route: req.Route, Err: err}
	}
	if !utf8.Valid(b) {
		var replaced []int
		b, replaced = toValidUTF8(b)
		if c.OnInvalidUTF8 != nil && resp.StatusCode/100 == 2 {
			c.OnInvalidUTF8(ctx, req.Route, b, replaced)
		}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, held: held}, nil
}

// unauthorized is Request.Authorize's error: the attempt was never sent.
type unauthorized struct{ err error }

func (e *unauthorized) Error() string { return e.err.Error() }

// timedOut is err, or an *AttemptTimeout when the attempt's own deadline
// (actx's, Timeout) ended it while the run (ctx) goes on: net/http then
// says only "context deadline exceeded", which names neither the limit nor
// which one, and is the error of a run's own deadline too, which callers
// pass on as the run's end without naming the account it cut off.
func (c *Client) timedOut(ctx, actx context.Context, err error, body bool) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &AttemptTimeout{After: c.Timeout, Body: body, Setting: c.TimeoutSetting}
	}
	return err
}

// toValidUTF8 is bytes.ToValidUTF8(b, "\uFFFD") that also returns where
// each U+FFFD it put in starts: every run of invalid bytes becomes one
// U+FFFD. It runs only on a body utf8.Valid refused, so the usual page
// costs nothing more.
func toValidUTF8(b []byte) ([]byte, []int) {
	out := make([]byte, 0, len(b)+8)
	var replaced []int
	invalid := false
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			invalid = false
			continue
		}
		_, size := utf8.DecodeRune(b[i:])
		if size == 1 { // an invalid byte: RuneError of width 1
			if !invalid {
				replaced = append(replaced, len(out))
				out = append(out, "\uFFFD"...)
			}
			invalid = true
			i++
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
		invalid = false
	}
	return out, replaced
}

// stripURL drops the URL from *url.Error: it may carry query values, and the
// route already says which endpoint failed. Its Op ("Post") goes too: the
// route names the method, and "POST /auth: Post: dial tcp ..." said it twice.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) statusError(req *Request, resp *Response) *StatusError {
	return &StatusError{Route: req.Route, Status: resp.Status, Header: resp.Header, Body: resp.Body, secrets: c.Secrets}
}

func (c *Client) scrub(err error) error {
	var te *TransportError
	if errors.As(err, &te) {
		te.secrets = c.Secrets
	}
	return err
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.BaseBackoff << min(attempt-1, 20)
	if d > c.MaxBackoff || d <= 0 {
		d = c.MaxBackoff
	}
	// Jitter in [d/2, d]: spreads retries of concurrent workers apart.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Client) doSleep(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads how long a 429 asks to wait: Retry-After in seconds or as
// an HTTP date, else RateLimit-Reset in seconds. Zero when neither is usable.
// Pluggy sends Retry-After: 60 on every 429 but RateLimit-Reset with the real
// seconds left in the window, so the shorter usable value wins.
//
// An HTTP date is the server's time, so it is read against the answer's
// Date, the server's clock, when it has one, and against now only without:
// a server clock ten minutes ahead of this machine's turned "in 60 s" into
// a wait of 11 minutes, past the cap, and the request failed.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var best time.Duration
	consider := func(d time.Duration) {
		if d > 0 && (best == 0 || d < best) {
			best = d
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 1e7 {
			consider(time.Duration(s * float64(time.Second)))
		} else if t, err := http.ParseTime(v); err == nil {
			if date, err := http.ParseTime(h.Get("Date")); err == nil {
				now = date
			}
			consider(t.Sub(now))
		}
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 1e7 {
			consider(time.Duration(s * float64(time.Second)))
		}
	}
	return best
}
