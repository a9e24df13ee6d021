package pluggy

import "encoding/json"

// Wire types: only what the connector reads to drive paging, state and
// joins. Records themselves pass through as the API's raw JSON, so fields
// Pluggy adds later and the exact digits of amounts survive untouched.

// apiError is Pluggy's error body. code may be absent; codeDescription is
// the stable identifier when present. Some errors carry their cause only in
// a details or errors array, under a generic message ("Validation failed")
// or none at all, and some add data (pluggy-api.md, error body shape).
type apiError struct {
	Code            json.Number     `json:"code"`
	CodeDescription string          `json:"codeDescription"`
	Message         string          `json:"message"`
	Details         []apiErrorCause `json:"details"`
	Errors          []apiErrorCause `json:"errors"`
	Data            json.RawMessage `json:"data"`
}

// apiErrorCause is one entry of an error's details or errors.
type apiErrorCause struct {
	Code      string `json:"code"`
	Parameter string `json:"parameter"`
	Message   string `json:"message"`
}

// pageEnvelope is the page-number envelope of most list endpoints.
type pageEnvelope struct {
	Page int `json:"page"`
	// Total is kept as sent and read by pageTotal: it only feeds an
	// estimate, so a total that is not a count must not fail the page.
	Total      json.RawMessage   `json:"total"`
	TotalPages int               `json:"totalPages"`
	Results    []json.RawMessage `json:"results"`
}

// item is what the connector reads of an Item.
type item struct {
	ID               string  `json:"id"`
	Status           string  `json:"status"`
	ExecutionStatus  string  `json:"executionStatus"`
	ConsentExpiresAt *string `json:"consentExpiresAt"`
	// StatusDetail is kept raw, like Connector: its shape (per product,
	// two spellings of one key) must never fail an item.
	StatusDetail json.RawMessage `json:"statusDetail"`
	// Connector is the institution, kept raw so an unexpected shape never
	// fails an item; connect prints its name.
	Connector json.RawMessage `json:"connector"`
}

// connectorName is the item's connector name, or "" when it has none.
func (it item) connectorName() string {
	var c struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(it.Connector, &c)
	return c.Name
}

// connectorID is the id of the item's connector (its institution), or ""
// when it has none.
func (it item) connectorID() string {
	var c struct {
		ID json.Number `json:"id"`
	}
	_ = json.Unmarshal(it.Connector, &c)
	return c.ID.String()
}

// account is what the connector reads of an Account.
type account struct {
	ID     string `json:"id"`
	ItemID string `json:"itemId"`
	Type   string `json:"type"`
}

// accountTypeCredit is a credit card account's type.
const accountTypeCredit = "CREDIT"

// txKeys are the fields of a transaction that drive dedupe and state.
type txKeys struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
	Date      string `json:"date"`
}

type authResponse struct {
	APIKey string `json:"apiKey"`
}
