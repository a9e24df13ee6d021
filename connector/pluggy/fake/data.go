package fake

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Account kinds, cycled per item in this order.
const (
	kindChecking = iota
	kindSavings
	kindCard
)

const (
	msPerSecond = int64(1000)
	msPerMinute = 60 * msPerSecond
	msPerHour   = 60 * msPerMinute
	msPerDay    = 24 * msPerHour
)

// item is the mutable state behind GET /items/{id}.
type item struct {
	idx               int
	id                uuid
	idStr             string
	owner, taxNumber  string
	clientUserID      string
	status, execState string
	createdAt         int64
	updatedAt         int64
	lastUpdatedAt     int64
	nextAutoSyncAt    int64
	consentExpiresAt  int64  // 0 = null
	pendingPolls      int    // GET polls left in UPDATING after a PATCH
	lastPatchAt       int64  // 0 = never patched
	loginError        bool   // the update in progress ends in LOGIN_ERROR
	patchRefusal      string // the codeDescription of the 400 PATCH answers, or ""
	accounts          []*account
	investments       []*investment
	loans             []*loanJSON
	identity          *identityJSON
	consents          []*consentJSON
}

// account is one account and, lazily, its transactions.
type account struct {
	idx           int // global index, seeds the account's transaction generator
	kind          int
	id            uuid
	idStr         string
	item          *item
	number        string
	name          string
	marketingName string
	balance       int64
	createdAt     int64
	updatedAt     int64
	bankData      *bankDataJSON
	creditData    *creditDataJSON
	cardNumber    string // last four digits, cards only
	closeDay      int    // bill closing day of month, cards only
	bills         []*bill
	// postedNoStatus leaves "status" out of the account's posted rows
	// (Options.PostedWithoutStatus).
	postedNoStatus bool
	// timesNoZone writes the account's transactions' createdAt and
	// updatedAt without their zone (Options.TransactionTimesWithoutZone).
	timesNoZone bool

	// rows are generated on first use (see ensure) so a million-row
	// benchmark server starts instantly and only pays for what it serves.
	// Sorted by date desc, then id desc: the keyset order of the v2 cursor.
	once                       sync.Once
	rows                       []txn
	minDate, maxDate, minCreat int64
}

// txn flags.
const (
	flagCredit  = 1 << iota // type CREDIT (else DEBIT)
	flagPending             // status PENDING (else POSTED)
	flagBalance             // balance is set (else null)
	flagInAcct              // amountInAccountCurrency is set (else null)
)

// txn is one transaction, kept compact because benchmarks hold a million.
// Strings point into shared template text wherever possible.
type txn struct {
	id           uuid
	date         int64 // Unix ms
	createdAt    int64
	updatedAt    int64
	amount       int64 // cents, signed as served
	inAcct       int64 // amountInAccountCurrency, cents
	balance      int64 // running balance, cents
	flags        uint8
	category     int16 // index into categories, -1 = null
	currency     string
	desc, raw    string // raw "" = null
	providerCode string // "" = null
	opType       string // "" = null
	pay          *payment
	card         *cardMeta
	merchant     *merchant
}

// accountAmount is the row's amount in the account currency.
func (t *txn) accountAmount() int64 {
	if t.flags&flagInAcct != 0 {
		return t.inAcct
	}
	return t.amount
}

type party struct {
	name                     string
	branch, account, routing string
	docType, docValue        string
}

type boleto struct {
	digitableLine, barcode string
	baseAmount             int64
}

type payment struct {
	payer, receiver *party
	method          string
	reference       string
	reason          string
	boleto          *boleto
}

type cardMeta struct {
	installmentNumber int
	totalInstallments int
	totalAmount       int64
	payeeMCC          int
	purchaseDate      int64
	billID            string
	cardNumber        string
	billForecastDate  string
}

type merchant struct {
	name, businessName, cnpj, cnae, category string
}

// bill is a closed credit-card bill; its total is summed from the rows that
// carry its id once they are generated.
type bill struct {
	id          uuid
	idStr       string
	acct        *account
	paymentID   string
	closing     int64 // period is [closing - 1 month, closing)
	start       int64
	due         int64
	noZ         bool // dueDate written without millis and Z
	closingNull bool
	total       int64
	charges     []financeChargeJSON
	createdAt   int64
	updatedAt   int64
}

var owners = []struct{ name, doc string }{
	{"John Doe", "416.799.495-00"},
	{"Maria Conceição Souza", ""},
	{"José Antônio Pereira", ""},
	{"Ana Luíza Araújo", ""},
}

// build generates everything except transaction rows, in a fixed order from
// one generator so ids do not depend on which endpoints are called first.
func (s *Server) build() {
	o := s.opts
	meta := rand.New(rand.NewPCG(o.Seed, 0x6d657461))
	s.itemsByID = map[uuid]*item{}
	s.accountsByID = map[uuid]*account{}
	s.billsByID = map[uuid]*bill{}
	s.investmentsByID = map[uuid]*investment{}
	for i := range o.Items {
		s.buildItem(meta, i, i < len(o.ItemStatuses) && o.ItemStatuses[i] != "")
	}
}

// buildItem generates item i with its accounts and products from meta and
// adds it to the dataset. withStatus applies Options.ItemStatuses[i].
func (s *Server) buildItem(meta *rand.Rand, i int, withStatus bool) *item {
	o := s.opts
	now := s.genNow
	today := now - now%msPerDay
	it := &item{idx: i, id: newUUID(meta)}
	it.idStr = it.id.String()
	ow := owners[i%len(owners)]
	it.owner, it.taxNumber = ow.name, ow.doc
	if it.taxNumber == "" {
		it.taxNumber = cpf(meta)
	}
	it.clientUserID = "user-" + strconv.Itoa(42+i)
	it.createdAt = today - int64(150+meta.IntN(200))*msPerDay + meta.Int64N(msPerDay)
	it.lastUpdatedAt = max(it.createdAt, now-int64(10+meta.IntN(600))*msPerMinute-meta.Int64N(msPerMinute))
	it.updatedAt = it.lastUpdatedAt + 28
	it.nextAutoSyncAt = it.lastUpdatedAt - it.lastUpdatedAt%msPerSecond + msPerDay
	switch {
	case i == 0:
		it.consentExpiresAt = now - now%msPerSecond + 3*msPerDay
	case i%2 == 0:
		it.consentExpiresAt = now - now%msPerSecond + 200*msPerDay
	}
	it.status, it.execState = "UPDATED", "SUCCESS"
	if withStatus {
		st, ex, _ := strings.Cut(o.ItemStatuses[i], ":")
		it.status, it.execState = st, ex
		if ex == "" {
			it.execState = defaultExecutionStatus(st)
		}
	}
	s.items = append(s.items, it)
	s.itemsByID[it.id] = it
	for j := range o.AccountsPerItem {
		a := s.buildAccount(meta, it, j, len(s.accounts))
		it.accounts = append(it.accounts, a)
		s.accounts = append(s.accounts, a)
		s.accountsByID[a.id] = a
	}
	s.buildProducts(meta, it)
	return it
}

func (s *Server) buildAccount(meta *rand.Rand, it *item, j, idx int) *account {
	now := s.genNow
	today := now - now%msPerDay
	a := &account{idx: idx, kind: j % 3, item: it, id: newUUID(meta), postedNoStatus: s.opts.PostedWithoutStatus, timesNoZone: s.opts.TransactionTimesWithoutZone}
	a.idStr = a.id.String()
	a.createdAt = it.createdAt + int64(5+j)*msPerSecond
	a.updatedAt = it.lastUpdatedAt - 300
	branch := "0001"
	switch a.kind {
	case kindChecking:
		a.number = branch + "/" + digits(meta, 5) + "-" + digits(meta, 1)
		a.name = "Conta Corrente"
		a.marketingName = "GOLD Conta Corrente"
		a.balance = 50000 + meta.Int64N(2500000)
		var invested *money
		if meta.IntN(2) == 0 {
			invested = ptrMoney(meta.Int64N(500000))
		}
		a.bankData = &bankDataJSON{
			TransferNumber: a.number, ClosingBalance: money(a.balance), AutomaticallyInvestedBalance: invested,
			OverdraftContractedLimit: money(100000 * meta.Int64N(3)),
		}
	case kindSavings:
		a.number = branch + "/" + digits(meta, 5) + "-" + digits(meta, 1)
		a.name = "Conta Poupança"
		a.balance = 100000 + meta.Int64N(8000000)
		a.bankData = &bankDataJSON{TransferNumber: a.number, ClosingBalance: money(a.balance)}
	case kindCard:
		a.cardNumber = digits(meta, 4)
		a.number = "xxxx" + a.cardNumber
		brand, level := "MASTERCARD", "BLACK"
		if meta.IntN(2) == 0 {
			brand, level = "VISA", "PLATINUM"
		}
		a.name = titleCase(brand) + " " + titleCase(level)
		a.marketingName = "PLUGGY UNICLASS " + brand + " " + level
		a.balance = 10000 + meta.Int64N(500000)
		limit := (3000 + meta.Int64N(20)*1000) * 100
		a.closeDay = 1 + meta.IntN(28)
		c0 := closingOnOrBefore(today, a.closeDay)
		nextClose := addMonths(c0, 1)
		a.creditData = &creditDataJSON{
			Level: level, Brand: brand,
			BalanceCloseDate: dateOnly(nextClose), BalanceDueDate: dateOnly(nextClose + 7*msPerDay),
			AvailableCreditLimit: money(limit - a.balance), BalanceForeignCurrency: money(0),
			MinimumPayment: money(a.balance * 15 / 100), CreditLimit: money(limit),
			Status: "ACTIVE", HolderType: "MAIN",
		}
		for k := range 3 + meta.IntN(4) {
			closing := addMonths(c0, -k)
			b := &bill{
				id: newUUID(meta), closing: closing, start: addMonths(closing, -1), due: closing + 7*msPerDay,
				noZ: k%2 == 1, acct: a,
			}
			b.idStr = b.id.String()
			b.paymentID = newUUID(meta).String()
			b.createdAt = min(now, closing+msPerDay+meta.Int64N(6*msPerHour))
			b.updatedAt = b.createdAt
			if b.due < now {
				b.updatedAt = min(now, b.due+msPerDay)
			}
			if k%3 == 1 {
				b.charges = append(b.charges, financeChargeJSON{
					ID: newUUID(meta).String(), Type: "IOF", Amount: money(100 + meta.Int64N(900)),
					CurrencyCode: "BRL", CreditCardBillID: b.idStr,
				})
			}
			a.bills = append(a.bills, b)
			s.billsByID[b.id] = b
		}
		if n := len(a.bills); n > 3 {
			a.bills[n-1].closingNull = true // the oldest bill lacks billClosingDate
		}
	}
	return a
}

// titleCase turns "MASTERCARD" into "Mastercard".
func titleCase(s string) string { return s[:1] + strings.ToLower(s[1:]) }

// closingOnOrBefore returns midnight UTC of the latest day-of-month `day`
// that is not after `today`.
func closingOnOrBefore(today int64, day int) int64 {
	t := time.UnixMilli(today).UTC()
	c := time.Date(t.Year(), t.Month(), day, 0, 0, 0, 0, time.UTC)
	if c.After(t) {
		c = c.AddDate(0, -1, 0)
	}
	return c.UnixMilli()
}

// addMonths shifts a Unix-ms instant by n calendar months (days ≤ 28 keep
// their day of month).
func addMonths(ms int64, n int) int64 {
	return time.UnixMilli(ms).UTC().AddDate(0, n, 0).UnixMilli()
}

// defaultExecutionStatus is the executionStatus paired with a status when a
// caller names only the status.
func defaultExecutionStatus(status string) string {
	switch status {
	case "UPDATED":
		return "SUCCESS"
	case "LOGIN_ERROR":
		return "INVALID_CREDENTIALS"
	case "OUTDATED":
		return "SITE_NOT_AVAILABLE"
	case "UPDATING", "MERGING":
		return "TRANSACTIONS_IN_PROGRESS"
	case "WAITING_USER_INPUT":
		return "WAITING_USER_INPUT"
	case "WAITING_USER_ACTION":
		return "WAITING_USER_ACTION"
	}
	return "SUCCESS"
}

// ensure generates the account's rows once. Safe under the read lock:
// sync.Once serialises concurrent first users.
func (a *account) ensure(s *Server) {
	a.once.Do(func() {
		a.rows = s.generateRows(a)
		a.refreshBounds()
		if a.kind == kindCard {
			a.sumBills()
		}
	})
}

// refreshBounds recomputes the date and createdAt bounds the page cache uses
// to recognise filters that exclude nothing.
func (a *account) refreshBounds() {
	a.minDate, a.maxDate, a.minCreat = 0, 0, 0
	for i := range a.rows {
		t := &a.rows[i]
		if i == 0 || t.date < a.minDate {
			a.minDate = t.date
		}
		if i == 0 || t.date > a.maxDate {
			a.maxDate = t.date
		}
		if i == 0 || t.createdAt < a.minCreat {
			a.minCreat = t.createdAt
		}
	}
}

// sumBills sets each bill's total from the generated rows that carry its id.
func (a *account) sumBills() {
	byID := make(map[string]*bill, len(a.bills))
	for _, b := range a.bills {
		b.total = 0
		byID[b.idStr] = b
	}
	for i := range a.rows {
		t := &a.rows[i]
		if t.card == nil || t.card.billID == "" {
			continue
		}
		if b := byID[t.card.billID]; b != nil {
			b.total += t.accountAmount()
		}
	}
}

// billFor returns the closed bill whose period contains ms, or nil; when the
// date falls after the last closing it also returns the "YYYY-MM" forecast of
// the bill that will carry it.
func (a *account) billFor(ms int64) (*bill, string) {
	for _, b := range a.bills {
		if ms >= b.start && ms < b.closing {
			return b, ""
		}
	}
	if len(a.bills) == 0 || ms < a.bills[0].closing {
		return nil, ""
	}
	closing := a.bills[0].closing
	for closing <= ms {
		closing = addMonths(closing, 1)
	}
	return nil, time.UnixMilli(closing + 7*msPerDay).UTC().Format("2006-01")
}
