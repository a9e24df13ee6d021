package fake

import (
	"encoding/json"
	"strings"
	"testing"
)

func accountStatus(t *testing.T, h *harness, id string) string {
	t.Helper()
	var m accountMeta
	a := h.get("/accounts/" + id + "/")
	wantStatus(t, a, 200)
	a.decode(t, &m)
	return m.Status
}

func TestExpireRequisition(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	req := h.fake.RequisitionIDs()[0]
	acc := h.fake.AccountIDs(req)[0]
	h.fake.ExpireRequisition(req)

	var r requisition
	h.get("/requisitions/"+req+"/").decode(t, &r)
	if r.Status != "EX" {
		t.Errorf("requisition status = %s, want EX", r.Status)
	}
	if got := accountStatus(t, h, acc); got != "EXPIRED" {
		t.Errorf("account status = %s, want EXPIRED", got)
	}
	for _, e := range quotaEndpoints {
		a := h.get("/accounts/" + acc + "/" + e + "/")
		wantStatus(t, a, 401)
		if got := a.apiErr(t); got.Type != "AccessExpiredError" || got.Summary != "Access has expired or it has been revoked" ||
			!strings.HasPrefix(got.Detail, "EUA was valid for 90 days and it expired at 2025-03-14T09:30:00") {
			t.Errorf("%s: body = %+v", e, got)
		}
		if a.header.Get("Http_x_ratelimit_account_success_remaining") != "4" {
			t.Errorf("%s: per-account headers missing or quota used: %v", e, a.header)
		}
	}
	// The other requisition is untouched.
	other := h.fake.AccountIDs(h.fake.RequisitionIDs()[1])[0]
	wantStatus(t, h.get("/accounts/"+other+"/transactions/"), 200)
}

// TestRepeatedFailuresSuspend: AccessExpiredError and UnknownRequestError
// count towards suspension; GoCardless suspends after ten in a row.
func TestRepeatedFailuresSuspend(t *testing.T) {
	h := newHarness(t, Options{AccountsPerMinute: -1})
	h.login()
	req := h.fake.RequisitionIDs()[0]
	expired, failing := h.fake.AccountIDs(req)[0], h.fake.AccountIDs(h.fake.RequisitionIDs()[1])[0]
	h.fake.ExpireRequisition(req)
	h.fake.SetInstitutionError(failing, 500)
	for i := range suspendAfter {
		wantStatus(t, h.get("/accounts/"+expired+"/details/"), 401)
		a := h.get("/accounts/" + failing + "/balances/")
		wantStatus(t, a, 500)
		if i == 0 {
			if e := a.apiErr(t); e.Type != "UnknownRequestError" || e.Detail != "Request to Institution returned an error" {
				t.Errorf("500 body = %+v", e)
			}
		}
	}
	for _, acc := range []string{expired, failing} {
		wantStatus(t, h.get("/accounts/"+acc+"/transactions/"), 409)
		if got := accountStatus(t, h, acc); got != "SUSPENDED" {
			t.Errorf("status = %s, want SUSPENDED", got)
		}
	}
}

func TestInstitutionErrors(t *testing.T) {
	h := newHarness(t, Options{AccountsPerMinute: -1})
	h.login()
	acc := h.firstAccount()

	h.fake.SetInstitutionError(acc, 503)
	for range suspendAfter + 2 { // 503 does not count towards suspension
		a := h.get("/accounts/" + acc + "/transactions/")
		wantStatus(t, a, 503)
		if e := a.apiErr(t); e.Type != "ServiceError" || e.Detail != "Institution service unavailable" {
			t.Fatalf("503 body = %+v", e)
		}
	}
	h.fake.SetInstitutionError(acc, 500)
	for range suspendAfter - 1 {
		wantStatus(t, h.get("/accounts/"+acc+"/details/"), 500)
	}
	h.fake.SetInstitutionError(acc, 0)
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 200) // a success resets the count
	h.fake.SetInstitutionError(acc, 500)
	wantStatus(t, h.get("/accounts/"+acc+"/details/"), 500)
	if got := accountStatus(t, h, acc); got != "READY" {
		t.Errorf("status = %s, want READY", got)
	}
	// Other accounts are unaffected.
	wantStatus(t, h.get("/accounts/"+h.fake.AccountIDs(h.fake.RequisitionIDs()[0])[1]+"/details/"), 200)

	defer func() {
		if recover() == nil {
			t.Error("SetInstitutionError(404) did not panic")
		}
	}()
	h.fake.SetInstitutionError(acc, 404)
}

func TestSuspendAccount(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	h.fake.SuspendAccount(acc)
	a := h.get("/accounts/" + acc + "/balances/")
	wantStatus(t, a, 409)
	if e := a.apiErr(t); e.Summary != "Account suspended" || e.StatusCode != 409 || !strings.Contains(e.Detail, acc) {
		t.Errorf("409 body = %+v", e)
	}
	if got := accountStatus(t, h, acc); got != "SUSPENDED" {
		t.Errorf("status = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("SuspendAccount of an unknown id did not panic")
		}
	}()
	h.fake.SuspendAccount("no-such-account")
}

type txBody struct {
	Transactions struct {
		Booked  []json.RawMessage `json:"booked"`
		Pending []json.RawMessage `json:"pending"`
	} `json:"transactions"`
}

func (h *harness) transactions(acc, query string) txBody {
	h.t.Helper()
	a := h.get("/accounts/" + acc + "/transactions/" + query)
	wantStatus(h.t, a, 200)
	var b txBody
	a.decode(h.t, &b)
	return b
}

func balanceOf(t *testing.T, h *harness, acc, typ string) string {
	t.Helper()
	var b struct{ Balances []balance }
	h.get("/accounts/"+acc+"/balances/").decode(t, &b)
	for _, x := range b.Balances {
		if x.BalanceType == typ {
			return x.BalanceAmount.Amount
		}
	}
	t.Fatalf("no %s balance", typ)
	return ""
}

func TestAddBooked(t *testing.T) {
	h := newHarness(t, Options{DailyLimit: 100})
	h.login()
	acc := h.firstAccount()
	before := h.transactions(acc, "")
	expectedBefore := balanceOf(t, h, acc, "expected")

	ids := h.fake.AddBooked(acc, 3)
	if len(ids) != 3 {
		t.Fatalf("ids = %v", ids)
	}
	after := h.transactions(acc, "")
	if len(after.Transactions.Booked) != len(before.Transactions.Booked)+3 {
		t.Fatalf("booked %d → %d", len(before.Transactions.Booked), len(after.Transactions.Booked))
	}
	var sum int64
	for i, id := range ids {
		var tx transaction
		json.Unmarshal(after.Transactions.Booked[i], &tx)
		if tx.InternalTransactionID != id || tx.BookingDate != "2025-03-14" {
			t.Errorf("row %d = %s, want internal id %s booked today", i, after.Transactions.Booked[i], id)
		}
		sum += centsOf(t, tx.TransactionAmount.Amount)
	}
	if got, want := balanceOf(t, h, acc, "expected"), formatCents(centsOf(t, expectedBefore)+sum); got != want {
		t.Errorf("expected balance = %s, want %s", got, want)
	}
	// Only today's rows: what an incremental sync with date_from=today sees.
	if got := len(h.transactions(acc, "?date_from=2025-03-14").Transactions.Booked); got < 3 {
		t.Errorf("rows from today = %d", got)
	}
}

func TestChangePending(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	acc := h.firstAccount()
	before := h.fake.Pending(acc)
	booked := len(h.fake.Booked(acc))
	h.fake.ChangePending(acc)
	after := h.fake.Pending(acc)

	if len(after) != len(before) {
		t.Errorf("pending %d → %d, want one booked and one new", len(before), len(after))
	}
	same := 0
	for _, a := range after {
		for _, b := range before {
			if string(a) == string(b) {
				same++
			}
		}
	}
	if same != len(before)-2 {
		t.Errorf("%d pending rows unchanged, want %d", same, len(before)-2)
	}
	var first, newest transaction
	json.Unmarshal(before[0], &first)
	json.Unmarshal(h.fake.Booked(acc)[0], &newest)
	if len(h.fake.Booked(acc)) != booked+1 || newest.CreditorName != first.CreditorName ||
		newest.InternalTransactionID == "" || newest.TransactionID == "" {
		t.Errorf("first pending row %s did not book; newest booked %+v", before[0], newest)
	}
	// What is served is what Pending returns.
	served := h.transactions(acc, "").Transactions.Pending
	if len(served) != len(after) || string(served[0]) != string(after[0]) {
		t.Errorf("served pending differs from Pending()")
	}
}

func centsOf(t *testing.T, amount string) int64 {
	t.Helper()
	units, frac, ok := strings.Cut(strings.TrimPrefix(amount, "-"), ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("amount %q is not a 2-decimal string", amount)
	}
	var c int64
	for _, d := range units + frac {
		c = c*10 + int64(d-'0')
	}
	if strings.HasPrefix(amount, "-") {
		c = -c
	}
	return c
}

// TestScriptLinking: a consented requisition reads the script's statuses,
// one per GET, the last one staying; an unknown status is refused.
func TestScriptLinking(t *testing.T) {
	s := New(Options{})
	if err := s.scriptLinking([]string{"ID", "XX"}); err == nil {
		t.Error("an unknown status was accepted")
	}
	s.ScriptLinking("ID", "LN")
	rq := &requisition{Status: statusGranting, pendingPolls: 1, script: s.linkScript}
	var seen []string
	for range 4 {
		rq.advance()
		seen = append(seen, rq.Status)
	}
	if strings.Join(seen, ",") != "ID,LN,LN,LN" {
		t.Errorf("statuses read %v, want ID, LN, then LN", seen)
	}
	s.ScriptLinking()
	rq = &requisition{Status: statusGranting, pendingPolls: 1, script: s.linkScript}
	rq.advance()
	first := rq.Status
	rq.advance()
	if first != statusGranting || rq.Status != statusLinked {
		t.Errorf("without a script: %s then %s, want GA then LN", first, rq.Status)
	}
}

// TestNoInternalIDsAndReusedTransactionID: with NoInternalIDs the booked
// rows are the default ones without internalTransactionId, also those a
// switch books; ReuseTransactionID books a row today under an earlier
// row's transactionId, and refuses an id the account never gave.
func TestNoInternalIDsAndReusedTransactionID(t *testing.T) {
	with := newHarness(t, Options{DailyLimit: 100})
	without := newHarness(t, Options{DailyLimit: 100, NoInternalIDs: true})
	acc := with.firstAccount()
	if without.firstAccount() != acc {
		t.Fatal("NoInternalIDs changed the accounts")
	}
	plain, bare := with.fake.Booked(acc), without.fake.Booked(acc)
	if len(plain) != len(bare) {
		t.Fatalf("NoInternalIDs served %d booked rows, not %d", len(bare), len(plain))
	}
	for i := range plain {
		var a transaction
		json.Unmarshal(plain[i], &a)
		if strings.Contains(string(bare[i]), "internalTransactionId") {
			t.Fatalf("row %d served with internalTransactionId: %s", i, bare[i])
		}
		if strings.Replace(string(plain[i]), `"internalTransactionId":"`+a.InternalTransactionID+`",`, "", 1) != string(bare[i]) {
			t.Errorf("row %d differs beyond its internalTransactionId:\n%s\n%s", i, plain[i], bare[i])
		}
	}

	var old transaction
	for _, raw := range bare {
		json.Unmarshal(raw, &old)
		if strings.TrimSpace(old.TransactionID) != "" {
			break
		}
	}
	if id := without.fake.ReuseTransactionID(acc, old.TransactionID); id != "" {
		t.Errorf("ReuseTransactionID returned internalTransactionId %q with NoInternalIDs", id)
	}
	if ids := without.fake.AddBooked(acc, 1); ids[0] != "" {
		t.Errorf("AddBooked returned internalTransactionId %q with NoInternalIDs", ids[0])
	}
	without.login()
	served := without.transactions(acc, "?date_from=2025-03-14").Transactions.Booked
	var reused transaction
	if len(served) < 2 {
		t.Fatalf("%d rows from today, want the two booked", len(served))
	}
	json.Unmarshal(served[1], &reused)
	if reused.TransactionID != old.TransactionID || reused.BookingDate != "2025-03-14" || reused.InternalTransactionID != "" {
		t.Errorf("the reused row is %s, want transactionId %q booked today", served[1], old.TransactionID)
	}
	if _, err := without.fake.reuseTransactionID(acc, "never-given"); err == nil || !strings.Contains(err.Error(), "never-given") {
		t.Errorf("reusing an id the account never gave: %v", err)
	}
}
