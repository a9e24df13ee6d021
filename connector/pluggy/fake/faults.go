package fake

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Faults schedules misbehaviour. Every "Every…" field N > 0 fires on each
// request whose sequence number is a multiple of N, where the sequence counts
// every request except POST /auth (and the admin endpoints) since the last
// SetFaults, so a test sees the same faults on every run. When several
// schedules hit the same request, the first of 429, 500, garbage and drop
// wins; EverySlow combines with any of them.
type Faults struct {
	// Every429 answers 429 with the documented body and RateLimit-Limit,
	// RateLimit-Reset and Retry-After headers.
	Every429 int
	// RetryAfterSeconds is the Retry-After (and RateLimit-Reset) value of
	// injected 429s. 0 means 1 second, to keep tests fast; the real API
	// always says 60. A negative value sends 0.
	RetryAfterSeconds int
	// RateLimitResetSeconds, when not 0, is the RateLimit-Reset of injected
	// 429s, apart from Retry-After: the real API always says Retry-After: 60
	// and puts the seconds left in its window in RateLimit-Reset (37 in the
	// reference's example), which its docs advise waiting. A negative value
	// sends 0. 0: the same as Retry-After.
	RateLimitResetSeconds int
	// RetryAfterHTTPDate sends Retry-After as an HTTP date (Now() plus the
	// delay) instead of a number of seconds.
	RetryAfterHTTPDate bool
	// Every500 answers 500 {"code":500,"codeDescription":"INTERNAL_SERVER_ERROR",...}.
	Every500 int
	// EveryGarbage answers 200 with a body that is not valid JSON:
	// alternately the real body cut in half and an HTML gateway page.
	EveryGarbage int
	// EverySlow sleeps Slow before handling (honouring cancellation).
	EverySlow int
	Slow      time.Duration
	// RevokeKeyAfter revokes, once, every key issued before request N+1:
	// from then on those keys get 403 even before their exp, while keys
	// from a new POST /auth work. Call SetFaults again to repeat it.
	RevokeKeyAfter int
	// DropMidBodyEvery writes the headers (with the full Content-Length, or
	// none for a gzip answer) and half the body, then closes the connection.
	DropMidBodyEvery int
	// RepeatNextCursor makes v2 transactions pages reached through a cursor
	// return that same cursor in `next` forever (a buggy server).
	RepeatNextCursor bool
	// EmptyPageWithNext makes every v2 transactions page return no results
	// and a `next` leading back to the same request.
	EmptyPageWithNext bool
	// Status forces a status for a route template, e.g.
	// {"GET /accounts": 404, "POST /auth": 401}. It applies to POST /auth
	// too and takes precedence over the schedules. The body is the
	// reference error body for that status and route.
	Status map[string]int
	// Deny answers 403 to the listed route templates of one item, as Pluggy
	// does for a product the item did not consent to or the plan does not
	// include: {"item id": {"GET /investments", "GET /identity"}}. The item
	// is the request's itemId, or the item of its investment (GET
	// /investments/{id}/transactions) or of its accountId (GET /bills, GET
	// /v2/transactions). The body has no codeDescription, like the 403 of
	// an expired key: only a fresh key tells them apart.
	Deny map[string][]string
	// ForbiddenDescription, when set, is the codeDescription of the 403s of
	// Deny and of a 403 forced through Status (e.g. BALANCE_CONSENT_ERROR,
	// CATEGORY_RULE_FORBIDDEN): a real denial, which pluggy-rb and the
	// reference tell from a stale key by that member alone, so a client
	// must not renew its key for it.
	ForbiddenDescription string
	// ErrorShape reshapes the bodies of the errors forced through Status
	// into the other shapes Pluggy's errors come in (pluggy-api.md, error
	// body shape): without "code", or with the cause only in a "details"
	// or an "errors" array of {code, parameter, message}.
	ErrorShape ErrorShape
}

// ErrorShape is the shape of a forced error body (Faults.ErrorShape).
type ErrorShape string

const (
	// ErrorShapeReference is {"code","codeDescription"?,"message"}.
	ErrorShapeReference ErrorShape = ""
	// ErrorShapeNoCode leaves "code" out, as some of the spec's examples
	// do ({"codeDescription"?, "message"}).
	ErrorShapeNoCode ErrorShape = "no_code"
	// ErrorShapeDetails is {"code", "message": a generic text, "details":
	// [the cause]}, as ErrorResponse in the OAS and CONNECTOR_VALIDATION_ERROR
	// are: only the details say what was wrong.
	ErrorShapeDetails ErrorShape = "details"
	// ErrorShapeErrors is {"code", "errors": [the cause]}, no message at
	// all, the shape of POST /connectors/{id}/validate's errors.
	ErrorShapeErrors ErrorShape = "errors"
)

// reshape rewrites a reference error body for route as shape says. The
// cause of a 400 is a class-validator complaint about the route's main
// parameter ("accountId must be a UUID"); of any other status, the
// reference body's codeDescription and message.
func (shape ErrorShape) reshape(route string, rep *reply) *reply {
	if shape == ErrorShapeReference {
		return rep
	}
	var ref struct {
		CodeDescription string `json:"codeDescription"`
		Message         string `json:"message"`
	}
	_ = json.Unmarshal(rep.body(), &ref)
	out := map[string]any{"code": rep.status}
	if shape == ErrorShapeNoCode {
		delete(out, "code")
		if ref.CodeDescription != "" {
			out["codeDescription"] = ref.CodeDescription
		}
		out["message"] = ref.Message
	} else {
		cause := map[string]string{"code": ref.CodeDescription, "message": ref.Message}
		if rep.status == http.StatusBadRequest {
			param := routeParam(route)
			cause = map[string]string{"code": "isUuid", "parameter": param, "message": param + " must be a UUID"}
		} else if cause["code"] == "" {
			cause["code"] = strings.ToUpper(strings.ReplaceAll(http.StatusText(rep.status), " ", "_"))
		}
		if shape == ErrorShapeDetails {
			out["message"] = "Validation failed"
			if rep.status != http.StatusBadRequest {
				out["message"] = http.StatusText(rep.status)
			}
			out["details"] = []map[string]string{cause}
		} else {
			out["errors"] = []map[string]string{cause}
		}
	}
	b, _ := json.Marshal(out)
	return &reply{status: rep.status, header: rep.header, parts: [][]byte{b}}
}

// routeParam is the parameter a request on route is mostly about.
func routeParam(route string) string {
	switch {
	case route == "GET /v2/transactions" || route == "GET /transactions" || route == "GET /bills":
		return "accountId"
	case strings.Contains(route, "{id}"):
		return "id"
	}
	return "itemId"
}

// SetFaults replaces the fault configuration and restarts the request
// sequence, so "every Nth" counts from this call.
func (s *Server) SetFaults(f Faults) {
	f.Status = maps.Clone(f.Status)
	f.Deny = maps.Clone(f.Deny)
	s.faults.Store(&f)
	s.seq.Store(0)
}

// retryAfter returns the delay of an injected 429 in seconds.
func (f *Faults) retryAfter() int {
	switch {
	case f.RetryAfterSeconds == 0:
		return 1
	case f.RetryAfterSeconds < 0:
		return 0
	}
	return f.RetryAfterSeconds
}

// tooManyRequests is the documented 429. Pluggy's limits are per endpoint
// per minute; limit is that endpoint's per-minute allowance.
func (s *Server) tooManyRequests(limit int, f *Faults) *reply {
	secs := f.retryAfter()
	rep := errorReply(http.StatusTooManyRequests, "", "Too many requests. Please try again later (see Retry-After header in seconds)")
	rep.header = http.Header{}
	rep.header.Set("RateLimit-Limit", strconv.Itoa(limit))
	reset := secs
	switch {
	case f.RateLimitResetSeconds > 0:
		reset = f.RateLimitResetSeconds
	case f.RateLimitResetSeconds < 0:
		reset = 0
	}
	rep.header.Set("RateLimit-Reset", strconv.Itoa(reset))
	if f.RetryAfterHTTPDate {
		rep.header.Set("Retry-After", s.opts.Now().Add(time.Duration(secs)*time.Second).UTC().Format(http.TimeFormat))
	} else {
		rep.header.Set("Retry-After", strconv.Itoa(secs))
	}
	return rep
}

// notFoundDescriptions maps a route's resource to its 404 codeDescription.
var notFoundDescriptions = map[string]string{
	"items": "ITEM_NOT_FOUND", "accounts": "ACCOUNT_NOT_FOUND", "transactions": "TRANSACTION_NOT_FOUND",
	"bills": "CREDIT_CARD_BILL_NOT_FOUND", "investments": "INVESTMENT_NOT_FOUND", "loans": "LOAN_NOT_FOUND",
	"identity": "IDENTITY_NOT_FOUND", "categories": "CATEGORY_NOT_FOUND", "connectors": "CONNECTOR_NOT_FOUND",
	"consents": "CONSENT_NOT_FOUND",
}

// routeResource returns "accounts" for "GET /accounts/{id}", and so on.
func routeResource(route string) string {
	_, path, _ := strings.Cut(route, " ")
	path = strings.TrimPrefix(path, "/v2")
	path = strings.TrimPrefix(path, "/")
	res, _, _ := strings.Cut(path, "/")
	return res
}

// forcedStatus builds the reference error body for a status forced through
// Faults.Status.
func (s *Server) forcedStatus(route string, code int, f *Faults) *reply {
	switch code {
	case http.StatusBadRequest:
		return validationError("Bad Request")
	case http.StatusUnauthorized:
		return errorReply(code, "CLIENT_KEYS_UNAUTHORIZED", "Client keys are invalid")
	case http.StatusForbidden:
		if f.ForbiddenDescription != "" {
			return f.permissionDenied()
		}
		return notAuthenticated()
	case http.StatusNotFound:
		res := routeResource(route)
		desc := notFoundDescriptions[res]
		if desc == "" {
			return errorReply(code, "", "Not Found")
		}
		return errorReply(code, desc, strings.ReplaceAll(strings.TrimSuffix(strings.ToLower(desc), "_not_found"), "_", " ")+" not found")
	case http.StatusGone:
		return s.deprecated()
	case http.StatusTooManyRequests:
		limit := 360
		if route == "PATCH /items/{id}" {
			limit = 20
		}
		return s.tooManyRequests(limit, f)
	case http.StatusInternalServerError:
		return internalError()
	case http.StatusBadGateway:
		return errorReply(code, "INSTITUTION_UNAVAILABLE", "The institution is unavailable")
	case http.StatusServiceUnavailable:
		return errorReply(code, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
	}
	return errorReply(code, "", http.StatusText(code))
}

// denied reports whether f denies route to the item r is about.
func (s *Server) denied(f *Faults, route string, r *http.Request) bool {
	if len(f.Deny) == 0 {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	q := r.URL.Query()
	itemID := q.Get("itemId")
	if in := s.lookupInvestment(r.PathValue("id")); in != nil && strings.HasPrefix(route, "GET /investments/") {
		itemID = in.json.ItemID
	}
	if a := s.lookupAccount(q.Get("accountId")); a != nil {
		itemID = a.item.idStr
	}
	return slices.Contains(f.Deny[strings.ToLower(itemID)], route)
}

// permissionDenied is the 403 of a product the item may not read. Pluggy's
// docs say only "the resource you are trying to access, you don't have
// permissions"; the body is shaped like its other errors, without
// codeDescription unless f.ForbiddenDescription gives one.
func (f *Faults) permissionDenied() *reply {
	return errorReply(http.StatusForbidden, f.ForbiddenDescription, "You don't have permission to access this resource")
}

// deprecated is the 410 v1 /transactions answers for newer API keys.
func (s *Server) deprecated() *reply {
	b := []byte(`{"message":"This endpoint is deprecated. Use GET /v2/transactions with cursor pagination instead.","code":410,"codeDescription":"ENDPOINT_DEPRECATED","errorId":"`)
	b = append(b, s.errorID()...)
	b = append(b, `"}`...)
	return &reply{status: http.StatusGone, parts: [][]byte{b}}
}
