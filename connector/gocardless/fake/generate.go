package fake

import (
	"fmt"
	"sort"
	"time"
)

// account is the fake's state for one linked bank account.
type account struct {
	index         int
	meta          accountMeta
	details       accountDetails
	requisitionID string
	inst          institution
	currency      string
	card          string // last four digits of the account's card
	opening       int64  // balance in cents before the oldest generated row
	booked        []*row // newest first, as banks usually send them
	pending       []*row

	// gen continues the account's random stream after New, so AddBooked
	// and ChangePending are deterministic for a given call sequence.
	gen *rng
	seq int // last sequence number used in a bank transactionId

	style            dateTimeStyle
	repeatingIDs     bool // Belfius-like: transactionIds repeat
	withEntryRef     bool
	withBalanceAfter bool
	amex             bool // one balance, of type information (Options.InformationBalance)
	misfits          bool // booked rows stray from the schema (Options.Misfits)
	noInternalIDs    bool // booked rows come without internalTransactionId (Options.NoInternalIDs)

	// Scenario state.
	suspended       bool
	failures        int  // consecutive failed accesses; see suspendAfter
	institutionFail int  // 0, or the status of the institution error to answer
	processing      bool // answer 409 "Account is Processing"
	inactive        bool // answer 401 AccountInactiveError
	historyServed   bool // its first transactions call was answered (Options.HistoryAfterFirstCall)
	// frozen is, once set, how many of the oldest booked rows the bank
	// delivered the one time it did (Options.SeparateHistoryConsent):
	// only those are served from then on.
	frozen int
}

// dateTimeStyle is how an account's bank writes bookingDateTime and
// valueDateTime. Banks disagree, and clients must parse all of them.
type dateTimeStyle int

const (
	timesUTC       dateTimeStyle = iota // 2025-01-15T10:22:31Z
	timesNoZone                         // 2025-01-15T10:22:31.123456, no zone at all
	timesDateOnly                       // no date-time fields, only dates
	timesOffsetOdd                      // booking with +01:00, value with a space separator
)

type kind int

const (
	kindCard kind = iota
	kindCardAbroad
	kindSalary
	kindDirectDebit
	kindStandingOrder
	kindTransferIn
	kindTransferOut
	kindATM
	kindFee
	kindCheque
	numKinds
)

// kindWeights skews the random rows towards card payments, as on a real
// current account. The first numKinds rows of every account take each kind
// once, so every field of the transaction object appears with default
// options.
var kindWeights = [numKinds]int{45, 6, 3, 8, 4, 7, 7, 5, 3, 2}

type merchant struct{ name, city, mcc string }

var merchants = []merchant{
	{"Café Müller", "München", "5814"},
	{"SBB CFF FFS", "Zürich 🚆", "4112"},
	{"Bäckerei Schäfer", "Köln", "5462"},
	{"Crème & Brûlée", "Paris", "5812"},
	{"Łódź Kawiarnia", "Łódź", "5814"},
	{"REWE Markt", "Berlin", "5411"},
	{"東京ラーメン", "Düsseldorf", "5812"},
	{"Tesco Stores", "London", "5411"},
}

var abroadMerchants = []merchant{
	{"Blue Bottle Coffee", "New York", "5814"},
	{"Lyft", "San Francisco", "4121"},
	{"Powell's Books", "Portland", "5942"},
}

type party struct{ name, bic, creditorID, reference string }

var creditors = []party{
	{"Stadtwerke München GmbH", "SSKMDEMMXXX", "DE98ZZZ09999999999", "RF18539007547034"},
	{"Vodafone GmbH", "DEUTDEDBXXX", "DE23ZZZ00000123456", "RF712348231"},
	{"Allianz Versicherungs-AG", "DRESDEFF700", "DE37ZZZ00000054321", "RF23ALLIANZ2024"},
}

var friends = []string{"Zoë Ó Briain", "Ærø Fisk ApS", "José Núñez", "Dvořák & Partner s.r.o."}

var transferTexts = []string{"Dinner 🍕", "Konzertkarten", "Danke fürs Auslegen", "Split – Ferienwohnung"}

// suspendAfter is how many consecutive failed accesses suspend an account,
// per GoCardless's documentation.
const suspendAfter = 10

// buildAccount creates one account of req with its history. Everything is
// drawn from a stream labelled by the account's position, so accounts do
// not depend on each other's size.
func (s *Server) buildAccount(index int, req *requisition, inst institution, created, anchor time.Time) *account {
	r := newRNG(s.opts.Seed, fmt.Sprintf("account-%d", index))
	a := &account{
		index:            index,
		requisitionID:    req.ID,
		inst:             inst,
		currency:         "EUR",
		card:             r.digits(4),
		gen:              r,
		style:            dateTimeStyle(index % 4),
		repeatingIDs:     index == 2*s.opts.Requisitions-1,
		withEntryRef:     index%2 == 0,
		withBalanceAfter: index%2 == 1,
		amex:             index == 0 && s.opts.InformationBalance,
		misfits:          index%2 == 1 && s.opts.Misfits,
		noInternalIDs:    s.opts.NoInternalIDs,
	}
	if index == 1 {
		a.currency = "GBP"
	}
	owner := ownerNames[index%len(ownerNames)]
	a.meta = accountMeta{
		ID:            r.uuid(),
		Created:       created.Add(5 * time.Minute).Format(apiTimeLayout),
		LastAccessed:  anchor.Add(-time.Duration(3600+r.intn(80000)) * time.Second).Format(apiTimeLayout),
		IBAN:          iban(inst.country, inst.bankCode+r.digits(inst.bbanDigits)),
		InstitutionID: inst.ID,
		Status:        accountReady,
		OwnerName:     owner,
	}
	a.details = a.buildDetails(r, owner)
	a.meta.Name = a.details.Name
	a.generateBooked(anchor, s.opts.TransactionsPerAccount)
	a.pending = a.generatePending(anchor)
	s.accounts[a.meta.ID] = a
	s.accountOrder = append(s.accountOrder, a.meta.ID)
	return a
}

// buildDetails fills every optional field on the first account and leaves a
// different subset out on each of the others.
func (a *account) buildDetails(r *rng, owner string) accountDetails {
	d := accountDetails{
		ResourceID:               r.uuid(),
		IBAN:                     a.meta.IBAN,
		BBAN:                     a.meta.IBAN[4:],
		BIC:                      a.inst.BIC,
		Currency:                 a.currency,
		Name:                     "Girokonto",
		DisplayName:              "Everyday account · " + a.card,
		Product:                  "Girokonto Plus",
		CashAccountType:          "CACC",
		OwnerName:                owner,
		OwnerAddressUnstructured: []string{"Hauptstraße 1", "10115 Berlin"},
		Usage:                    "PRIV",
		Status:                   "enabled",
		Details:                  "Current account with debit card",
		LinkedAccounts:           r.uuid(),
		MSISDN:                   "+49176" + r.digits(7),
	}
	switch a.index % 4 {
	case 1:
		d.Name, d.DisplayName, d.Product = "GBP pocket", "GBP pocket", "Multi-currency"
		d.LinkedAccounts, d.MSISDN, d.OwnerAddressUnstructured = "", "", nil
	case 2:
		d.BBAN, d.DisplayName, d.Usage = "", "", "ORGA"
		d.Name, d.Product, d.CashAccountType = "Geschäftskonto", "Business", "CACC"
	case 3:
		d.Name, d.CashAccountType, d.Product = "Tagesgeld", "SVGS", "Savings"
		d.BBAN, d.BIC, d.DisplayName, d.Usage, d.Status, d.Details = "", "", "", "", "", ""
		d.LinkedAccounts, d.MSISDN, d.OwnerAddressUnstructured = "", "", nil
	}
	return d
}

// generateBooked creates n booked rows spread over the part of history the
// institution gives access to, newest first, and sets the opening balance
// so that the account ends in credit: random rows spend more than they earn.
func (a *account) generateBooked(anchor time.Time, n int) {
	r := a.gen
	span := min(a.inst.days-5, 365)
	offsets := make([]int, n)
	for i := range offsets {
		offsets[i] = r.intn(span + 1)
	}
	sort.Ints(offsets)
	pool := max(2, n/4) // Belfius-like accounts draw ids from a small pool
	txs := make([]transaction, n)
	cents := make([]int64, n)
	for i := range txs {
		k := a.pickKind(i)
		txs[i], cents[i] = a.draft(k, anchor.AddDate(0, 0, -offsets[i]), i < int(numKinds))
		txs[i].InternalTransactionID = a.internalID()
		txs[i].TransactionID = a.bookedID(i, txs[i].BookingDate, pool)
		if i%29 == 17 { // some banks leave bookingDate out and send valueDate only
			txs[i].BookingDate, txs[i].BookingDateTime = "", ""
		}
	}
	var sum int64
	for _, c := range cents {
		sum += c
	}
	a.opening = r.between(50_000, 500_000) - sum
	if a.withBalanceAfter {
		running := a.opening
		for i := n - 1; i >= 0; i-- {
			running += cents[i]
			txs[i].BalanceAfterTransaction = a.balanceAfter(running)
			txs[i].misfit = a.misfits
		}
	}
	a.booked = make([]*row, n)
	for i := range txs {
		a.booked[i] = newRow(txs[i], cents[i])
	}
}

// internalID draws a booked row's internalTransactionId: "" with
// Options.NoInternalIDs, drawn all the same, so that the rest of the
// account's data stays what it is without the option.
func (a *account) internalID() string {
	id := a.gen.hex(32)
	if a.noInternalIDs {
		return ""
	}
	return id
}

func (a *account) pickKind(i int) kind {
	if i < int(numKinds) {
		return kind(i)
	}
	total := 0
	for _, w := range kindWeights {
		total += w
	}
	x := a.gen.intn(total)
	for k, w := range kindWeights {
		if x < w {
			return kind(k)
		}
		x -= w
	}
	return kindCard
}

// bookedID returns the bank's transactionId for the i-th booked row,
// including the broken ids banks are known to send.
func (a *account) bookedID(i int, date string, pool int) string {
	switch {
	case i%17 == 3:
		return "" // missing
	case i%23 == 7:
		return " " // blank (actualbudget/actual#2495)
	case i%19 == 11:
		return "NOTPROVIDED" // ING Romania card rows
	case a.repeatingIDs:
		return fmt.Sprintf("%010d", 4_200_000_000+a.gen.intn(pool))
	}
	a.seq++
	return fmt.Sprintf("%s%08d", compactDate(date), a.seq)
}

func (a *account) balanceAfter(cents int64) *balanceAfter {
	return &balanceAfter{BalanceAmount: money{formatCents(cents), a.currency}, BalanceType: "interimBooked"}
}

func compactDate(date string) string {
	if len(date) != len(dateLayout) {
		return "00000000"
	}
	return date[0:4] + date[5:7] + date[8:10]
}

// draft builds the content of a row of kind k booked on day; ids are added
// by the caller. first marks the rows that guarantee every field and the
// Unicode samples appear.
func (a *account) draft(k kind, day time.Time, first bool) (transaction, int64) {
	r := a.gen
	tx := transaction{BookingDate: day.Format(dateLayout), ValueDate: day.Format(dateLayout)}
	var c int64
	own := &accountRef{IBAN: a.meta.IBAN}
	switch k {
	case kindCard:
		m := pick(r, merchants)
		if first {
			m = merchants[0]
		}
		c = -r.between(150, 12_000)
		if r.chance(40) {
			tx.ValueDate = day.AddDate(0, 0, -1).Format(dateLayout) // card payments often value a day earlier
		}
		tx.CreditorName = m.name
		tx.RemittanceInformationUnstructured = "CARD PAYMENT " + m.name + " " + m.city
		tx.MerchantCategoryCode = m.mcc
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-CCRD-POSD", "CARD_PAYMENT"
		tx.AdditionalInformation = "Card ****" + a.card
	case kindCardAbroad:
		m := pick(r, abroadMerchants)
		instructed := r.between(500, 30_000)
		rate := r.between(7_800, 9_600) // target units per USD, four decimals
		c = -(instructed * rate / 10_000)
		fx := exchangeRate{
			SourceCurrency: "USD",
			ExchangeRate:   fmt.Sprintf("0.%04d", rate),
			UnitCurrency:   "USD",
			TargetCurrency: a.currency,
			QuotationDate:  day.AddDate(0, 0, -1).Format(dateLayout),
		}
		if instructed%2 == 0 {
			// The documented shape: an array, with the instructed amount.
			fx.InstructedAmount = &money{formatCents(instructed), "USD"}
			tx.CurrencyExchange = []exchangeRate{fx}
		} else {
			// The other shape live answers carry: one object, without
			// instructedAmount (tarioch/beancounttools#124). Decided by
			// the amount, not by a draw, so the rest of the data stays
			// what it was.
			tx.CurrencyExchange = fx
		}
		tx.CreditorName = m.name
		tx.RemittanceInformationUnstructured = fmt.Sprintf("CARD PAYMENT %s %s USD %s", m.name, m.city, formatCents(instructed))
		tx.MerchantCategoryCode = m.mcc
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-CCRD-POSD", "CARD_PAYMENT_FX"
		tx.AdditionalInformation = "Card ****" + a.card + ", foreign transaction fee 0.00"
	case kindSalary:
		c = r.between(250_000, 420_000)
		tx.DebtorName, tx.UltimateDebtor = "Müller & Söhne GmbH", "Müller Holding SE"
		tx.DebtorAccount = &accountRef{IBAN: iban("DE", "37040044"+r.digits(10))}
		tx.DebtorAgent = "COBADEFFXXX"
		tx.CreditorName, tx.CreditorAccount = a.meta.OwnerName, own
		tx.EndToEndID = "SAL-" + compactDate(tx.BookingDate) + "-" + r.digits(6)
		tx.RemittanceInformationUnstructured = "Salary " + day.Format("January 2006")
		tx.PurposeCode = "SALA"
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-RCDT-ESCT", "SEPA_CREDIT_TRANSFER"
	case kindDirectDebit:
		p := pick(r, creditors)
		c = -r.between(1_500, 15_000)
		tx.CreditorName, tx.CreditorAgent, tx.CreditorID = p.name, p.bic, p.creditorID
		tx.CreditorAccount = &accountRef{IBAN: iban("DE", "70150000"+r.digits(10))}
		tx.DebtorName, tx.DebtorAccount = a.meta.OwnerName, own
		tx.MandateID = "MNDT-" + r.digits(8)
		tx.EndToEndID = "DD" + r.digits(14)
		tx.RemittanceInformationStructured = p.reference
		tx.RemittanceInformationStructuredArray = []string{p.reference, "Kundennr. " + r.digits(7)}
		tx.PurposeCode = pick(r, []string{"ELEC", "PHON", "INSU"})
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-RDDT-ESDD", "SEPA_DIRECT_DEBIT"
	case kindStandingOrder:
		c = -r.between(60_000, 140_000)
		tx.CreditorName, tx.UltimateCreditor = "Hausverwaltung Köhler", "Köhler Immobilien GmbH & Co. KG"
		tx.CreditorAccount = &accountRef{IBAN: iban("DE", "10010010"+r.digits(10))}
		tx.CreditorAgent = "PBNKDEFFXXX"
		tx.EndToEndID = "NOTPROVIDED" // what SEPA uses when the payer gave none
		tx.RemittanceInformationUnstructuredArray = []string{"Miete " + day.Format("01/2006"), "Whg. 3 OG links"}
		tx.PurposeCode = "RENT"
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-ICDT-STDO", "STANDING_ORDER"
	case kindTransferIn:
		c = r.between(500, 20_000)
		tx.DebtorName = pick(r, friends)
		tx.DebtorAccount = &accountRef{IBAN: iban("FR", "3000400003"+r.digits(13))}
		tx.DebtorAgent = "BNPAFRPPXXX"
		tx.EndToEndID = r.hex(20)
		tx.RemittanceInformationUnstructured = pick(r, transferTexts)
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-RCDT-ESCT", "SEPA_CREDIT_TRANSFER"
	case kindTransferOut:
		text := pick(r, transferTexts)
		c = -r.between(1_000, 50_000)
		tx.CreditorName = pick(r, friends)
		tx.CreditorAccount = &accountRef{IBAN: iban("NL", "INGB"+r.digits(10))}
		tx.CreditorAgent = "INGBNL2AXXX"
		tx.DebtorName, tx.DebtorAccount = a.meta.OwnerName, own
		tx.EndToEndID = r.hex(20)
		tx.RemittanceInformationUnstructured = text
		tx.RemittanceInformationUnstructuredArray = []string{text}
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-ICDT-ESCT", "SEPA_CREDIT_TRANSFER"
	case kindATM:
		c = -1_000 * r.between(2, 40)
		tx.RemittanceInformationUnstructured = "ATM WITHDRAWAL Zürich HB"
		tx.AdditionalInformation = "Cash withdrawal, card ****" + a.card
		tx.MerchantCategoryCode = "6011"
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-CCRD-CWDL", "ATM"
	case kindFee:
		c = -r.between(300, 990)
		tx.RemittanceInformationUnstructured = "Kontoführungsgebühr"
		tx.AdditionalInformation = "Monthly account fee"
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "ACMT-MDOP-CHRG", "FEE"
	case kindCheque:
		c = -r.between(2_000, 60_000)
		tx.CheckID = r.digits(6)
		tx.CreditorName = pick(r, friends)
		tx.RemittanceInformationUnstructured = "CHEQUE " + tx.CheckID
		tx.BankTransactionCode, tx.ProprietaryBankTransactionCode = "PMNT-ICHQ-CCHQ", "CHEQUE"
	}
	tx.TransactionAmount = money{formatCents(c), a.currency}
	if a.withEntryRef {
		tx.EntryReference = "ER" + r.digits(12)
	}
	a.setTimes(&tx, day.Add(time.Duration(r.intn(86_400))*time.Second))
	return tx, c
}

// setTimes writes bookingDateTime and valueDateTime in the account's style.
func (a *account) setTimes(tx *transaction, at time.Time) {
	switch a.style {
	case timesUTC:
		tx.BookingDateTime = at.Format(time.RFC3339)
		tx.ValueDateTime = at.Format(time.RFC3339)
	case timesNoZone:
		tx.BookingDateTime = at.Format("2006-01-02T15:04:05.000000")
	case timesOffsetOdd:
		cet := time.FixedZone("CET", 3600)
		tx.BookingDateTime = at.In(cet).Format("2006-01-02T15:04:05-07:00")
		tx.ValueDateTime = at.Format("2006-01-02 15:04:05")
	}
}

// generatePending returns the account's pending rows. They carry no
// internalTransactionId (GoCardless assigns one only when a row books) and
// mostly no transactionId; one has the malformed id Nationwide sends and a
// booking date in the future.
func (a *account) generatePending(today time.Time) []*row {
	r := a.gen
	date := func(d int) string { return today.AddDate(0, 0, d).Format(dateLayout) }
	var out []*row
	add := func(tx transaction, c int64) {
		tx.TransactionAmount = money{formatCents(c), a.currency}
		out = append(out, newRow(tx, c))
	}

	c := -r.between(300, 900)
	add(transaction{
		BookingDate:                       date(0),
		ValueDate:                         date(0),
		CreditorName:                      merchants[0].name,
		RemittanceInformationUnstructured: "CARD AUTHORISATION Café Müller München",
		AdditionalInformation:             "Card ****" + a.card,
		MerchantCategoryCode:              merchants[0].mcc,
	}, c)

	// Only a value date, and the bank's own date inside the structured
	// remittance text (the Norwegian pattern).
	c = -r.between(1_500, 9_000)
	add(transaction{
		ValueDate:                         date(-1),
		CreditorName:                      merchants[1].name,
		RemittanceInformationUnstructured: "SBB CFF FFS Zürich 🚆",
		RemittanceInformationStructured:   date(-1) + " SBB CFF FFS",
	}, c)

	c = -r.between(1_000, 8_000)
	add(transaction{
		TransactionID:                     "00DEBIT" + compactDate(date(0)) + r.digits(6),
		BookingDate:                       date(2),
		CreditorName:                      "Tesco Stores",
		RemittanceInformationUnstructured: "TESCO STORES 3051 LONDON",
		ProprietaryBankTransactionCode:    "PENDING_DEBIT",
	}, c)

	if r.chance(50) {
		c = r.between(500, 3_000)
		add(transaction{
			BookingDate:                       date(-1),
			ValueDate:                         date(-1),
			DebtorName:                        merchants[5].name,
			RemittanceInformationUnstructured: "REFUND REWE Markt Berlin",
		}, c)
	}
	return out
}
