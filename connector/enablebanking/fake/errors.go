package fake

import (
	"encoding/json"
	"net/http"
)

// apiError is the API's error envelope, as real answers carry it.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
	Detail  any    `json:"detail"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":500,"message":"encoding failed","detail":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e apiError) { writeJSON(w, e.Code, e) }

func errUnauthorized() apiError {
	return apiError{Code: 401, Message: "Unauthorized access", Error: "UNAUTHORIZED_ACCESS"}
}

func errNoAuthorization() apiError {
	return apiError{Code: 401, Message: "Authorization header is not provided", Error: "AUTHORIZATION_NOT_PROVIDED"}
}

func errExpiredSession() apiError {
	return apiError{Code: 401, Message: "Session is expired", Error: "EXPIRED_SESSION"}
}

func errNoSession() apiError {
	return apiError{Code: 404, Message: "Session does not exist", Error: "SESSION_DOES_NOT_EXIST"}
}

func errNoAccount() apiError {
	return apiError{Code: 404, Message: "Account does not exist", Error: "ACCOUNT_DOES_NOT_EXIST"}
}

func errASPSP() apiError {
	return apiError{Code: 400, Message: "Error interacting with ASPSP", Error: "ASPSP_ERROR", Detail: "Unknown error"}
}

// errRateLimit is the bank's refusal of one more unattended read; some
// banks put the account number into the message.
func errRateLimit(account string) apiError {
	return apiError{Code: 429, Message: "ASPSP rate limit exceeded: limit for " + account + " is reached", Error: "ASPSP_RATE_LIMIT_EXCEEDED"}
}

// errWrongParameters is the real 422 a bank answers to a continuation key
// used with other parameters than the call that made it.
func errWrongParameters(what string) apiError {
	msg := what + " in request is not the same as in continuationKey. Continuation key is only valid for the same getAccountTransactions parameters"
	return apiError{Code: 422, Message: msg, Error: "WRONG_REQUEST_PARAMETERS",
		Detail: map[string]any{"message": msg, "error_name": "ParameterValidationException", "error_data": map[string]any{}}}
}

func errBadRequest(code, msg string) apiError {
	return apiError{Code: 422, Message: msg, Error: code}
}
