package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"
)

// bank is an ASPSP the fake serves.
type bank struct {
	Name, Country, BIC, Currency string
}

var banks = []bank{
	{"Nordea", "FI", "NDEAFIHH", "EUR"},
	{"Swedbank", "SE", "SWEDSESS", "SEK"},
	{"DNB", "NO", "DNBANOKK", "NOK"},
	{"Sparkasse Berlin", "DE", "BELADEBE", "EUR"},
}

// session is an authorised (or no longer authorised) session.
type session struct {
	id         string
	status     string
	bank       bank
	accounts   []string
	created    time.Time
	validUntil time.Time
	psuIDHash  string
}

// account is one bank account as the fake holds it.
type account struct {
	uid, hash, sessionID string
	resource             map[string]any
	booked, pending      []*row // newest first
	balances             []map[string]any
	// positional: the bank's entry_reference is the row's place within its
	// booking day, counted at serve time, so it shifts when a row books
	// ahead of others on that day.
	positional bool
	// positionalSep separates a positional reference's date and number:
	// "" is "-" (YYYY-MM-DD-N), "." is YYYY-MM-DD.N (PositionalDots).
	positionalSep string
	// emptyFirstPage: the first page of every chain is empty but carries a
	// continuation key (a bank preparing history).
	emptyFirstPage bool
	// blocked: the bank will not let Enable Banking fetch the account's
	// data, so its session lists it without a uid (BlockAccount).
	blocked bool
	// historyDays, when set, is how far back the bank serves: a first
	// call from before then answers 400 ASPSP_ERROR (LimitHistory).
	historyDays int
	// historyServed: the account's first transactions call chain after
	// its consent was served, so Options.HistoryAfterFirstCall clips the
	// later ones.
	historyServed bool
	// repeatKey: every continuation page answers with the key it was
	// called with, as a bank looping on its paging would (RepeatKey).
	repeatKey bool
	// failure, when set, is what every call on the account answers
	// instead of its data (FailAccount).
	failure  *AccountError
	rng      *rand.Rand
	seq      int
	currency string
}

// row is one transaction: its fields, and its date for filtering.
type row struct {
	f map[string]any
}

// date is the row's date as the bank filters on it.
func (r *row) date() string {
	for _, k := range []string{"booking_date", "value_date", "transaction_date"} {
		if s, ok := r.f[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func newRNG(seed uint64, label string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func hexID(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// newSession builds session i at bank b with its accounts; caller holds
// s.mu or is New.
func (s *Server) newSession(i int, b bank, anchor time.Time) *session {
	r := newRNG(s.opts.Seed, "session/"+strconv.Itoa(i))
	ss := &session{
		id: uuid(r), status: "AUTHORIZED", bank: b,
		created:    anchor.Add(-30 * 24 * time.Hour).Add(9 * time.Hour),
		validUntil: anchor.Add(150 * 24 * time.Hour),
		psuIDHash:  hexID(r, 40),
	}
	for j := range s.opts.AccountsPerSession {
		a := s.newAccount(ss, b, i, j, anchor)
		ss.accounts = append(ss.accounts, a.uid)
	}
	s.sessions[ss.id] = ss
	s.sessionOrder = append(s.sessionOrder, ss.id)
	return ss
}

func (s *Server) newAccount(ss *session, b bank, si, j int, anchor time.Time) *account {
	label := fmt.Sprintf("account/%d/%d", si, j)
	r := newRNG(s.opts.Seed, label)
	a := &account{uid: uuid(r), hash: base64.RawURLEncoding.EncodeToString([]byte(hexID(r, 24))), sessionID: ss.id, rng: r, currency: b.Currency}
	card := j%2 == 1
	a.positional = si == 1 && j == 0
	a.emptyFirstPage = si == 0 && j == 1
	bban := digits(r, 14)
	var accountID, all any
	cashType := "CACC"
	if card {
		cashType = "CARD"
		pan := "4" + digits(r, 5) + "******" + digits(r, 4)
		accountID = map[string]any{"other": map[string]any{"identification": pan, "scheme_name": "CPAN", "issuer": nil}}
		all = []any{map[string]any{"identification": pan, "scheme_name": "CPAN"}}
	} else {
		iban := b.Country + digits(r, 2) + bban
		accountID = map[string]any{"iban": iban}
		all = []any{map[string]any{"identification": iban, "scheme_name": "IBAN"}, map[string]any{"identification": bban, "scheme_name": "BBAN"}}
	}
	a.resource = map[string]any{
		"account_id":            accountID,
		"all_account_ids":       all,
		"account_servicer":      map[string]any{"bic_fi": b.BIC, "clearing_system_member_id": nil, "name": b.Name},
		"name":                  "Alex Example",
		"details":               "Everyday account",
		"usage":                 "PRIV",
		"cash_account_type":     cashType,
		"product":               map[bool]string{false: "Current account", true: "Credit card"}[card],
		"currency":              b.Currency,
		"psu_status":            "Account Holder",
		"legal_age":             true,
		"postal_address":        nil,
		"uid":                   a.uid,
		"identification_hash":   a.hash,
		"identification_hashes": []any{a.hash, base64.RawURLEncoding.EncodeToString([]byte(hexID(r, 24)))},
		"x_bank_field":          map[string]any{"segment": "retail"}, // a field no schema knows
	}
	if card {
		a.resource["credit_limit"] = map[string]any{"currency": b.Currency, "amount": "3000.00"}
	}
	a.balances = []map[string]any{
		{"name": "Booked balance", "balance_amount": map[string]any{"currency": b.Currency, "amount": fmt.Sprintf("%d.%02d", r.IntN(9000)+100, r.IntN(100))},
			"balance_type": "CLBD", "reference_date": anchor.AddDate(0, 0, -1).Format(time.DateOnly), "last_change_date_time": anchor.Add(-3 * time.Hour).Format(time.RFC3339), "last_committed_transaction": nil},
		{"name": "Available", "balance_amount": map[string]any{"currency": b.Currency, "amount": "-12.30"}, "balance_type": "ITAV", "reference_date": nil},
		{"name": "Expected", "balance_amount": map[string]any{"currency": b.Currency, "amount": "1500.0"}, "balance_type": "XPCD"},
	}
	n := s.opts.TransactionsPerAccount
	for i := range n {
		d := anchor.AddDate(0, 0, -(i * 100 / n))
		a.booked = append(a.booked, a.draft(i, d, card))
	}
	// Two equal transfers on one day, without ids: two rows, not one.
	if n >= 8 {
		twin := a.draft(n, anchor.AddDate(0, 0, -((n-6)*100/n)), false)
		delete(twin.f, "entry_reference")
		twin.f["transaction_id"] = nil
		a.booked = append(a.booked, twin, &row{f: clone(twin.f)})
	}
	statuses := s.opts.PendingStatuses
	if len(statuses) == 0 {
		statuses = []string{"PDNG"}
	}
	for k := range max(3, len(statuses)) {
		p := a.pendingRow(k, anchor.AddDate(0, 0, -(k%3)))
		p.f["status"] = statuses[k%len(statuses)]
		a.pending = append(a.pending, p)
	}
	s.accounts[a.uid] = a
	return a
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// nextRef is a new entry_reference.
func (a *account) nextRef() string {
	a.seq++
	return fmt.Sprintf("ER%s%04d", hexID(a.rng, 8), a.seq)
}

// draft makes booked row i dated d, with the quirks banks are known for
// spread over the rows.
func (a *account) draft(i int, d time.Time, card bool) *row {
	r := a.rng
	date := d.Format(time.DateOnly)
	debit := r.IntN(10) < 7
	amount := fmt.Sprintf("%d.%02d", r.IntN(900)+1, r.IntN(100))
	if i%13 == 0 {
		amount = strconv.Itoa(r.IntN(20000)+1) + ".0" // one decimal, as seen
	}
	f := map[string]any{
		"transaction_amount":     map[string]any{"currency": a.currency, "amount": amount},
		"credit_debit_indicator": map[bool]string{true: "DBIT", false: "CRDT"}[debit],
		"status":                 "BOOK",
		"booking_date":           date,
		"value_date":             date,
		"remittance_information": []any{fmt.Sprintf("Payment %d", i), "Ref " + digits(r, 6)},
		"bank_transaction_code":  map[string]any{"description": "Utlandsbetalning", "code": "12", "sub_code": "32"},
		"reference_number":       nil,
	}
	switch {
	case i%10 == 3:
		f["entry_reference"] = nil
	case i%10 == 7: // the key left out altogether
	case i%29 == 5:
		f["entry_reference"] = "0"
	default:
		f["entry_reference"] = a.nextRef()
	}
	if i%4 == 0 {
		f["transaction_id"] = nil
	} else {
		f["transaction_id"] = base64.StdEncoding.EncodeToString([]byte("tx-" + strconv.Itoa(i)))
	}
	if i%11 == 4 { // only a transaction date (securo#753)
		f["booking_date"], f["value_date"] = nil, nil
		f["transaction_date"] = date
	} else if card {
		f["transaction_date"] = d.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	party := map[string]any{"name": "Shop " + strconv.Itoa(r.IntN(40)), "postal_address": nil}
	acct := map[string]any{"iban": "FI" + digits(r, 16)}
	if debit {
		f["creditor"], f["creditor_account"] = party, acct
		f["creditor_agent"] = map[string]any{"bic_fi": "NDEAFIHH", "name": "Nordea"}
	} else {
		f["debtor"], f["debtor_account"] = party, acct
	}
	if i%9 == 2 {
		f["remittance_information"] = []any{"Invoice 42", nil} // a null element
		f["creditor"] = map[string]any{"name": ""}
	}
	if card {
		f["merchant_category_code"] = "5411"
	}
	if i%15 == 6 {
		f["exchange_rate"] = map[string]any{"unit_currency": "USD", "exchange_rate": "0.92155", "rate_type": "SALE",
			"contract_identification": nil, "instructed_amount": map[string]any{"currency": "USD", "amount": "19.99"}}
	}
	if i%7 == 1 {
		f["balance_after_transaction"] = map[string]any{"currency": a.currency, "amount": "-" + amount}
	}
	if i%19 == 8 {
		f["x_bank_extension"] = map[string]any{"category": "groceries", "level": 2} // no schema knows it
	}
	if i%17 == 3 {
		f["reference_number"], f["reference_number_schema"] = "RF18539007547034", "INTL"
		f["note"] = "split with Sam"
	}
	return &row{f: f}
}

// pendingRow makes pending row k: no booking date, the placeholder "0" or
// a reference that will not survive booking.
func (a *account) pendingRow(k int, d time.Time) *row {
	ref := any("0")
	if k > 0 {
		ref = "P" + a.nextRef()
	}
	return &row{f: map[string]any{
		"entry_reference":        ref,
		"transaction_id":         nil,
		"transaction_amount":     map[string]any{"currency": a.currency, "amount": fmt.Sprintf("%d.%02d", a.rng.IntN(200)+1, a.rng.IntN(100))},
		"credit_debit_indicator": "DBIT",
		"status":                 "PDNG",
		"booking_date":           nil,
		"transaction_date":       d.Format(time.DateOnly),
		"remittance_information": []any{"CARD PURCHASE " + strconv.Itoa(k)},
		"creditor":               map[string]any{"name": "Cafe " + strconv.Itoa(k)},
	}}
}

// serve encodes rows as the API sends them; a positional bank's references
// are counted here, per booking day in list order.
func (a *account) serve(rows []*row) []json.RawMessage {
	out := make([]json.RawMessage, len(rows))
	perDay := map[string]int{}
	for i, r := range rows {
		out[i] = a.encode(r, perDay)
	}
	return out
}

// encode is one row as served; a positional bank's booked row takes the
// next number of its date from perDay.
func (a *account) encode(r *row, perDay map[string]int) json.RawMessage {
	f := r.f
	if a.positional && f["status"] == "BOOK" {
		f = clone(r.f)
		d := r.date()
		sep := "-"
		if a.positionalSep != "" {
			sep = a.positionalSep
		}
		f["entry_reference"] = d + sep + strconv.Itoa(perDay[d])
		perDay[d]++
	}
	b, _ := json.Marshal(f)
	return b
}
