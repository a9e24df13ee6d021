package fake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The real-world variants (reference gocardless-api.md §5), each as the
// fake answers it once switched on.

func TestProcessingIsATemporary409(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	h.fake.SetProcessing(acc, true)
	a := h.get("/accounts/" + acc + "/balances/")
	wantStatus(t, a, http.StatusConflict)
	if e := a.apiErr(t); e.Summary != "Account is Processing" || e.Type != "" {
		t.Errorf("409 body %+v", e)
	}
	h.fake.SetProcessing(acc, false)
	wantStatus(t, h.get("/accounts/"+acc+"/balances/"), 200)
}

func TestQuotaAnswers(t *testing.T) {
	for name, c := range map[string]struct {
		answer      QuotaAnswer
		typ, detail string
	}{
		"gocardless":  {QuotaGoCardless, "", "Please try again in"},
		"institution": {QuotaInstitution, "RateLimitError", "set by the Institution"},
		"typed":       {QuotaTyped, "RateLimitError", "Please try again in"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{QuotaAnswer: c.answer})
			h.login()
			acc := h.firstAccount()
			h.fake.ExhaustQuota(acc, EndpointBalances)
			a := h.get("/accounts/" + acc + "/balances/")
			wantStatus(t, a, http.StatusTooManyRequests)
			e := a.apiErr(t)
			if e.Type != c.typ || !strings.Contains(e.Detail, c.detail) {
				t.Errorf("429 body %+v", e)
			}
		})
	}
}

func TestUntypedExpiry(t *testing.T) {
	h := newHarness(t, Options{UntypedExpiry: true})
	h.login()
	req := h.fake.RequisitionIDs()[0]
	h.fake.ExpireRequisition(req)
	a := h.get("/accounts/" + h.fake.AccountIDs(req)[0] + "/transactions/")
	wantStatus(t, a, http.StatusUnauthorized)
	if e := a.apiErr(t); e.Type != "" || !strings.Contains(e.Summary, "End User Agreement (EUA)") || !strings.Contains(e.Detail, "EUA was valid for") {
		t.Errorf("401 body %+v", e)
	}
}

func TestBadRequestExpiry(t *testing.T) {
	h := newHarness(t, Options{BadRequestExpiry: true, UntypedExpiry: true})
	h.login()
	req := h.fake.RequisitionIDs()[0]
	h.fake.ExpireRequisition(req)
	a := h.get("/accounts/" + h.fake.AccountIDs(req)[0] + "/balances/")
	wantStatus(t, a, http.StatusBadRequest)
	if e := a.apiErr(t); e.Type != "" || e.StatusCode != 400 || !strings.Contains(e.Summary, "End User Agreement (EUA)") || !strings.Contains(e.Detail, "EUA was valid for 90 days") {
		t.Errorf("400 body %+v", e)
	}
}

func TestAccountInactive(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	h.fake.SetAccountInactive(acc, true)
	a := h.get("/accounts/" + acc + "/details/")
	wantStatus(t, a, http.StatusUnauthorized)
	if e := a.apiErr(t); e.Type != "AccountInactiveError" {
		t.Errorf("401 body %+v", e)
	}
	h.fake.SetAccountInactive(acc, false)
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 200)
}

func TestAllowedIPsDenyOthers(t *testing.T) {
	h := newHarness(t, Options{AllowedIPs: []string{"203.0.113.7"}})
	a := h.do("POST", "/token/new/", map[string]string{"secret_id": h.fake.SecretID(), "secret_key": h.fake.SecretKey()}, "")
	wantStatus(t, a, http.StatusForbidden)
	if e := a.apiErr(t); e.Summary != "IP address access denied" || !strings.Contains(e.Detail, "127.0.0.1") {
		t.Errorf("403 body %+v", e)
	}
}

func TestInformationBalance(t *testing.T) {
	h := newHarness(t, Options{InformationBalance: true})
	h.login()
	var got struct{ Balances []balance }
	h.get("/accounts/"+h.firstAccount()+"/balances/").decode(t, &got)
	if len(got.Balances) != 1 || got.Balances[0].BalanceType != "information" {
		t.Errorf("balances of the Amex-like account: %+v", got.Balances)
	}
	h.get("/accounts/"+h.fake.AccountIDs(h.fake.RequisitionIDs()[0])[1]+"/balances/").decode(t, &got)
	if len(got.Balances) != 3 {
		t.Errorf("the other accounts keep their three balances: %+v", got.Balances)
	}
}

func TestRequisitionStatuses(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	req := h.fake.RequisitionIDs()[0]
	for _, status := range []string{"ID", "ER", "SU", "LN"} {
		h.fake.SetRequisitionStatus(req, status)
		var got struct{ Status string }
		h.get("/requisitions/"+req+"/").decode(t, &got)
		if got.Status != status {
			t.Errorf("status %q, want %q", got.Status, status)
		}
	}
	if err := h.fake.setRequisitionStatus(req, "XX"); err == nil {
		t.Error("an unknown status was accepted")
	}
}

// TestLateBookedRowsMatchByValueDate: a row booked weeks ago with today's
// valueDate is in a window that starts yesterday.
func TestLateBookedRowsMatchByValueDate(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	ids := h.fake.AddLateBooked(acc, 2, 20)
	got := h.transactions(acc, "?date_from="+fixedNow.AddDate(0, 0, -1).Format(dateLayout))
	found := 0
	for _, raw := range got.Transactions.Booked {
		var tx transaction
		json.Unmarshal(raw, &tx)
		for _, id := range ids {
			if tx.InternalTransactionID == id {
				found++
				if tx.BookingDate != fixedNow.AddDate(0, 0, -20).Format(dateLayout) {
					t.Errorf("late row booked %s", tx.BookingDate)
				}
			}
		}
	}
	if found != 2 {
		t.Errorf("%d of 2 late rows in the window", found)
	}
}

// TestFrozenHistory: with separate continuous-history consent and more
// than 90 days asked, rows booked after the first delivery never appear.
func TestFrozenHistory(t *testing.T) {
	h := newHarness(t, Options{SeparateHistoryConsent: true, DailyLimit: 100})
	h.login()
	var acc string
	for _, rid := range h.fake.RequisitionIDs() {
		var req requisition
		h.get("/requisitions/"+rid+"/").decode(t, &req)
		var agr agreement
		h.get("/agreements/enduser/"+req.Agreement+"/").decode(t, &agr)
		var inst struct {
			Separate bool `json:"separate_continuous_history_consent"`
		}
		h.get("/institutions/"+req.InstitutionID+"/").decode(t, &inst)
		if !inst.Separate {
			t.Fatal("institution does not report separate_continuous_history_consent")
		}
		if agr.MaxHistoricalDays > 90 {
			acc = req.Accounts[0]
		}
	}
	if acc == "" {
		t.Skip("no agreement over 90 days with this seed")
	}
	before := len(h.transactions(acc, "").Transactions.Booked)
	h.fake.AddBooked(acc, 3)
	if after := len(h.transactions(acc, "").Transactions.Booked); after != before {
		t.Errorf("frozen history grew from %d to %d rows", before, after)
	}
}

func TestReconfirmation(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	rid := h.fake.RequisitionIDs()[0]
	var req requisition
	h.get("/requisitions/"+rid+"/").decode(t, &req)
	wantStatus(t, h.get("/agreements/enduser/"+req.Agreement+"/reconfirm/"), 404)
	h.fake.ReconfirmAgreement(rid)
	var agr agreement
	h.get("/agreements/enduser/"+req.Agreement+"/").decode(t, &agr)
	var rc reconfirmation
	h.get("/agreements/enduser/"+req.Agreement+"/reconfirm/").decode(t, &rc)
	if !agr.Reconfirmation || rc.LastSubmitted == nil || !strings.HasPrefix(*rc.LastSubmitted, "2025-03-14") {
		t.Errorf("agreement %+v, reconfirmation %+v", agr, rc)
	}
}

// TestCurrencyExchangeInBothShapes: foreign card rows carry currencyExchange
// as an array (documented) and as a single object without instructedAmount
// (live answers, tarioch/beancounttools#124), by default.
func TestCurrencyExchangeInBothShapes(t *testing.T) {
	f := New(Options{Requisitions: 3})
	shapes := map[byte]int{}
	for _, req := range f.RequisitionIDs() {
		for _, acc := range f.AccountIDs(req) {
			for _, raw := range f.Booked(acc) {
				var tx struct {
					CurrencyExchange json.RawMessage `json:"currencyExchange"`
				}
				if err := json.Unmarshal(raw, &tx); err != nil {
					t.Fatal(err)
				}
				if len(tx.CurrencyExchange) > 0 {
					shapes[tx.CurrencyExchange[0]]++
					if tx.CurrencyExchange[0] == '{' && strings.Contains(string(tx.CurrencyExchange), "instructedAmount") {
						t.Errorf("single-object currencyExchange with instructedAmount: %s", tx.CurrencyExchange)
					}
				}
			}
		}
	}
	if shapes['['] == 0 || shapes['{'] == 0 {
		t.Errorf("currencyExchange shapes served: %d arrays, %d objects; want both", shapes['['], shapes['{'])
	}
}
