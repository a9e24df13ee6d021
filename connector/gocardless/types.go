package gocardless

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Wire types: only what the connector reads to drive auth, windows, quota
// and keys. Records pass through as the API's raw JSON, so the exact digits
// of amounts and fields GoCardless adds later survive untouched.

// apiError is the API's error body. type is set on the errors of account
// endpoints only: it is how a bank-level 429 (RateLimitError) is told from
// the company-level one (no type).
type apiError struct {
	Summary    string          `json:"summary"`
	Detail     json.RawMessage `json:"detail"`
	StatusCode int             `json:"status_code"`
	Type       string          `json:"type"`
	// Fields are the query parameters the error comes under, sorted (see
	// decodeAPIError).
	Fields []string `json:"-"`
}

// detail is the error's detail as text; validation errors send an object
// or a list there instead of a string.
func (e apiError) detail() string {
	var s string
	if json.Unmarshal(e.Detail, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(e.Detail))
}

// decodeAPIError reads an error body. A bad query parameter's error comes
// under the parameter's name, {"date_from":{"summary":…,"detail":…},
// "status_code":400}: its summary is then "date_from: …", so the message
// says which parameter and why rather than a bare "HTTP 400".
func decodeAPIError(body []byte) apiError {
	var e apiError
	_ = json.Unmarshal(body, &e)
	if e.Summary != "" || len(e.Detail) > 0 {
		return e
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return e
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names) // one message whatever the order of the members
	for _, name := range names {
		var f apiError
		if json.Unmarshal(fields[name], &f) != nil || f.Summary == "" && len(f.Detail) == 0 {
			continue
		}
		if e.Summary != "" {
			e.Summary += "; "
		}
		e.Fields = append(e.Fields, name)
		e.Summary += name + ": " + cmp.Or(f.Summary, f.detail())
		if d := f.detail(); d != "" && d != f.Summary {
			e.Summary += " (" + d + ")"
		}
	}
	return e
}

// describe is the error as the user reads it: "summary: detail".
func (e apiError) describe(status int) string {
	s := "HTTP " + strconv.Itoa(status)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Summary != "" {
		s += ": " + e.Summary
	}
	if d := e.detail(); d != "" && d != e.Summary {
		s += " (" + d + ")"
	}
	return s
}

// Error types of the account endpoints (GoCardless help-centre table).
const (
	typeRateLimit       = "RateLimitError"
	typeUnknownRequest  = "UnknownRequestError"
	typeService         = "ServiceError"
	typeAccessExpired   = "AccessExpiredError"
	typeAccountInactive = "AccountInactiveError"
)

// tokenPair is the answer of POST /token/new/ (access and refresh) and of
// POST /token/refresh/ (access only).
type tokenPair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// accept decodes a token answer, as httpclient.Request.Accept.
func (tp *tokenPair) accept(b []byte) error {
	*tp = tokenPair{}
	if err := json.Unmarshal(b, tp); err != nil {
		return err
	}
	if tp.Access == "" {
		return errors.New("no access token in the answer")
	}
	return nil
}

// requisition is what the connector reads of a requisition.
type requisition struct {
	ID            string   `json:"id"`
	Status        string   `json:"status"`
	InstitutionID string   `json:"institution_id"`
	Agreement     string   `json:"agreement"`
	Accounts      []string `json:"accounts"`
}

// Requisition statuses. Only LN can be read.
const statusLinked = "LN"

// statusText explains a requisition status that is not LN.
var statusText = map[string]string{
	"CR": "created, the end user has not started the bank's consent flow",
	"GC": "giving consent",
	"UA": "undergoing authentication at the bank",
	"RJ": "rejected: the end user or the bank refused consent",
	"SA": "selecting accounts",
	"GA": "granting access",
	"EX": "expired: the end-user agreement ran out or was revoked",
	"ID": "identity check pending",
	"ER": "failed with an error",
	"SU": "suspended",
}

// agreement is what the connector reads of an end-user agreement.
type agreement struct {
	MaxHistoricalDays  int     `json:"max_historical_days"`
	AccessValidForDays int     `json:"access_valid_for_days"`
	Accepted           *string `json:"accepted"`
	// Reconfirmation: the agreement can be extended without a new one.
	Reconfirmation bool `json:"reconfirmation"`
}

// reconfirmation is what the connector reads of GET
// /agreements/enduser/{id}/reconfirm/.
type reconfirmation struct {
	LastSubmitted *string `json:"last_submitted"`
}

// institution is what the connector reads of an institution. Its day
// counts are strings on the real API.
type institution struct {
	ID                   string          `json:"id"`
	TransactionTotalDays json.RawMessage `json:"transaction_total_days"`
	// SeparateContinuousHistoryConsent: asked for more than 90 days of
	// history, the bank serves a frozen answer (see frozenHistoryDays).
	// Read as raw JSON: a field no SDK types must not break the decode
	// that brings transaction_total_days.
	SeparateContinuousHistoryConsent json.RawMessage `json:"separate_continuous_history_consent"`
	// The fields below are what connect needs to pick a bank and shape
	// its end-user agreement.
	Name               string          `json:"name"`
	BIC                string          `json:"bic"`
	Countries          []string        `json:"countries"`
	MaxAccessValidDays json.RawMessage `json:"max_access_valid_for_days"`
}

// separateHistory reads separate_continuous_history_consent: true or "true".
func (in institution) separateHistory() bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(string(in.SeparateContinuousHistoryConsent)), `"`), "true")
}

// totalDays parses transaction_total_days, a string ("540") or a number.
func (in institution) totalDays() (int, bool) { return dayCount(in.TransactionTotalDays) }

// accessDays parses max_access_valid_for_days, a string or a number.
func (in institution) accessDays() (int, bool) { return dayCount(in.MaxAccessValidDays) }

func dayCount(raw json.RawMessage) (int, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// balancesEnvelope is GET /accounts/{id}/balances/.
type balancesEnvelope struct {
	Balances []json.RawMessage `json:"balances"`
}

// detailsEnvelope is GET /accounts/{id}/details/.
type detailsEnvelope struct {
	Account json.RawMessage `json:"account"`
}

// txKeys are the fields of a transaction that drive keys and the cursor.
type txKeys struct {
	TransactionID         *string `json:"transactionId"`
	InternalTransactionID *string `json:"internalTransactionId"`
	BookingDate           string  `json:"bookingDate"`
	ValueDate             string  `json:"valueDate"`
}

// date is the row's date as the API filters on it: bookingDate, else
// valueDate; "" when the bank sent neither.
func (k txKeys) date() string {
	if d := dateOnly(k.BookingDate); d != "" {
		return d
	}
	return dateOnly(k.ValueDate)
}

// before reports that a row is older than day by both its dates, so a call
// from day would not have returned it: the API matches a row on its
// bookingDate OR its valueDate. A row without dates is never before.
func (k txKeys) before(day string) bool {
	b, v := dateOnly(k.BookingDate), dateOnly(k.ValueDate)
	if b == "" && v == "" {
		return false
	}
	return (b == "" || b < day) && (v == "" || v < day)
}

// dateOnly returns the YYYY-MM-DD prefix of s when it has one.
func dateOnly(s string) string {
	if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
		return s[:10]
	}
	return ""
}

// balanceKeys are the fields of a balance that make its key.
type balanceKeys struct {
	BalanceType   string `json:"balanceType"`
	ReferenceDate string `json:"referenceDate"`
}
