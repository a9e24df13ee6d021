package pluggy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Client talks to the Pluggy API: one apiKey per run, reused by every
// worker, refreshed before its JWT exp and re-requested once when the API
// rejects it early (revoked, clock skew).
type Client struct {
	// Log hears of the client's own recoveries (a key renewed early); NewClient
	// sets one that discards them, and nil does too (see logger).
	Log *slog.Logger

	base         *url.URL
	http         *httpclient.Client
	clientID     string
	clientSecret string
	secrets      *secret.Redactor
	now          func() time.Time

	mu     sync.Mutex
	apiKey string
	exp    time.Time
	gen    int // bumped on each new key, so concurrent 403s re-auth once
	// renewing is set when a refusal dropped the key: the next key issued
	// is a fresh one, asked for because of a refusal.
	renewing bool
	// freshGen is the generation of the last such key. A refusal of it is
	// not the key's fault: the key was just issued to replace a refused one.
	freshGen int
	// refused is POST /auth's refusal of the keys, once it came. The keys
	// do not change during a run, so every later call that needs a key
	// gets the same refusal at once, without asking again.
	refused error
	// unreachable is POST /auth failing after its retries (no answer, a
	// 5xx), until retryAuthAt: every call that needs a key meanwhile gets
	// it at once. Without it each item of each stream went through its own
	// retries of the same dead API, and a read of five items failed after
	// two minutes. The webhook receiver runs for days, so it is tried again
	// after authRetryAfter.
	unreachable *authFailed
	retryAuthAt time.Time

	pages pageMemory // transactions pages' memory, for the next pages
}

// minMaskedClientID is the shortest client id NewClient masks.
const minMaskedClientID = 16

// keyRefreshMargin renews a key this long before its exp, so a request never
// leaves with a key that expires in flight.
const keyRefreshMargin = 60 * time.Second

// NewClient returns a client for base using hc for transport.
//
// The client id is registered with secrets too, though it is no secret: a
// user who swaps client_id and client_secret puts the secret in it, and an
// answer that echoes a malformed clientId would have it printed. An id too
// short to be a key ("demo") is left alone, as it would mask the same
// letters in every message; Pluggy's are UUIDs.
func NewClient(base *url.URL, clientID, clientSecret string, hc *httpclient.Client, secrets *secret.Redactor) *Client {
	if len(clientID) >= minMaskedClientID {
		secrets.Add(clientID)
	}
	return &Client{Log: slog.New(slog.DiscardHandler), base: base, http: hc, clientID: clientID, clientSecret: clientSecret, secrets: secrets, now: time.Now,
		pages: newPageMemory()}
}

// key returns a valid apiKey and its generation, authenticating if needed.
func (c *Client) key(ctx context.Context) (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused != nil {
		return "", 0, c.refused
	}
	if c.unreachable != nil && c.now().Before(c.retryAuthAt) {
		return "", 0, c.unreachable
	}
	if c.apiKey != "" && c.now().Add(keyRefreshMargin).Before(c.exp) {
		return c.apiKey, c.gen, nil
	}
	body, _ := json.Marshal(map[string]any{"clientId": c.clientID, "clientSecret": c.clientSecret})
	var ar authResponse
	_, err := c.http.Do(ctx, &httpclient.Request{
		Method: http.MethodPost, URL: c.url("/auth", nil), Route: "POST /auth", Body: body,
		Idempotent: true, // creates nothing
		Accept: func(b []byte) error {
			if err := json.Unmarshal(b, &ar); err != nil {
				return err
			}
			if ar.APIKey == "" {
				return errors.New("no apiKey in the answer")
			}
			return nil
		},
	})
	if err != nil {
		var se *httpclient.StatusError
		if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden || se.Status == http.StatusBadRequest) {
			c.refused = &authFailed{authRefused(se)}
			return "", 0, c.refused
		}
		if ctx.Err() != nil {
			return "", 0, c.wrap("authenticating", err) // the run's end, not the API's
		}
		c.unreachable, c.retryAuthAt = &authFailed{c.wrap("authenticating", err)}, c.now().Add(authRetryAfter)
		return "", 0, c.unreachable
	}
	c.unreachable = nil
	c.secrets.Add(ar.APIKey)
	c.apiKey = ar.APIKey
	c.exp = jwtExpiry(ar.APIKey, c.now())
	c.gen++
	if c.renewing {
		c.renewing, c.freshGen = false, c.gen
	}
	return c.apiKey, c.gen, nil
}

// authRefused explains POST /auth refusing the keys: a config_error, since
// only the user can act. Its advice depends on why. Keys that are wrong
// (401 CLIENT_KEYS_UNAUTHORIZED) or malformed (400, a clientId that is not
// a UUID) are copied again from the dashboard; a disabled client (401
// CLIENT_DISABLED, or the 403 other sources report for one) has the right
// keys, and copying them again would not help: its application must be
// enabled again.
func authRefused(se *httpclient.StatusError) error {
	ae := decodeAPIError(se.Body)
	answer := ae.describe(se.Status)
	switch {
	case ae.CodeDescription == "CLIENT_DISABLED":
		return source.ConfigErrorf("Pluggy refused client_id/client_secret because their application is disabled (%s); enable it in the Pluggy dashboard, or ask Pluggy support why it was disabled: the keys themselves need no change", answer)
	case se.Status == http.StatusForbidden:
		return source.ConfigErrorf("Pluggy refused client_id/client_secret (%s): their application may be disabled; check that it is enabled in the Pluggy dashboard, and copy both keys from it", answer)
	case se.Status == http.StatusBadRequest:
		return source.ConfigErrorf("Pluggy rejected client_id/client_secret as malformed (%s); copy both from your application in the Pluggy dashboard (the client_id is a UUID)", answer)
	}
	return source.ConfigErrorf("Pluggy rejected client_id/client_secret (%s); copy both from your application in the Pluggy dashboard", answer)
}

// authFailed is POST /auth failing: refusing client_id/client_secret, or
// unanswered after its retries. It is about the keys or the API's reach,
// never about the item or account whose call needed a key, so the wrappers
// that name those (within) pass it on as it is: a stream whose every item
// meets it then says it once, and blames no item.
type authFailed struct{ err error }

func (e *authFailed) Error() string { return e.err.Error() }

func (e *authFailed) Unwrap() error { return e.err }

// authRetryAfter is how long a POST /auth that failed after its retries
// stands for every call that needs a key (Client.unreachable).
const authRetryAfter = time.Minute

// within wraps err with what failed ("item X", "account A of item I"),
// unless it is POST /auth's failure, which is returned as it is, whatever
// wraps it: no item or account caused it.
func within(what string, err error) error {
	var af *authFailed
	if errors.As(err, &af) {
		return af
	}
	return fmt.Errorf("%s: %w", what, err)
}

// retryRefused decides whether a request refused with 401 or a 403 without
// codeDescription, sent with the key of generation gen, is sent again.
//
// Pluggy gives one answer to two causes: an expired or revoked key gets 403
// {"message":"Missing or invalid authorization token"}, and so does a
// product the item did not consent to or the plan does not include ("the
// resource you are trying to access, you don't have permissions"). Only a
// fresh key tells them apart. So the key is renewed when it is not known
// fresh (keys past their exp are renewed before any request, in key), and
// a refusal of a key just issued to replace a refused one is a denial, not
// a reason to authenticate again. A refusal of an older key while a newer
// one exists or is coming is simply retried with it.
func (c *Client) retryRefused(gen int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case gen == c.freshGen:
		return false
	case gen != c.gen || c.apiKey == "":
		return true
	}
	c.apiKey, c.renewing = "", true
	return true
}

// jwtExpiry reads when the key expires from its JWT payload, without
// checking the signature (only Pluggy can). Clocks disagree, so the key's
// lifetime (exp - iat) is applied to this machine's clock when both are
// there; a key without iat whose exp is already (nearly) past here, or
// absurdly far, or a key that is not a decodable JWT, is given the
// documented two hours. A key Pluggy rejects earlier is renewed anyway (get).
func jwtExpiry(key string, now time.Time) time.Time {
	fallback := now.Add(2 * time.Hour)
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		return fallback
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return fallback
	}
	var claims struct {
		Exp json.Number `json:"exp"`
		Iat json.Number `json:"iat"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return fallback
	}
	const maxLifetime = 7 * 24 * 3600 // seconds; anything longer is not Pluggy's 2 h key
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 || exp > 1e12 {
		return fallback
	}
	if iat, err := claims.Iat.Float64(); err == nil && iat > 0 && exp > iat && exp-iat <= maxLifetime {
		return now.Add(time.Duration((exp - iat) * float64(time.Second)))
	}
	t := time.Unix(int64(exp), 0)
	if !t.After(now.Add(keyRefreshMargin)) || t.After(now.Add(maxLifetime*time.Second)) {
		return fallback
	}
	return t
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// get fetches path?q into v (decoded once, in the retry loop, so a truncated
// body is retried). A 401, or a 403 without codeDescription, is sent again
// with a new key once when retryRefused allows; a 403 that remains is a
// denial of that resource (refusedError), which fails the stream for the
// item it names only.
func (c *Client) get(ctx context.Context, route, path string, q url.Values, decode func([]byte) error) error {
	return c.getInto(ctx, route, path, q, nil, decode)
}

// getInto is get reading the body into buf when it fits (see
// httpclient.Request.Buffer).
func (c *Client) getInto(ctx context.Context, route, path string, q url.Values, buf []byte, decode func([]byte) error) error {
	for attempt := 0; ; attempt++ {
		key, gen, err := c.key(ctx)
		if err != nil {
			return err
		}
		_, err = c.http.Do(ctx, &httpclient.Request{
			Method: http.MethodGet, URL: c.url(path, q), Route: route,
			Header: http.Header{"X-Api-Key": {key}}, Idempotent: true, Accept: decode, Buffer: buf,
		})
		var se *httpclient.StatusError
		if errors.As(err, &se) && attempt == 0 && keyRejected(se) && c.retryRefused(gen) {
			c.logger().Info("Pluggy rejected the apiKey before its expiry; authenticating again")
			continue
		}
		if err != nil {
			if errors.As(err, &se) && (keyRejected(se) || se.Status == http.StatusForbidden) {
				return c.refusedError(route, path, q, se)
			}
			return c.wrap(route, err)
		}
		return nil
	}
}

// logger is Log, or one that discards when Log is nil: the webhook
// commands open the client with an Env that has no logger (they print
// their own lines), and a key refused under them crashed the command
// with a nil-pointer panic.
func (c *Client) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// keyRejected reports an answer that may mean the key itself was refused:
// 401, or 403 without codeDescription.
func keyRejected(se *httpclient.StatusError) bool {
	if se.Status == http.StatusUnauthorized {
		return true
	}
	return se.Status == http.StatusForbidden && decodeAPIError(se.Body).CodeDescription == ""
}

// refusedError explains a refusal a fresh key did not cure. A 401 means
// the key is wrong (Pluggy's docs), so the credentials are named; a 403
// means this resource is not for this client: a product the item did not
// consent to, or the plan does not include. That is never the credentials'
// fault (they just got a key), so it names the item or account and the
// product, and fails only the stream reading it, for that item.
func (c *Client) refusedError(route, path string, q url.Values, se *httpclient.StatusError) error {
	answer := decodeAPIError(se.Body).describe(se.Status)
	if se.Status == http.StatusUnauthorized {
		return source.ConfigErrorf("Pluggy refused the apiKey it had just issued on %s (%s); check client_id/client_secret", route, answer)
	}
	whose := path
	switch {
	case q.Get("itemId") != "":
		whose = "item " + q.Get("itemId")
	case q.Get("accountId") != "":
		whose = "account " + q.Get("accountId")
	}
	return source.ConfigErrorf("Pluggy denied %s for %s (%s): the item has not consented to this product or the Pluggy plan does not include it. The other items are read; to read this one, have its owner share the product in a new consent, or leave the stream out of the catalog", route, whose, answer)
}

// decodeAPIError reads what it can of an error body: a member of an
// unexpected type is skipped, the others are kept.
func decodeAPIError(body []byte) apiError {
	var ae apiError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&ae)
	return ae
}

// maxCauses bounds the details/errors entries an error message quotes.
const maxCauses = 5

// describe is the answer as a message quotes it: the status, the
// codeDescription, the message and, since a generic message ("Validation
// failed") or none may leave the cause to them, the details or errors
// entries ("accountId: accountId must be a UUID").
func (ae apiError) describe(status int) string {
	s := fmt.Sprintf("HTTP %d", status)
	if ae.CodeDescription != "" {
		s += " " + ae.CodeDescription
	}
	if ae.Message != "" {
		s += ": " + ae.Message
	}
	if c := ae.causes(); c != "" {
		if ae.Message == "" {
			s += ": " + c
		} else {
			s += " (" + c + ")"
		}
	}
	return s
}

// causes joins the details and errors entries, each "parameter: message"
// (or its code when it has no message).
func (ae apiError) causes() string {
	var parts []string
	for _, c := range append(slices.Clone(ae.Details), ae.Errors...) {
		text := c.Message
		if text == "" {
			text = c.Code
		}
		if c.Parameter != "" && !strings.HasPrefix(text, c.Parameter) {
			text = c.Parameter + ": " + text
		}
		if text != "" {
			parts = append(parts, text)
		}
	}
	if len(parts) > maxCauses {
		parts = append(parts[:maxCauses], fmt.Sprintf("%d more", len(parts)-maxCauses))
	}
	return strings.Join(parts, "; ")
}

// wrap turns a client error into one whose message quotes Pluggy's own
// (code, codeDescription, message) while keeping its failure type.
func (c *Client) wrap(what string, err error) error {
	var se *httpclient.StatusError
	if errors.As(err, &se) {
		ae := decodeAPIError(se.Body)
		if ae.Message != "" || ae.CodeDescription != "" || ae.causes() != "" {
			msg := fmt.Sprintf("Pluggy answered %s with %s", se.Route, ae.describe(se.Status))
			if se.Hint != "" {
				msg += " (" + se.Hint + ")"
			}
			if retired(se.Status, ae) {
				msg = strings.TrimSuffix(msg, ".") + ". Pluggy has retired " + se.Route + " for this API key, and this version of the connector reads it: upgrade source-pluggy (if this is the newest version, report it). The other streams are read"
			}
			return &source.Error{Type: source.FailureTypeOfClass(se.Class()), Msg: c.secrets.String(msg), Err: err, Quoted: true}
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	// The client's errors begin with their route: what, when it is that
	// route, would say it twice ("GET /v2/transactions: GET
	// /v2/transactions: …").
	var te *httpclient.TransportError
	if errors.As(err, &te) && te.Route == what || se != nil && se.Route == what {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// retired reports an answer saying the endpoint is gone for this key (410
// ENDPOINT_DEPRECATED, as the v1 GET /transactions answers newer keys
// since June 2026). Pluggy's message then tells a developer which endpoint
// replaces it; the user can only upgrade the connector.
func retired(status int, ae apiError) bool {
	return status == http.StatusGone || ae.CodeDescription == "ENDPOINT_DEPRECATED"
}

// getJSON fetches one object into v.
func (c *Client) getJSON(ctx context.Context, route, path string, q url.Values, v any) error {
	return c.get(ctx, route, path, q, func(b []byte) error { return json.Unmarshal(b, v) })
}

// maxPages bounds every paging loop: a server that never stops paging must
// not keep a scheduled sync running forever. A variable so tests can lower it.
var maxPages = 100000

// eachPage walks a page-number envelope (accounts, categories, investments,
// bills, loans) and hands every result to fn. It tolerates a bare array in
// place of the envelope, as /categories is documented one way and served the
// other.
func (c *Client) eachPage(ctx context.Context, route, path string, q url.Values, pageSize int, fn func(json.RawMessage) error) error {
	return c.eachPageTotal(ctx, route, path, q, pageSize, nil, fn)
}

// eachPageTotal is eachPage that first hands onTotal (unless nil) the
// first page's `total`, as sent (nil when absent or a bare array), before
// any of its rows reach fn: what the list holds, for the stream's ESTIMATE
// (see pageTotal). Only that once: a later page's total is the same list's.
func (c *Client) eachPageTotal(ctx context.Context, route, path string, q url.Values, pageSize int,
	onTotal func(total json.RawMessage), fn func(json.RawMessage) error) error {
	if q == nil {
		q = url.Values{}
	}
	var prevFirst, prevLast json.RawMessage
	for page := 1; page <= maxPages; page++ {
		if pageSize > 0 {
			q.Set("page", fmt.Sprint(page))
			q.Set("pageSize", fmt.Sprint(pageSize))
		} else if page > 1 {
			// Endpoints documented as single pages (accounts, bills, loans)
			// are still followed if totalPages ever says otherwise: rows on a
			// second page must not be dropped silently.
			q.Set("page", fmt.Sprint(page))
		}
		var env pageEnvelope
		err := c.get(ctx, route, path, q, func(b []byte) error {
			env = pageEnvelope{}
			b = bytes.TrimSpace(b)
			if len(b) > 0 && b[0] == '[' {
				env.TotalPages = 1
				return json.Unmarshal(b, &env.Results)
			}
			if err := json.Unmarshal(b, &env); err != nil {
				return err
			}
			if env.Results == nil {
				return errors.New(`no "results" array in the page`)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(env.Results) > 0 {
			// A server that ignores the page parameter serves page 1 forever
			// while totalPages says there is more: stop at the first repeat,
			// before its rows go out twice.
			first, last := env.Results[0], env.Results[len(env.Results)-1]
			if page > 1 && bytes.Equal(first, prevFirst) && bytes.Equal(last, prevLast) {
				return source.SystemErrorf("Pluggy %s answered page %d with the rows of page %d (totalPages %d); stopping instead of looping", route, page, page-1, env.TotalPages)
			}
			prevFirst, prevLast = first, last
		}
		if page == 1 && onTotal != nil {
			onTotal(env.Total)
		}
		for _, r := range env.Results {
			if err := fn(r); err != nil {
				return err
			}
		}
		if page >= env.TotalPages || len(env.Results) == 0 {
			return nil
		}
	}
	return source.SystemErrorf("Pluggy %s kept paging past %d pages; stopping", route, maxPages)
}
