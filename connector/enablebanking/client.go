package enablebanking

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// JWT claims Enable Banking requires: constant issuer and audience.
const (
	jwtIssuer   = "enablebanking.com"
	jwtAudience = "api.enablebanking.com"
	// tokenTTL is how long a minted token lives; the API accepts up to 24
	// hours, the official samples use one.
	tokenTTL = time.Hour
	// tokenRenew is how long before its expiry a token is replaced.
	tokenRenew = 5 * time.Minute
)

// Client talks to the Enable Banking API. There is no token endpoint: every
// request carries a short-lived RS256 JWT the client signs with the
// application's private key, kid = application id. One token serves the run
// until it nears expiry. Tokens are registered with the redactor as they are
// made, so no output can print one.
type Client struct {
	// Log hears of the client's own recoveries (a token signed again);
	// NewClient sets one that discards them.
	Log *slog.Logger

	base    *url.URL
	http    *httpclient.Client
	appID   string
	key     *rsa.PrivateKey
	secrets *secret.Redactor
	clock   *httpclient.ServerClock
	// keyField is the config field the key came from, which a refused
	// key's message names.
	keyField string

	mu      sync.Mutex
	token   string
	expires time.Time
	// unsynced: the token was signed on the local clock, before any
	// answer told the API's time.
	unsynced bool
	resigned bool
}

// NewClient returns a client for base signing with key as application
// appID, using hc for transport.
func NewClient(base *url.URL, appID string, key *rsa.PrivateKey, hc *httpclient.Client, secrets *secret.Redactor, clock *httpclient.ServerClock) *Client {
	return &Client{Log: slog.New(slog.DiscardHandler), base: base, http: hc, appID: appID, key: key, secrets: secrets, clock: clock, keyField: "config.private_key"}
}

// SignToken makes one token for application appID valid from now for ttl:
// header typ JWT, alg RS256, kid appID; claims iss, aud, iat, exp. aud is
// a string, as every Enable Banking sample sends it: jwt.RegisteredClaims
// makes a one-element array of it, a form the API is reported to refuse
// (401 UNAUTHORIZED_ACCESS on every call, read as a wrong key).
func SignToken(appID string, key *rsa.PrivateKey, now time.Time, ttl time.Duration) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": jwtIssuer,
		"aud": jwtAudience,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	})
	t.Header["kid"] = appID
	return t.SignedString(key)
}

// bearer returns the run's token, minting one when there is none or it
// expires within tokenRenew. Times are the API's clock, so a wrong local
// clock does not make tokens the API refuses as expired or not yet valid.
func (c *Client) bearer() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.token != "" && now.Add(tokenRenew).Before(c.expires) {
		return c.token, nil
	}
	tok, err := SignToken(c.appID, c.key, now.Add(-30*time.Second), tokenTTL)
	if err != nil {
		return "", source.ConfigErrorf("%s: cannot sign a token with the key (%v); use the application's RSA private key", c.keyField, err)
	}
	c.secrets.Add(tok)
	c.token, c.expires = tok, now.Add(tokenTTL-30*time.Second)
	c.unsynced = !c.clock.Synced()
	return tok, nil
}

// resign drops a token refused while it was signed on the local clock, so
// the next one is signed on the API's (a local clock hours off makes a
// token the API takes for expired or not yet valid). It says whether the
// request is worth sending again: once per run.
func (c *Client) resign(tok string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resigned || !c.unsynced || !c.clock.Synced() {
		return false
	}
	c.resigned = true
	if c.token == tok {
		c.token = ""
	}
	return true
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// call is one request.
type call struct {
	method, route, path string
	query               url.Values
	body                any
	header              http.Header
	// decode accepts a 2xx body.
	decode func([]byte) error
	// bankBacked calls reach the bank (details, balances, transactions):
	// a 429 or ASPSP_RATE_LIMIT_EXCEEDED is never retried, since the
	// account's daily limit is spent for hours.
	bankBacked bool
}

// do sends a call and returns the 2xx answer; any other answer comes back
// as a *httpclient.StatusError for the caller to classify.
func (c *Client) do(ctx context.Context, k call) (*httpclient.Response, error) {
	resp, tok, err := c.send(ctx, k)
	if se, ae, ok := statusOf(err); ok && se.Status == http.StatusUnauthorized && ae.Error == codeUnauthorized && c.resign(tok) {
		// Said only once the new token is taken: a token refused for
		// another reason (an application_id that is not the key's) is
		// refused again, and the user then reads that error alone, not a
		// recovery that did not happen before it.
		if resp, _, err = c.send(ctx, k); err == nil {
			c.Log.Info("Enable Banking refused a token signed on the local clock before the API's clock was known; one signed on the API's clock was accepted")
		}
	}
	return resp, err
}

// send sends a call once through the retrying client, each attempt with
// the run's token as it is then (bearer), and returns the token of the
// last attempt: a call's retries may outlive the token of its first.
func (c *Client) send(ctx context.Context, k call) (*httpclient.Response, string, error) {
	var tok string
	h := http.Header{}
	for name, v := range k.header {
		h[name] = v
	}
	var body []byte
	if k.body != nil {
		body, _ = json.Marshal(k.body)
		h.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(ctx, &httpclient.Request{
		Method: k.method, URL: c.url(k.path, k.query), Route: k.route, Header: h, Body: body,
		Authorize: func(h http.Header) error {
			t, err := c.bearer()
			if err != nil {
				return err
			}
			tok = t
			h.Set("Authorization", "Bearer "+t)
			return nil
		},
		Idempotent: k.method == http.MethodGet,
		Accept:     k.decode,
		NoRetry: func(r *httpclient.Response) bool {
			ae := decodeAPIError(r.Body)
			switch classify(r.Status, ae) {
			case classRateLimited:
				return k.bankBacked || ae.Error == codeRateLimit
			case classReauth, classCredentials, classPSUHeaders:
				return true
			}
			return false
		},
	})
	c.clock.ObserveAnswer(resp, err)
	return resp, tok, err
}

// getJSON fetches one object into v.
func (c *Client) getJSON(ctx context.Context, route, path string, v any) error {
	_, err := c.do(ctx, call{method: http.MethodGet, route: route, path: path, decode: func(b []byte) error { return json.Unmarshal(b, v) }})
	return err
}

// wrap turns a client error into one whose message quotes Enable Banking's
// own, keeping its failure type; credential refusals become config errors
// naming the fields to fix. A refusal of the token itself (or of the run's
// IP) does not name what (the session or account whose call met it): the
// application's keys are nobody's session, and with every session's
// refusal reading the same, a stream that meets it once per session says
// it once, in its message and its internal_message. ACCESS_DENIED, which
// may be about one resource, keeps naming it.
func (c *Client) wrap(what string, err error) error {
	se, ae, ok := statusOf(err)
	if !ok {
		if err != nil && ctxDone(err) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	answer := "Enable Banking answered " + se.Route + " with " + ae.describe(se.Status)
	if se.Hint != "" {
		answer += " (" + se.Hint + ")"
	}
	msg := c.secrets.String(what + ": " + answer)
	switch classify(se.Status, ae) {
	case classCredentials:
		if ae.Error != "ACCESS_DENIED" {
			msg = c.secrets.String(answer)
		}
		fix := ". Check config.application_id and " + c.keyField + ": application_id must be the id (a UUID, shown in the Enable Banking Control Panel) of the application whose certificate that private key belongs to"
		if ae.Error == "UNAUTHORIZED_IP" {
			fix = ". Check config.application_id and " + c.keyField + ": the key must be the private key of that application, and the run's IP allow-listed for it"
		}
		return &source.Error{Type: protocol.ConfigError, Msg: msg + fix}
	case classBank, classRateLimited:
		return &source.Error{Type: protocol.TransientError, Msg: msg + "; run again later", Err: err, Quoted: true}
	}
	if clientBug(ae.Error) {
		msg += ". Enable Banking refused a request the connector made (banks check some parameters others do not, e.g. a continuation's); running again will not help: report this message, naming the bank"
	}
	return &source.Error{Type: source.FailureTypeOfClass(se.Class()), Msg: msg}
}

// clientBug reports an error code that blames a data request's parameters
// (the reference, §6: the client-bug class), such as the 422
// WRONG_REQUEST_PARAMETERS a bank gives a continuation whose parameters
// differ from the first call's.
func clientBug(code string) bool {
	switch code {
	case "WRONG_REQUEST_PARAMETERS", "WRONG_CONTINUATION_KEY", "WRONG_DATE_INTERVAL", "WRONG_TRANSACTIONS_PERIOD",
		"DATE_TO_WITHOUT_DATE_FROM", "DATE_FROM_IN_FUTURE":
		return true
	}
	return false
}

func ctxDone(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
