package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is the API's error body. Type is present only on the errors of
// account endpoints, which is how a client tells the bank-level 429 from
// the company-level one.
type apiError struct {
	Summary    string `json:"summary"`
	Detail     string `json:"detail"`
	StatusCode int    `json:"status_code"`
	Type       string `json:"type,omitempty"`
	// Field, when set, puts summary and detail under the field's name, as
	// the API answers a bad query parameter:
	// {"date_from":{"summary":"Date can't be in future","detail":"…"},"status_code":400}.
	Field string `json:"-"`
}

// MarshalJSON writes the error flat, or under Field.
func (e apiError) MarshalJSON() ([]byte, error) {
	type flat apiError
	if e.Field == "" {
		return json.Marshal(flat(e))
	}
	return json.Marshal(map[string]any{
		e.Field:       map[string]string{"summary": e.Summary, "detail": e.Detail},
		"status_code": e.StatusCode,
	})
}

func errNotFound() apiError {
	return apiError{Summary: "Not found.", Detail: "Not found.", StatusCode: http.StatusNotFound}
}

func errInvalidToken() apiError {
	return apiError{Summary: "Invalid token", Detail: "Token is invalid or expired", StatusCode: http.StatusUnauthorized}
}

func errNoCredentials() apiError {
	const text = "Authentication credentials were not provided."
	return apiError{Summary: text, Detail: text, StatusCode: http.StatusUnauthorized}
}

func errAuthFailed() apiError {
	return apiError{
		Summary:    "Authentication failed",
		Detail:     "No active account found with the given credentials",
		StatusCode: http.StatusUnauthorized,
	}
}

func errInvalidInput(summary, detail string) apiError {
	return apiError{Summary: summary, Detail: detail, StatusCode: http.StatusBadRequest}
}

func errAccessExpired(agr *agreement, expiredAt string) apiError {
	return apiError{
		Summary: "Access has expired or it has been revoked",
		Detail: fmt.Sprintf("EUA was valid for %d days and it expired at %s. "+
			"The end user has to give consent again through a new requisition.", agr.AccessValidForDays, expiredAt),
		StatusCode: http.StatusUnauthorized,
		Type:       "AccessExpiredError",
	}
}

// errExpiredAgreement is the other answer an expired end-user agreement
// gets, with no type: a 401 (Options.UntypedExpiry, opencollective#8538),
// so a client that renews its token on every untyped 401 spends a refresh
// and another failed bank call on it; or a 400 (Options.BadRequestExpiry,
// actualbudget/actual#3826), which a client that reads 400 as "my input
// was wrong" reports as its own bug instead of asking for a re-link.
func errExpiredAgreement(agr *agreement, expiredAt string, status int) apiError {
	return apiError{
		Summary: fmt.Sprintf("End User Agreement (EUA) %s has expired", agr.ID),
		Detail: fmt.Sprintf("EUA was valid for %d days and it expired at %s. "+
			"The end user must connect the account once more with new EUA and Requisition", agr.AccessValidForDays, expiredAt),
		StatusCode: status,
	}
}

// errAccountInactive is the 401 AccountInactiveError of GoCardless's
// account-error table (SetAccountInactive). The table gives no detail; this
// one is the fake's. The type is what a client must go by.
func errAccountInactive(accountID string) apiError {
	return apiError{
		Summary:    "Account inactive",
		Detail:     fmt.Sprintf("Account %s is not active at the institution. The end user must connect the account once more with a new requisition.", accountID),
		StatusCode: http.StatusUnauthorized,
		Type:       "AccountInactiveError",
	}
}

// errIPDenied is the 403 every endpoint answers a client whose address is
// not on the allow-list (Options.AllowedIPs). GoCardless documents the
// status, not the body; the summary is the one Actual's AccessDenied error
// gives it.
func errIPDenied(ip string) apiError {
	return apiError{
		Summary:    "IP address access denied",
		Detail:     fmt.Sprintf("IP address %s is not on the IP allow-list of this user secret", ip),
		StatusCode: http.StatusForbidden,
	}
}

// errProcessing is the temporary 409 (firefly-iii#10531): the same status
// as a suspension, told apart only by its summary.
func errProcessing() apiError {
	return apiError{
		Summary:    "Account is Processing",
		Detail:     "Your account data is currently being processed. Please try again shortly.",
		StatusCode: http.StatusConflict,
	}
}

func errSuspended(accountID string) apiError {
	return apiError{
		Summary: "Account suspended",
		Detail: fmt.Sprintf("Account %s has been suspended after %d consecutive failed access attempts. "+
			"A new requisition is needed to access it again.", accountID, suspendAfter),
		StatusCode: http.StatusConflict,
	}
}

// errInstitution is the answer when the bank behind an account fails. Only
// the 500 adds to the suspension count.
func errInstitution(status int) apiError {
	if status == http.StatusServiceUnavailable {
		return apiError{
			Summary:    "Service unavailable",
			Detail:     "Institution service unavailable",
			StatusCode: status,
			Type:       "ServiceError",
		}
	}
	return apiError{
		Summary:    "Institution error",
		Detail:     "Request to Institution returned an error",
		StatusCode: http.StatusInternalServerError,
		Type:       "UnknownRequestError",
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var body []byte
	if raw, ok := v.([]byte); ok {
		body = raw
	} else {
		body = encode(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func writeError(w http.ResponseWriter, e apiError) { writeJSON(w, e.StatusCode, e) }
