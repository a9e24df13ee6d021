package fake

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// snapshot fetches every endpoint of every requisition and account.
func snapshot(t *testing.T, o Options) []byte {
	t.Helper()
	h := newHarness(t, o)
	h.login()
	var out bytes.Buffer
	out.WriteString(h.token)
	for _, rid := range h.fake.RequisitionIDs() {
		var req requisition
		a := h.get("/requisitions/" + rid + "/")
		a.decode(t, &req)
		out.Write(a.body)
		out.Write(h.get("/agreements/enduser/" + req.Agreement + "/").body)
		out.Write(h.get("/institutions/" + req.InstitutionID + "/").body)
		for _, id := range h.fake.AccountIDs(rid) {
			for _, p := range []string{"", "details/", "balances/", "transactions/"} {
				a := h.get("/accounts/" + id + "/" + p)
				wantStatus(t, a, 200)
				out.Write(a.body)
			}
		}
	}
	return out.Bytes()
}

func TestDeterminism(t *testing.T) {
	a, b := snapshot(t, Options{Seed: 7}), snapshot(t, Options{Seed: 7})
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different bytes")
	}
	if bytes.Equal(a, snapshot(t, Options{Seed: 8})) {
		t.Fatal("different seeds, same bytes")
	}
	// Only the day of Now matters, not the time of day.
	later := func() time.Time { return fixedNow.Add(10 * time.Hour) }
	x, y := New(Options{Seed: 7}), New(Options{Seed: 7, Now: later})
	if !slices.Equal(x.RequisitionIDs(), y.RequisitionIDs()) {
		t.Fatal("requisition ids depend on the time of day")
	}
	// Seed 0 is seed 1.
	if !slices.Equal(New(Options{Now: later}).RequisitionIDs(), New(Options{Seed: 1, Now: later}).RequisitionIDs()) {
		t.Error("seed 0 is not the default seed 1")
	}
}

func TestShape(t *testing.T) {
	f := New(Options{Requisitions: 3, TransactionsPerAccount: 25, Now: func() time.Time { return fixedNow }})
	if n := len(f.RequisitionIDs()); n != 3 {
		t.Fatalf("requisitions = %d", n)
	}
	seen := map[string]bool{}
	for _, rid := range f.RequisitionIDs() {
		ids := f.AccountIDs(rid)
		if len(ids) != 2 {
			t.Fatalf("accounts of %s = %v", rid, ids)
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("account %s twice", id)
			}
			seen[id] = true
			if n := len(f.Booked(id)); n != 25 {
				t.Errorf("booked = %d, want 25", n)
			}
			if n := len(f.Pending(id)); n < 3 || n > 4 {
				t.Errorf("pending = %d, want a few", n)
			}
		}
	}
	if f.AccountIDs("nope") != nil || f.Booked("nope") != nil {
		t.Error("unknown ids return data")
	}
}

var amountRE = regexp.MustCompile(`^-?[0-9]+\.[0-9]{2}$`)

// TestQuirks checks that the default data carries every quirk the
// connector must survive, and every field of the transaction object.
func TestQuirks(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	fields := map[string]bool{}
	var currencies []string
	missing, blank, notProvided, repeating := 0, 0, 0, 0
	var text strings.Builder
	for _, rid := range h.fake.RequisitionIDs() {
		for _, acc := range h.fake.AccountIDs(rid) {
			internal := map[string]bool{}
			ids := map[string]int{}
			for _, raw := range h.fake.Booked(acc) {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				for k := range m {
					fields[k] = true
				}
				text.Write(raw)
				var tx transaction
				json.Unmarshal(raw, &tx)
				if tx.InternalTransactionID == "" || internal[tx.InternalTransactionID] {
					t.Errorf("booked row without a unique internalTransactionId: %s", raw)
				}
				internal[tx.InternalTransactionID] = true
				switch id, ok := m["transactionId"]; {
				case !ok:
					missing++
				case id == " ":
					blank++
				case id == "NOTPROVIDED":
					notProvided++
				default:
					ids[id.(string)]++
				}
				checkAmounts(t, raw, m)
			}
			for _, n := range ids {
				if n > 1 {
					repeating++
				}
			}
			withID := 0
			for _, raw := range h.fake.Pending(acc) {
				var m map[string]any
				json.Unmarshal(raw, &m)
				if _, ok := m["internalTransactionId"]; ok {
					t.Errorf("pending row with internalTransactionId: %s", raw)
				}
				if _, ok := m["transactionId"]; ok {
					withID++
				}
				checkAmounts(t, raw, m)
				text.Write(raw)
			}
			if withID*2 >= len(h.fake.Pending(acc)) {
				t.Errorf("%d of %d pending rows have a transactionId, want few", withID, len(h.fake.Pending(acc)))
			}
			var d struct{ Account accountDetails }
			h.get("/accounts/"+acc+"/details/").decode(t, &d)
			currencies = append(currencies, d.Account.Currency)
		}
	}
	if missing == 0 || blank == 0 || notProvided == 0 || repeating == 0 {
		t.Errorf("quirks: missing %d, blank %d, NOTPROVIDED %d, repeated ids %d", missing, blank, notProvided, repeating)
	}
	slices.Sort(currencies)
	if !slices.Equal(currencies, []string{"EUR", "EUR", "EUR", "GBP"}) {
		t.Errorf("currencies = %v, want one GBP", currencies)
	}
	for _, s := range []string{"Café Müller", "Zürich 🚆", "&"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("no %q in the rows (or it was escaped)", s)
		}
	}
	for _, f := range []string{"transactionId", "internalTransactionId", "entryReference", "endToEndId", "mandateId",
		"checkId", "creditorId", "bookingDate", "bookingDateTime", "valueDate", "valueDateTime", "transactionAmount",
		"currencyExchange", "balanceAfterTransaction", "creditorName", "creditorAccount", "creditorAgent",
		"ultimateCreditor", "debtorName", "debtorAccount", "debtorAgent", "ultimateDebtor",
		"remittanceInformationUnstructured", "remittanceInformationUnstructuredArray",
		"remittanceInformationStructured", "remittanceInformationStructuredArray", "additionalInformation",
		"bankTransactionCode", "proprietaryBankTransactionCode", "purposeCode", "merchantCategoryCode"} {
		if !fields[f] {
			t.Errorf("no booked row has %s", f)
		}
	}
}

func checkAmounts(t *testing.T, raw json.RawMessage, m map[string]any) {
	t.Helper()
	amt, ok := m["transactionAmount"].(map[string]any)
	if !ok {
		t.Fatalf("no transactionAmount object: %s", raw)
	}
	if s, ok := amt["amount"].(string); !ok || !amountRE.MatchString(s) {
		t.Errorf("amount %v is not a decimal string", amt["amount"])
	}
}

func TestBalancesAndDetails(t *testing.T) {
	h := newHarness(t, Options{})
	h.login()
	detailFields := map[string]bool{}
	balanceFields := map[string]bool{}
	nullReference := false
	for _, rid := range h.fake.RequisitionIDs() {
		for _, acc := range h.fake.AccountIDs(rid) {
			var d struct{ Account map[string]any }
			h.get("/accounts/"+acc+"/details/").decode(t, &d)
			for k := range d.Account {
				detailFields[k] = true
			}
			var b struct{ Balances []map[string]any }
			h.get("/accounts/"+acc+"/balances/").decode(t, &b)
			var types []string
			for _, x := range b.Balances {
				types = append(types, x["balanceType"].(string))
				for k := range x {
					balanceFields[k] = true
				}
				if _, ok := x["referenceDate"]; !ok {
					nullReference = true
				}
				if s, _ := x["balanceAmount"].(map[string]any)["amount"].(string); !amountRE.MatchString(s) {
					t.Errorf("balance amount %q", s)
				}
			}
			if !slices.Equal(types, []string{"closingBooked", "interimAvailable", "expected"}) {
				t.Errorf("balance types = %v", types)
			}
			// Booked rows and balances agree: the newest balanceAfterTransaction
			// is the booked total.
			var newest transaction
			json.Unmarshal(h.fake.Booked(acc)[0], &newest)
			if ba := newest.BalanceAfterTransaction; ba != nil {
				var pending int64
				for _, raw := range h.fake.Pending(acc) {
					var p transaction
					json.Unmarshal(raw, &p)
					pending += centsOf(t, p.TransactionAmount.Amount)
				}
				if got, want := balanceOf(t, h, acc, "expected"), formatCents(centsOf(t, ba.BalanceAmount.Amount)+pending); got != want {
					t.Errorf("expected balance %s, want %s", got, want)
				}
			}
		}
	}
	for _, f := range []string{"resourceId", "iban", "bban", "bic", "currency", "name", "displayName", "product",
		"cashAccountType", "ownerName", "ownerAddressUnstructured", "usage", "status", "details", "linkedAccounts", "msisdn"} {
		if !detailFields[f] {
			t.Errorf("no account details have %s", f)
		}
	}
	for _, f := range []string{"balanceAmount", "balanceType", "referenceDate", "lastChangeDateTime",
		"creditLimitIncluded", "lastCommittedTransaction"} {
		if !balanceFields[f] {
			t.Errorf("no balance has %s", f)
		}
	}
	if !nullReference {
		t.Error("every balance has a referenceDate; the key must cope with none")
	}
}

func TestTransactionsDateRange(t *testing.T) {
	h := newHarness(t, Options{DailyLimit: 1000, AccountsPerMinute: -1})
	h.login()
	days := map[string]bool{}
	for _, rid := range h.fake.RequisitionIDs() {
		var req requisition
		h.get("/requisitions/"+rid+"/").decode(t, &req)
		var inst struct {
			TransactionTotalDays any `json:"transaction_total_days"`
		}
		h.get("/institutions/"+req.InstitutionID+"/").decode(t, &inst)
		s, ok := inst.TransactionTotalDays.(string)
		if !ok {
			t.Fatalf("transaction_total_days = %#v, want a string", inst.TransactionTotalDays)
		}
		days[s] = true
		var n int
		json.Unmarshal([]byte(s), &n)
		oldest := fixedNow.AddDate(0, 0, -n).Format(dateLayout)
		tooOld := fixedNow.AddDate(0, 0, -n-1).Format(dateLayout)
		acc := h.fake.AccountIDs(rid)[0]

		all := h.transactions(acc, "?date_from="+oldest)
		if len(all.Transactions.Booked) != len(h.fake.Booked(acc)) {
			t.Errorf("full range gives %d of %d rows", len(all.Transactions.Booked), len(h.fake.Booked(acc)))
		}
		// Older than the history: clipped silently, as the real API does.
		if clipped := h.transactions(acc, "?date_from="+tooOld); len(clipped.Transactions.Booked) != len(all.Transactions.Booked) {
			t.Errorf("a date_from before the history gives %d rows, want the %d of the whole history", len(clipped.Transactions.Booked), len(all.Transactions.Booked))
		}
		future := h.get("/accounts/" + acc + "/transactions/?date_from=" + fixedNow.AddDate(0, 0, 2).Format(dateLayout))
		wantStatus(t, future, 400)
		// Under the parameter's name, as the API answers it.
		var nested struct {
			DateFrom   struct{ Summary, Detail string } `json:"date_from"`
			StatusCode int                              `json:"status_code"`
		}
		if err := json.Unmarshal(future.body, &nested); err != nil || nested.DateFrom.Summary != "Date can't be in future" || nested.StatusCode != 400 {
			t.Errorf("400 body = %s (%v)", future.body, err)
		}
		wantStatus(t, h.get("/accounts/"+acc+"/transactions/?date_from=14.03.2025"), 400)
		wantStatus(t, h.get("/accounts/"+acc+"/transactions/?date_from=2025-03-10&date_to=2025-03-01"), 400)

		// A window returns exactly the rows whose bookingDate or valueDate
		// is in it.
		from, to := fixedNow.AddDate(0, 0, -40).Format(dateLayout), fixedNow.AddDate(0, 0, -10).Format(dateLayout)
		got := h.transactions(acc, "?date_from="+from+"&date_to="+to)
		var want []string
		for _, raw := range h.fake.Booked(acc) {
			var tx transaction
			json.Unmarshal(raw, &tx)
			in := func(d string) bool { return d != "" && from <= d && d <= to }
			if in(tx.BookingDate) || in(tx.ValueDate) {
				want = append(want, string(raw))
			}
		}
		var gotS []string
		for _, r := range got.Transactions.Booked {
			gotS = append(gotS, string(r))
		}
		if !slices.Equal(gotS, want) {
			t.Errorf("window %s..%s: %d rows, want %d", from, to, len(gotS), len(want))
		}
		if len(got.Transactions.Pending) != 0 {
			t.Errorf("pending rows outside the window: %s", got.Transactions.Pending)
		}
	}
	if len(days) < 2 {
		t.Errorf("the requisitions share one history length %v; the default seed should show two", days)
	}
}

func TestLatency(t *testing.T) {
	h := newHarness(t, Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	h.login()
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered in %v despite 30ms latency", d)
	}
}
