package fake

import (
	"fmt"
	"time"
)

// institution is the wire shape of GET /institutions/{id}/. The day counts
// are strings on the real API and stay strings here, so that clients which
// assume numbers fail in tests rather than in production.
type institution struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	BIC                  string   `json:"bic"`
	TransactionTotalDays string   `json:"transaction_total_days"`
	MaxAccessValidDays   string   `json:"max_access_valid_for_days"`
	Countries            []string `json:"countries"`
	Logo                 string   `json:"logo"`
	SupportedPayments    struct{} `json:"supported_payments"`
	SupportedFeatures    []string `json:"supported_features"`
	Identification       []string `json:"identification_codes"`
	// SeparateContinuousHistoryConsent is set per server, from
	// Options.SeparateHistoryConsent, and always for the extra institutions
	// (LHV) that connect can link.
	SeparateContinuousHistoryConsent bool `json:"separate_continuous_history_consent"`

	country    string // IBAN country of its accounts
	bankCode   string // first part of the BBAN
	bbanDigits int    // random digits after bankCode
	days       int    // TransactionTotalDays as a number, for date_from checks
}

// institutions is the fixed list the requisitions draw from. The three
// history lengths (540, 90 and 730 days) are the values clients meet in
// practice; the ids are those Actual Budget's bank adapters key on.
var institutions = []institution{
	newInstitution("BELFIUS_GKCCBEBB", "Belfius", "GKCCBEBB", 540, "BE", "068", 9),
	newInstitution("NATIONWIDE_NAIAGB21", "Nationwide Building Society", "NAIAGB21", 90, "GB", "NAIA070116", 8),
	newInstitution("ING_INGDDEFF", "ING", "INGDDEFF", 730, "DE", "50010517", 10),
}

func newInstitution(id, name, bic string, days int, country, bankCode string, bbanDigits int) institution {
	return institution{
		ID:                   id,
		Name:                 name,
		BIC:                  bic,
		TransactionTotalDays: fmt.Sprint(days),
		MaxAccessValidDays:   "180",
		Countries:            []string{country},
		Logo:                 "https://cdn.nordigen.com/ais/" + id + ".png",
		SupportedFeatures:    []string{"account_selection", "business_accounts", "card_accounts", "private_accounts"},
		Identification:       []string{},
		country:              country,
		bankCode:             bankCode,
		bbanDigits:           bbanDigits,
		days:                 days,
	}
}

func findInstitution(id string) (institution, bool) {
	for _, in := range append(institutions[:len(institutions):len(institutions)], extraInstitutions...) {
		if in.ID == id {
			return in, true
		}
	}
	return institution{}, false
}

// Requisition statuses the fixture starts in; the API has more (CR, GC,
// UA, RJ, SA, GA, ID, ER, SU: connect walks through some, and
// SetRequisitionStatus sets any).
const (
	statusLinked  = "LN"
	statusExpired = "EX"
)

// requisition is the wire shape of GET /requisitions/{id}/.
type requisition struct {
	ID                string   `json:"id"`
	Created           string   `json:"created"`
	Redirect          string   `json:"redirect"`
	Status            string   `json:"status"`
	InstitutionID     string   `json:"institution_id"`
	Agreement         string   `json:"agreement"`
	Reference         string   `json:"reference"`
	Accounts          []string `json:"accounts"`
	UserLanguage      string   `json:"user_language"`
	Link              string   `json:"link"`
	SSN               *string  `json:"ssn"`
	AccountSelection  bool     `json:"account_selection"`
	RedirectImmediate bool     `json:"redirect_immediate"`

	expiredAt string // set by ExpireRequisition, quoted in the 401 detail
	// linked marks a requisition made through POST /requisitions/.
	linked bool
	// pendingPolls is how many more GETs read GA before LN after consent.
	pendingPolls int
	// script is what the next GETs read after consent, one status each,
	// instead of GA then LN (ScriptLinking); the last one stays.
	script []string
}

// agreement is the wire shape of GET /agreements/enduser/{id}/. Unlike the
// institution's, its day counts are numbers on the real API.
type agreement struct {
	ID                 string   `json:"id"`
	Created            string   `json:"created"`
	MaxHistoricalDays  int      `json:"max_historical_days"`
	AccessValidForDays int      `json:"access_valid_for_days"`
	AccessScope        []string `json:"access_scope"`
	Accepted           string   `json:"accepted"`
	InstitutionID      string   `json:"institution_id"`
	// Reconfirmation says the agreement can be extended without a new
	// one (UK banks, enterprise customers); see ReconfirmAgreement.
	Reconfirmation bool `json:"reconfirmation"`
}

// reconfirmation is the wire shape of GET
// /agreements/enduser/{id}/reconfirm/ (RobinTTY/NordigenApiClient's
// Reconfirmation model). A submitted one extends access by
// access_valid_for_days from last_submitted.
type reconfirmation struct {
	Created           string  `json:"created"`
	ReconfirmationURL string  `json:"reconfirmation_url"`
	URLValidFrom      string  `json:"url_valid_from"`
	URLValidTo        string  `json:"url_valid_to"`
	LastAccessed      *string `json:"last_accessed"`
	LastSubmitted     *string `json:"last_submitted"`
	Redirect          string  `json:"redirect"`
}

// accountMeta is the wire shape of GET /accounts/{id}/.
type accountMeta struct {
	ID            string `json:"id"`
	Created       string `json:"created"`
	LastAccessed  string `json:"last_accessed"`
	IBAN          string `json:"iban,omitempty"` // none on a card account
	InstitutionID string `json:"institution_id"`
	Status        string `json:"status"`
	OwnerName     string `json:"owner_name"`
	Name          string `json:"name,omitempty"`
}

// Account statuses as GET /accounts/{id}/ reports them.
const (
	accountReady     = "READY"
	accountExpired   = "EXPIRED"
	accountSuspended = "SUSPENDED"
)

// accountDetails is the Berlin Group account object served under "account"
// by GET /accounts/{id}/details/. Everything but currency is optional, and
// each account leaves out a different subset.
type accountDetails struct {
	ResourceID               string   `json:"resourceId,omitempty"`
	IBAN                     string   `json:"iban,omitempty"`
	BBAN                     string   `json:"bban,omitempty"`
	BIC                      string   `json:"bic,omitempty"`
	Currency                 string   `json:"currency"`
	Name                     string   `json:"name,omitempty"`
	DisplayName              string   `json:"displayName,omitempty"`
	Product                  string   `json:"product,omitempty"`
	CashAccountType          string   `json:"cashAccountType,omitempty"`
	OwnerName                string   `json:"ownerName,omitempty"`
	OwnerAddressUnstructured []string `json:"ownerAddressUnstructured,omitempty"`
	Usage                    string   `json:"usage,omitempty"`
	Status                   string   `json:"status,omitempty"`
	Details                  string   `json:"details,omitempty"`
	LinkedAccounts           string   `json:"linkedAccounts,omitempty"`
	MSISDN                   string   `json:"msisdn,omitempty"`
	MaskedPAN                string   `json:"maskedPan,omitempty"`
}

// ownerNames are deliberately not ASCII: owner names reach the warehouse.
var ownerNames = []string{"Jürgen Weiß", "Zoë Ó Briain", "Anaïs Lefèvre", "Søren Kierkegård"}

const (
	dateLayout = "2006-01-02"
	// apiTimeLayout is how the API itself (not the banks) writes times.
	apiTimeLayout = "2006-01-02T15:04:05.000000Z"
)

// buildRequisitions creates the linked requisitions, their agreements and
// accounts. anchor is midnight UTC of the day New was called.
func (s *Server) buildRequisitions(anchor time.Time) {
	r := newRNG(s.opts.Seed, "requisitions")
	for i := 0; i < s.opts.Requisitions; i++ {
		inst := pick(r, institutions)
		created := anchor.Add(-time.Duration(20+r.intn(40))*24*time.Hour - time.Duration(r.intn(86400))*time.Second)
		agr := &agreement{
			ID:                 r.uuid(),
			Created:            created.Add(-time.Minute).Format(apiTimeLayout),
			MaxHistoricalDays:  inst.days,
			AccessValidForDays: 90,
			AccessScope:        []string{"balances", "details", "transactions"},
			Accepted:           created.Add(3 * time.Minute).Format(apiTimeLayout),
			InstitutionID:      inst.ID,
		}
		req := &requisition{
			ID:            r.uuid(),
			Created:       created.Format(apiTimeLayout),
			Redirect:      "http://localhost:8080/gocardless/callback",
			Status:        statusLinked,
			InstitutionID: inst.ID,
			Agreement:     agr.ID,
			Reference:     fmt.Sprintf("household-%d", i+1), // the client's own label for the link
			Accounts:      []string{},
			UserLanguage:  pick(r, []string{"EN", "DE", "FR"}),
		}
		req.Link = "https://ob.gocardless.com/ob-psd2/start/" + req.ID + "/" + inst.ID
		s.agreements[agr.ID] = agr
		s.requisitions[req.ID] = req
		s.requisitionOrder = append(s.requisitionOrder, req.ID)
		for j := 0; j < 2; j++ {
			a := s.buildAccount(len(s.accountOrder), req, inst, created, anchor)
			req.Accounts = append(req.Accounts, a.meta.ID)
		}
	}
}
