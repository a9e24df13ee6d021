package fake

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The linking flow, as a `connect` command drives it: POST an end-user
// agreement, POST a requisition whose redirect is the caller's callback,
// send the user to the requisition's link, where the bank asks for consent,
// and follow the redirect back with ?ref=<reference>. The fake's bank is a
// small HTML page at /psd2/start/{requisition}/{institution} (what the
// real link's path looks like) with Approve and Refuse buttons.

// Routes of the linking flow, for Stats.
const (
	RouteCreateAgreement   = "POST /api/v2/agreements/enduser/"
	RouteCreateRequisition = "POST /api/v2/requisitions/"
	RouteConsent           = "/psd2/start/{id}/{institution}/"
)

// Requisition statuses of the linking flow.
const (
	statusCreated  = "CR"
	statusUA       = "UA"
	statusGranting = "GA"
	statusRejected = "RJ"
)

// extraInstitutions can be linked but hold no fixture requisition (so the
// generated data does not depend on them). LHV is one of the banks with
// separate_continuous_history_consent.
var extraInstitutions = []institution{
	withSeparateConsent(newInstitution("LHV_LHVBEE22", "LHV Pank", "LHVBEE22", 730, "EE", "77", 14)),
}

func withSeparateConsent(in institution) institution {
	in.SeparateContinuousHistoryConsent = true
	in.MaxAccessValidDays = "90"
	return in
}

// Linked returns the requisitions created through POST /requisitions/, in
// order.
func (s *Server) Linked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.requisitionOrder {
		if s.requisitions[id].linked {
			out = append(out, id)
		}
	}
	return out
}

// AgreementOf returns the end-user agreement of a requisition as the API
// serves it (nil when unknown).
func (s *Server) AgreementOf(requisitionID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	rq, ok := s.requisitions[requisitionID]
	if !ok {
		return nil
	}
	a, ok := s.agreements[rq.Agreement]
	if !ok {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(encode(a), &m)
	return m
}

func (s *Server) handleCreateAgreement(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InstitutionID      string   `json:"institution_id"`
		MaxHistoricalDays  *int     `json:"max_historical_days"`
		AccessValidForDays *int     `json:"access_valid_for_days"`
		AccessScope        []string `json:"access_scope"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	in, ok := findInstitution(req.InstitutionID)
	if !ok {
		writeFieldError(w, "institution_id", "Unknown Institution ID", fmt.Sprintf("Get Institution IDs from /institutions/?country=%s", "{$COUNTRY_CODE}"))
		return
	}
	hist, access := in.days, 90
	if req.MaxHistoricalDays != nil {
		hist = *req.MaxHistoricalDays
	}
	if req.AccessValidForDays != nil {
		access = *req.AccessValidForDays
	}
	maxAccess, _ := strconv.Atoi(in.MaxAccessValidDays)
	switch {
	case hist < 1 || hist > in.days:
		writeFieldError(w, "max_historical_days", "Incorrect max_historical_days", fmt.Sprintf("max_historical_days must be > 0 and <= %d for %s", in.days, in.ID))
		return
	case access < 1 || access > maxAccess:
		writeFieldError(w, "access_valid_for_days", "Incorrect access_valid_for_days", fmt.Sprintf("access_valid_for_days must be > 0 and <= %d", maxAccess))
		return
	}
	scope := req.AccessScope
	if len(scope) == 0 {
		scope = []string{"balances", "details", "transactions"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	agr := &agreement{
		ID: newRNG(s.opts.Seed, fmt.Sprintf("agreement-%d", len(s.agreements))).uuid(), Created: s.now().Format(apiTimeLayout),
		MaxHistoricalDays: hist, AccessValidForDays: access, AccessScope: scope, InstitutionID: in.ID,
	}
	s.agreements[agr.ID] = agr
	writeJSON(w, http.StatusCreated, agr)
}

func (s *Server) handleCreateRequisition(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Redirect      string `json:"redirect"`
		InstitutionID string `json:"institution_id"`
		Agreement     string `json:"agreement"`
		Reference     string `json:"reference"`
		UserLanguage  string `json:"user_language"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if u, err := url.Parse(req.Redirect); req.Redirect == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		writeFieldError(w, "redirect", "Invalid redirect", "redirect must be an http(s) URL")
		return
	}
	in, ok := findInstitution(req.InstitutionID)
	if !ok {
		writeFieldError(w, "institution_id", "Unknown Institution ID", "Get Institution IDs from /institutions/")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Agreement != "" {
		agr, ok := s.agreements[req.Agreement]
		if !ok || agr.InstitutionID != in.ID {
			writeFieldError(w, "agreement", "Incorrect agreement", "the agreement does not exist or is for another institution")
			return
		}
	}
	for _, other := range s.requisitions {
		if req.Reference != "" && other.Reference == req.Reference {
			writeFieldError(w, "reference", "Client reference must be unique", "Client reference '"+req.Reference+"' already exists")
			return
		}
	}
	lang := req.UserLanguage
	if lang == "" {
		lang = "EN"
	}
	n := len(s.requisitionOrder)
	rq := &requisition{
		ID: newRNG(s.opts.Seed, fmt.Sprintf("requisition-%d", n)).uuid(), Created: s.now().Format(apiTimeLayout),
		Redirect: req.Redirect, Status: statusCreated, InstitutionID: in.ID, Agreement: req.Agreement,
		Reference: req.Reference, Accounts: []string{}, UserLanguage: lang, linked: true,
	}
	rq.Link = baseURL(r) + "/psd2/start/" + rq.ID + "/" + in.ID + "/"
	s.requisitions[rq.ID] = rq
	s.requisitionOrder = append(s.requisitionOrder, rq.ID)
	writeJSON(w, http.StatusCreated, rq)
}

// decodeBody reads a JSON request body, answering 400 itself when it is
// not one.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, errInvalidInput("Invalid JSON", err.Error()))
		return false
	}
	return true
}

// writeFieldError writes the API's validation error: the summary and
// detail under the field's name.
func writeFieldError(w http.ResponseWriter, field, summary, detail string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		field:         map[string]string{"summary": summary, "detail": detail},
		"status_code": http.StatusBadRequest,
	})
}

// consentAccount is one account the consent page offers.
type consentAccount struct {
	Index int
	IBAN  string
	Name  string
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Bank}} — consent (fake)</title></head>
<body style="font-family:sans-serif">
<h1 id="bank">{{.Bank}}</h1>
<p>Fake bank: give <b>source-gocardless-bank-data</b> access to your accounts' details, balances and transactions?</p>
<form method="post">
{{range .Accounts}}<label><input type="checkbox" name="account" value="{{.Index}}" id="account-{{.Index}}" checked> {{.Name}} {{.IBAN}}</label><br>
{{end}}<label><input type="checkbox" name="new" value="1" id="new-account"> also link a new account</label><br>
<button id="approve" name="action" value="approve">Approve</button>
<button id="refuse" name="action" value="refuse">Refuse</button>
</form></body></html>
`))

// handleConsent is the bank's consent page. GET shows it (the requisition
// goes to UA); POST approves (the requisition links the chosen accounts,
// reads GA for one poll, then LN) or refuses (RJ), and redirects to the
// requisition's redirect with ?ref=, plus error and details when refused.
//
// The accounts offered are those of the latest earlier requisition for the
// same institution, under new ids (GoCardless gives new account ids on
// every requisition) with the same IBANs and history: the same person
// linking the same bank again. Without an earlier one, two new accounts: a
// current account and a credit card (no IBAN; a masked PAN).
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rq, ok := s.requisitions[r.PathValue("id")]
	if !ok || rq.InstitutionID != r.PathValue("institution") {
		s.mu.Unlock()
		http.Error(w, "unknown requisition", http.StatusNotFound)
		return
	}
	in, _ := findInstitution(rq.InstitutionID)
	prev := s.previousAccounts(rq)
	if r.Method == http.MethodGet {
		if rq.Status == statusCreated {
			rq.Status = statusUA
		}
		s.mu.Unlock()
		var offered []consentAccount
		for i, a := range prev {
			offered = append(offered, consentAccount{i, a.meta.IBAN, a.details.Name})
		}
		if len(prev) == 0 {
			offered = []consentAccount{{0, "(new)", "Current account"}, {1, "(new)", "Credit card"}}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = consentPage.Execute(w, map[string]any{"Bank": in.Name, "Accounts": offered})
		return
	}
	defer s.mu.Unlock()
	_ = r.ParseForm()
	q := url.Values{"ref": {rq.Reference}}
	if r.PostForm.Get("action") != "approve" {
		rq.Status = statusRejected
		q.Set("error", "UserCancelledSession")
		q.Set("details", "User cancelled the session.")
	} else if rq.Status != statusLinked && rq.Status != statusGranting {
		created := s.now()
		chosen := map[int]bool{}
		for _, v := range r.PostForm["account"] {
			n, _ := strconv.Atoi(v)
			chosen[n] = true
		}
		if len(prev) == 0 {
			for i := range 2 {
				if !chosen[i] {
					continue
				}
				a := s.buildAccount(len(s.accountOrder), rq, in, created, day(created))
				if i == 1 {
					makeCard(a)
				}
				rq.Accounts = append(rq.Accounts, a.meta.ID)
			}
		}
		for i, old := range prev {
			if chosen[i] {
				rq.Accounts = append(rq.Accounts, s.relinkAccount(old, rq, in, created).meta.ID)
			}
		}
		if r.PostForm.Get("new") != "" {
			rq.Accounts = append(rq.Accounts, s.buildAccount(len(s.accountOrder), rq, in, created, day(created)).meta.ID)
		}
		rq.Status = statusGranting
		rq.pendingPolls = 1
		rq.script = slices.Clone(s.linkScript)
		agr := s.agreements[rq.Agreement]
		if agr != nil && agr.Accepted == "" {
			agr.Accepted = created.Format(apiTimeLayout)
		}
	}
	sep := "?"
	if strings.Contains(rq.Redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, rq.Redirect+sep+q.Encode(), http.StatusFound)
}

// makeCard turns a new account into a credit card: no IBAN anywhere, a
// masked PAN in its details, as banks serve card accounts.
func makeCard(a *account) {
	a.meta.IBAN, a.details.IBAN, a.details.BBAN = "", "", ""
	a.details.MaskedPAN = "487155******" + a.card
	a.details.Name, a.details.CashAccountType, a.meta.Name = "Credit card", "CARD", "Credit card"
}

// previousAccounts returns the accounts of the latest earlier requisition
// for rq's institution. Callers hold s.mu.
func (s *Server) previousAccounts(rq *requisition) []*account {
	for i := len(s.requisitionOrder) - 1; i >= 0; i-- {
		p := s.requisitions[s.requisitionOrder[i]]
		if p.ID == rq.ID || p.InstitutionID != rq.InstitutionID || len(p.Accounts) == 0 {
			continue
		}
		var out []*account
		for _, id := range p.Accounts {
			out = append(out, s.accounts[id])
		}
		return out
	}
	return nil
}

// relinkAccount is old under a new id, in requisition rq: same IBAN,
// currency, owner, details and history. Callers hold s.mu.
func (s *Server) relinkAccount(old *account, rq *requisition, in institution, created time.Time) *account {
	a := s.buildAccount(len(s.accountOrder), rq, in, created, day(created))
	id := a.meta.ID
	a.meta = old.meta
	a.meta.ID, a.meta.Status = id, accountReady
	a.meta.Created = created.Format(apiTimeLayout)
	a.details, a.currency, a.card = old.details, old.currency, old.card
	a.booked = append([]*row(nil), old.booked...)
	a.pending = append([]*row(nil), old.pending...)
	a.opening, a.seq, a.style = old.opening, old.seq, old.style
	a.repeatingIDs, a.withEntryRef, a.withBalanceAfter = old.repeatingIDs, old.withEntryRef, old.withBalanceAfter
	return a
}

// Tokens returns every access and refresh token issued, for tests that
// assert no token reached a page.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tokens.access {
		out = append(out, t)
	}
	for t := range s.tokens.refresh {
		out = append(out, t)
	}
	return out
}

// advance moves a consented requisition on: GA for pendingPolls reads,
// then LN; or, when ScriptLinking armed it, the script's next status.
// Callers hold s.mu.
func (rq *requisition) advance() {
	if len(rq.script) > 0 {
		rq.Status, rq.script = rq.script[0], rq.script[1:]
		return
	}
	if rq.Status != statusGranting {
		return
	}
	if rq.pendingPolls > 0 {
		rq.pendingPolls--
		return
	}
	rq.Status = statusLinked
}

// ScriptLinking sets what the requisitions consented from now on read
// after the consent, one GET /requisitions/{id}/ after another, instead of
// GA then LN; the last status stays. ("ID", "LN") passes through the
// identity check before linking; ("ER") ends in an error and ("SU") in a
// suspension, as the API's type file lists them. No status restores GA
// then LN. The accounts are granted at consent either way.
func (s *Server) ScriptLinking(statuses ...string) { must(s.scriptLinking(statuses)) }

func (s *Server) scriptLinking(statuses []string) error {
	for _, st := range statuses {
		if !slices.Contains(requisitionStatuses, st) {
			return fmt.Errorf("requisition status %q: want one of %s", st, strings.Join(requisitionStatuses, ", "))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkScript = slices.Clone(statuses)
	return nil
}

// RequisitionRedirect returns the redirect URL a requisition was created
// with ("" when unknown).
func (s *Server) RequisitionRedirect(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rq, ok := s.requisitions[id]; ok {
		return rq.Redirect
	}
	return ""
}
