package enablebanking

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
)

// apiError is Enable Banking's error envelope: {"message", "code" (the HTTP
// status), "error" (an ErrorCode), "detail"}. detail arrives as null, a
// string or an object ({message, error_name, error_data}); code as a number
// or a string. Errors are classified by their "error" code, never by status
// or message: the same status carries unrelated codes.
type apiError struct {
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
	Error   string          `json:"error"`
	Detail  json.RawMessage `json:"detail"`
}

func decodeAPIError(body []byte) apiError {
	var e apiError
	_ = json.Unmarshal(body, &e)
	return e
}

// detail is the error's detail as text: the string, the object's message,
// or the object itself.
func (e apiError) detail() string {
	d := strings.TrimSpace(string(e.Detail))
	if d == "" || d == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(e.Detail, &s) == nil {
		return s
	}
	var obj struct {
		Message   string `json:"message"`
		ErrorName string `json:"error_name"`
	}
	if json.Unmarshal(e.Detail, &obj) == nil && obj.Message != "" {
		if obj.ErrorName != "" {
			return obj.ErrorName + ": " + obj.Message
		}
		return obj.Message
	}
	return d
}

// describe is the error as the user reads it: "HTTP 422
// WRONG_REQUEST_PARAMETERS: message (detail)".
func (e apiError) describe(status int) string {
	s := "HTTP " + strconv.Itoa(status)
	if e.Error != "" {
		s += " " + e.Error
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if d := e.detail(); d != "" && d != e.Message {
		s += " (" + d + ")"
	}
	return s
}

// Error codes the connector acts on (the API's ErrorCode enum).
const (
	codeRateLimit        = "ASPSP_RATE_LIMIT_EXCEEDED"
	codeASPSPError       = "ASPSP_ERROR"
	codeASPSPTimeout     = "ASPSP_TIMEOUT"
	codePSUHeaderMissing = "PSU_HEADER_NOT_PROVIDED"
	codePSUHeaderInvalid = "PSU_HEADER_INVALID"
	codeUnauthorized     = "UNAUTHORIZED_ACCESS"
)

// errorClass is who must act on an error.
type errorClass int

const (
	classOther       errorClass = iota
	classReauth                 // the session is gone: authorise again (connect)
	classRateLimited            // the bank's daily limit: skip until it resets
	classCredentials            // application_id / private_key
	classBank                   // the bank failed: try again later
	classPSUHeaders             // the bank wants the user present
)

// reauthCodes mean the session (or the account within it) cannot be read
// until the account holder authorises again.
var reauthCodes = map[string]bool{
	"EXPIRED_SESSION": true, "CLOSED_SESSION": true, "REVOKED_SESSION": true,
	"SESSION_DOES_NOT_EXIST": true, "ASPSP_PSU_ACTION_REQUIRED": true,
	"INVALID_ACCOUNT_ID": true, "ACCOUNT_DOES_NOT_EXIST": true,
	"ASPSP_ACCOUNT_NOT_ACCESSIBLE": true, "WRONG_SESSION_STATUS": true,
}

// accountCodes are the reauthCodes that name one account, not its
// session (closed or blocked at the bank since the consent): they fail
// that account, and the session's other accounts are still called.
var accountCodes = map[string]bool{
	"INVALID_ACCOUNT_ID": true, "ACCOUNT_DOES_NOT_EXIST": true, "ASPSP_ACCOUNT_NOT_ACCESSIBLE": true,
}

var credentialCodes = map[string]bool{
	codeUnauthorized: true, "ACCESS_DENIED": true, "AUTHORIZATION_NOT_PROVIDED": true, "UNAUTHORIZED_IP": true,
}

// classify says who must act on a non-2xx answer.
func classify(status int, e apiError) errorClass {
	switch {
	case e.Error == codeRateLimit || (status == 429 && e.Error == ""):
		return classRateLimited
	case reauthCodes[e.Error]:
		return classReauth
	case credentialCodes[e.Error]:
		return classCredentials
	case e.Error == codePSUHeaderMissing || e.Error == codePSUHeaderInvalid:
		return classPSUHeaders
	case e.Error == codeASPSPError || e.Error == codeASPSPTimeout || status == 408 || status >= 500:
		return classBank
	case e.Error == "" && (status == 401 || status == 403):
		// A refusal without a recognisable body: the token itself.
		return classCredentials
	}
	return classOther
}

// statusOf returns the non-2xx answer inside err with its decoded body.
func statusOf(err error) (*httpclient.StatusError, apiError, bool) {
	var se *httpclient.StatusError
	if !errors.As(err, &se) {
		return nil, apiError{}, false
	}
	return se, decodeAPIError(se.Body), true
}
