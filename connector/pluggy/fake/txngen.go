package fake

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Template kinds: what extra structure a generated row carries.
const (
	tkPlain = iota
	tkPix
	tkTED
	tkBoleto
	tkForeign     // USD amount with amountInAccountCurrency in BRL, plus an IOF row
	tkInstallment // a group of card rows, one per installment
)

// tmpl describes a family of transactions. Descriptions may contain {first}
// and {FULL}, replaced by a counterparty's first name and upper-case full
// name; {j} and {n} are the installment number and count.
type tmpl struct {
	weight   int
	desc     string
	raw      string // "" = null
	cat      int16  // -1 = null
	credit   bool   // money in (bank) or payment/refund (card)
	lo, hi   int64  // amount range in cents (USD for tkForeign)
	kind     int
	op       string
	mcc      int
	merchant *merchant
}

// merchants use CNPJs from a fixed generator rather than real companies'.
var (
	merchRNG       = rand.New(rand.NewPCG(7, 7))
	mPadaria       = &merchant{"Padaria São João", "PADARIA E CONFEITARIA SAO JOAO LTDA", cnpjDigits(merchRNG), "1091102", "Food and drinks"}
	mMercadoLivre  = &merchant{"Mercado Livre", "EBAZAR.COM.BR LTDA", cnpjDigits(merchRNG), "4789099", "Online shopping"}
	mIfood         = &merchant{"iFood", "IFOOD.COM AGENCIA DE RESTAURANTES ONLINE S.A.", cnpjDigits(merchRNG), "7490104", "Food delivery"}
	mUber          = &merchant{"Uber", "UBER DO BRASIL TECNOLOGIA LTDA.", cnpjDigits(merchRNG), "8299799", "Taxi and ride-hailing"}
	mPaoDeAcucar   = &merchant{"Pão de Açúcar", "COMPANHIA BRASILEIRA DE DISTRIBUICAO", cnpjDigits(merchRNG), "4711302", "Groceries"}
	mMagazineLuiza = &merchant{"Magazine Luiza", "MAGAZINE LUIZA S/A", cnpjDigits(merchRNG), "4753900", "Electronics"}
	enelCNPJ       = cnpjDigits(merchRNG)
	acmeCNPJ       = cnpjDigits(merchRNG)
)

var checkingTemplates = []tmpl{
	{weight: 20, desc: "Pix enviado - {first}", raw: "PIX ENVIADO {FULL}", cat: cat("05070000"), lo: 1000, hi: 80000, kind: tkPix, op: "PIX"},
	{weight: 12, desc: "Pix recebido - {first}", raw: "PIX RECEBIDO {FULL}", cat: cat("05070000"), credit: true, lo: 1000, hi: 150000, kind: tkPix, op: "PIX"},
	{weight: 3, desc: "Salário", raw: "CRED SALARIO ACME TECNOLOGIA LTDA", cat: cat("01010000"), credit: true, lo: 350000, hi: 1200000, kind: tkTED, op: "FOLHA_PAGAMENTO"},
	{weight: 10, desc: "Padaria São João 🥐", raw: "PADARIA SAO JOAO", cat: cat("11000000"), lo: 500, hi: 6000, op: "CARTAO", merchant: mPadaria},
	{weight: 6, desc: "Açaí", cat: cat("11010000"), lo: 1200, hi: 4000, op: "CARTAO"},
	{weight: 10, desc: "Supermercado Pão de Açúcar", raw: "PAO DE ACUCAR 1234", cat: cat("10000000"), lo: 4000, hi: 90000, op: "CARTAO", merchant: mPaoDeAcucar},
	{weight: 3, desc: "Conta de luz - Enel", raw: "PAGTO BOLETO ENEL DISTRIBUICAO SP", cat: cat("17020002"), lo: 8000, hi: 45000, kind: tkBoleto, op: "BOLETO"},
	{weight: 2, desc: "Aluguel", raw: "TED ALUGUEL {FULL}", cat: cat("17000000"), lo: 150000, hi: 450000, kind: tkTED, op: "TED"},
	{weight: 3, desc: "Pagamento de fatura", raw: "PAG FATURA CARTAO CREDITO", cat: cat("05100000"), lo: 30000, hi: 500000, op: "OUTROS"},
	{weight: 2, desc: "Tarifa pacote de serviços", raw: "TARIFA PACOTE SERVICOS", cat: cat("16000000"), lo: 1990, hi: 4990, op: "PACOTE_TARIFA_SERVICOS"},
	{weight: 3, desc: "Transferência para poupança", raw: "TRANSF P/ POUPANCA", cat: cat("04000000"), lo: 5000, hi: 200000, op: "TRANSFERENCIA_MESMA_INSTITUICAO"},
	{weight: 3, desc: "TED recebida - {first}", raw: "TED RECEBIDA {FULL}", cat: cat("05030000"), credit: true, lo: 10000, hi: 500000, kind: tkTED, op: "TED"},
	{weight: 2, desc: "Saque 24h", raw: "SAQUE BANCO24HORAS", cat: -1, lo: 2000, hi: 50000, op: "SAQUE"},
	{weight: 2, desc: "Recarga de celular", raw: "RECARGA VIVO", cat: cat("07010000"), lo: 1500, hi: 5000, op: "OUTROS"},
}

var savingsTemplates = []tmpl{
	{weight: 6, desc: "Rendimento poupança", raw: "REMUNERACAO BASICA", cat: cat("03060000"), credit: true, lo: 1, hi: 8000, op: "RENDIMENTO_APLIC_FINANCEIRA"},
	{weight: 3, desc: "Aplicação poupança", raw: "APLICACAO POUPANCA", cat: cat("04000000"), credit: true, lo: 5000, hi: 300000, op: "TRANSFERENCIA_MESMA_INSTITUICAO"},
	{weight: 2, desc: "Resgate poupança", raw: "RESGATE POUPANCA", cat: cat("04000000"), lo: 5000, hi: 200000, op: "RESGATE_APLIC_FINANCEIRA"},
}

var cardTemplates = []tmpl{
	{weight: 8, desc: "MERCADOLIVRE*2PRODUTOS", raw: "MERCADOLIVRE*2PRODUTOS", cat: cat("08010000"), lo: 2000, hi: 60000, mcc: 5311, merchant: mMercadoLivre},
	{weight: 10, desc: "IFOOD *RESTAURANTE", raw: "IFD*IFOOD RESTAURANTE", cat: cat("11020000"), lo: 2500, hi: 15000, mcc: 5812, merchant: mIfood},
	{weight: 8, desc: "Uber *Trip", raw: "UBER *TRIP HELP.UBER.COM", cat: cat("19040000"), lo: 800, hi: 6000, mcc: 4121, merchant: mUber},
	{weight: 4, desc: "Posto Shell", raw: "POSTO SHELL AV PAULISTA", cat: cat("19050000"), lo: 5000, hi: 35000, mcc: 5541},
	{weight: 4, desc: "Drogasil", raw: "DROGASIL 1234", cat: cat("18020000"), lo: 1500, hi: 20000, mcc: 5912},
	{weight: 2, desc: "Netflix.com", raw: "NETFLIX.COM", cat: cat("09010000"), lo: 2090, hi: 5590, mcc: 4899},
	{weight: 2, desc: "Spotify", raw: "SPOTIFY P1A2B3C4", cat: cat("09020000"), lo: 1190, hi: 3490, mcc: 5815},
	{weight: 2, desc: "AMAZON.COM*US", raw: "AMAZON.COM*MK1AB2CD3 AMZN.COM/BILL WA", cat: cat("08010000"), lo: 999, hi: 19999, kind: tkForeign, mcc: 5942},
	{weight: 3, desc: "Magazine Luiza", raw: "MAGAZINE LUIZA PARC {j}/{n}", cat: cat("08020000"), lo: 30000, hi: 500000, kind: tkInstallment, mcc: 5732, merchant: mMagazineLuiza},
	{weight: 3, desc: "Padaria São João 🥐", raw: "PADARIA SAO JOAO", cat: cat("11000000"), lo: 500, hi: 6000, mcc: 5462, merchant: mPadaria},
	{weight: 2, desc: "Açaí", cat: cat("11010000"), lo: 1200, hi: 4000, mcc: 5814},
	{weight: 2, desc: "Pagamento recebido", raw: "PAGAMENTO EFETUADO", cat: cat("05100000"), credit: true, lo: 30000, hi: 500000},
	{weight: 1, desc: "Estorno - Mercado Livre", raw: "ESTORNO MERCADOLIVRE", cat: cat("08010000"), credit: true, lo: 2000, hi: 30000},
	{weight: 1, desc: "PAG*JoseDaSilva", raw: "PAG*JOSEDASILVA", cat: -1, lo: 1000, hi: 10000, mcc: 5999},
}

var people = []string{
	"José Silva", "Maria Souza", "João Pereira", "Ana Oliveira", "Luíza Costa",
	"Antônio Ferreira", "Francisca Gomes", "Carlos Rodrigues", "Fernanda Lima", "Paulo Araújo",
}

var routingNumbers = []string{"001", "033", "077", "104", "237", "260", "341"}

// templatesFor returns the template table of an account kind.
func templatesFor(kind int) []tmpl {
	switch kind {
	case kindSavings:
		return savingsTemplates
	case kindCard:
		return cardTemplates
	}
	return checkingTemplates
}

func pickTemplate(r *rand.Rand, tbl []tmpl) *tmpl {
	total := 0
	for i := range tbl {
		total += tbl[i].weight
	}
	n := r.IntN(total)
	for i := range tbl {
		if n < tbl[i].weight {
			return &tbl[i]
		}
		n -= tbl[i].weight
	}
	return &tbl[len(tbl)-1]
}

// rowGen generates rows for one account. now is the instant rows are
// "ingested" at: the construction clock for the initial dataset, the current
// clock for mutations.
type rowGen struct {
	r     *rand.Rand
	a     *account
	now   int64
	owner *party
}

func newRowGen(r *rand.Rand, a *account, now int64) *rowGen {
	return &rowGen{r: r, a: a, now: now, owner: &party{name: a.item.owner, docType: "CPF", docValue: a.item.taxNumber}}
}

// generateRows builds exactly TransactionsPerAccount rows for a, from a
// generator seeded by (Seed, account index) so the result does not depend on
// which accounts were generated before.
func (s *Server) generateRows(a *account) []txn {
	n := s.opts.TransactionsPerAccount
	r := rand.New(rand.NewPCG(s.opts.Seed, 0x7478<<48|uint64(a.idx)))
	g := newRowGen(r, a, s.genNow)
	today := s.genNow - s.genNow%msPerDay
	rows := make([]txn, 0, n)
	recent := min(n/10, 10) // guarantee rows in the last 5 days for mutations to act on
	tbl := templatesFor(a.kind)
	for len(rows) < n {
		i := len(rows)
		day := int64(r.IntN(300))
		if i < recent {
			day = int64(i % 5)
		}
		dayStart := today - day*msPerDay
		var t *tmpl
		switch {
		case a.kind == kindChecking && i%211 == 7:
			// A large debit: the running balance before it stays positive.
			t = &tmpl{desc: "Compra de imóvel", raw: "TED ENVIADA {FULL}", cat: cat("17000000"), lo: 1234567891, hi: 1234567891, kind: tkTED, op: "TED"}
		case i%97 == 5:
			t = oneCentTemplate(a.kind)
		default:
			t = pickTemplate(r, tbl)
		}
		rows = g.appendRows(rows, t, dayStart, n-len(rows))
	}
	sortRows(rows)
	if a.kind == kindChecking {
		bal := a.balance
		for i := range rows {
			rows[i].balance = bal
			rows[i].flags |= flagBalance
			bal -= rows[i].amount
		}
	}
	return rows
}

func oneCentTemplate(kind int) *tmpl {
	switch kind {
	case kindSavings:
		return &tmpl{desc: "Rendimento poupança", raw: "REMUNERACAO BASICA", cat: cat("03060000"), credit: true, lo: 1, hi: 1, op: "RENDIMENTO_APLIC_FINANCEIRA"}
	case kindCard:
		return &tmpl{desc: "Ajuste de centavos", raw: "AJUSTE CENTAVOS", cat: -1, lo: 1, hi: 1}
	}
	return &tmpl{desc: "Pix recebido - Teste 🙂", raw: "PIX RECEBIDO TESTE", cat: cat("05070000"), credit: true, lo: 1, hi: 1, kind: tkPix, op: "PIX"}
}

// sortRows puts rows in keyset order: date desc, then id desc.
func sortRows(rows []txn) {
	slices.SortFunc(rows, func(x, y txn) int {
		if x.date != y.date {
			if x.date > y.date {
				return -1
			}
			return 1
		}
		return -bytes.Compare(x.id[:], y.id[:])
	})
}

// amount draws a realistic amount in [lo, hi]: often whole reais or tens of
// cents, so formatting of 150, 159.2 and 1209.57 all occurs.
func (g *rowGen) amount(t *tmpl) int64 {
	v := t.lo
	if t.hi > t.lo {
		v += g.r.Int64N(t.hi - t.lo + 1)
	}
	if v >= 1000 {
		switch g.r.IntN(10) {
		case 0, 1:
			v -= v % 100
		case 2, 3, 4:
			v -= v % 10
		}
	}
	return v
}

// appendRows appends the rows of one template instance (several for
// installments and foreign purchases, at most room) dated on dayStart.
func (g *rowGen) appendRows(rows []txn, t *tmpl, dayStart int64, room int) []txn {
	r, a := g.r, g.a
	date := dayStart
	if a.kind == kindCard {
		// Card rows carry a real time of day, never later than now.
		span := msPerDay
		if dayStart+span > g.now {
			span = max(g.now-dayStart, 1)
		}
		date += r.Int64N(span) / msPerSecond * msPerSecond
	}
	row := txn{id: newUUID(r), date: date, category: t.cat, desc: t.desc, raw: t.raw, opType: t.op, merchant: t.merchant}
	if t.credit {
		row.flags |= flagCredit
	}
	person := people[r.IntN(len(people))]
	if strings.Contains(t.desc, "{") || strings.Contains(t.raw, "{") {
		first, _, _ := strings.Cut(person, " ")
		rep := strings.NewReplacer("{first}", first, "{FULL}", strings.ToUpper(stripAccents(person)))
		row.desc, row.raw = rep.Replace(row.desc), rep.Replace(row.raw)
	}
	// Some rows lack descriptionRaw or a category, as real ones do.
	if r.IntN(10) == 0 {
		row.raw = ""
	}
	if r.IntN(25) == 0 {
		row.category = -1
	}
	amt := g.amount(t)
	g.stamp(&row)
	if a.kind == kindCard {
		if t.credit {
			row.amount = -amt
		} else {
			row.amount = amt
		}
		row.card = &cardMeta{cardNumber: a.cardNumber}
		if !t.credit {
			row.card.payeeMCC = t.mcc
			row.card.purchaseDate = dayStart
		}
	} else {
		if t.credit {
			row.amount = amt
		} else {
			row.amount = -amt
		}
		if r.IntN(5) != 0 {
			row.providerCode = digits(r, 6)
		}
	}
	switch t.kind {
	case tkPix, tkTED:
		row.pay = g.transferData(t, person, date)
	case tkBoleto:
		row.pay = &payment{
			payer: g.owner, receiver: &party{name: "ENEL DISTRIBUICAO SAO PAULO", docType: "CNPJ", docValue: formatCNPJ(enelCNPJ)},
			method: "BOLETO", boleto: &boleto{digitableLine: digits(r, 48), barcode: digits(r, 44), baseAmount: amt},
		}
	case tkForeign:
		rate := 50000 + r.Int64N(8000) // BRL per USD, 4 decimals
		row.currency = "USD"
		row.inAcct = (amt*rate + 5000) / 10000
		row.flags |= flagInAcct
		g.settleCard(&row)
		rows = append(rows, row)
		if room > 1 {
			iof := row
			iof.id = newUUID(r)
			iof.desc, iof.raw, iof.currency = "IOF compra internacional", "IOF COMPRA INTERNACIONAL", ""
			iof.category, iof.merchant = cat("15000000"), nil
			iof.amount = (row.inAcct*438 + 5000) / 10000
			iof.flags &^= flagInAcct
			iof.card = &cardMeta{cardNumber: a.cardNumber, billID: row.card.billID, billForecastDate: row.card.billForecastDate}
			rows = append(rows, iof)
		}
		return rows
	case tkInstallment:
		n := min(2+r.IntN(9), room)
		total := amt
		first := row
		for j := 1; j <= n; j++ {
			inst := first
			if j > 1 {
				inst.id = newUUID(r)
				inst.date = addMonths(first.date, j-1)
			}
			inst.amount = total / int64(n)
			if j == 1 {
				inst.amount += total % int64(n)
			}
			inst.raw = strings.NewReplacer("{j}", pad(j, 2), "{n}", pad(n, 2)).Replace(t.raw)
			inst.card = &cardMeta{
				installmentNumber: j, totalInstallments: n, totalAmount: total,
				payeeMCC: t.mcc, purchaseDate: dayStart, cardNumber: a.cardNumber,
			}
			g.settleCard(&inst)
			rows = append(rows, inst)
		}
		return rows
	}
	if a.kind == kindCard {
		g.settleCard(&row)
	}
	return append(rows, row)
}

// stamp sets createdAt and updatedAt: ingested 0–3 days after the date,
// never after now; usually never updated since.
func (g *rowGen) stamp(t *txn) {
	c := min(t.date+g.r.Int64N(3*msPerDay), g.now)
	t.createdAt = c
	t.updatedAt = c
	if g.r.IntN(4) == 0 {
		t.updatedAt = min(c+g.r.Int64N(2*msPerDay), g.now)
		t.updatedAt = max(t.updatedAt, c)
	}
}

// settleCard sets a card row's status and bill link from its date: rows in a
// closed bill carry billId; rows in the open period or later carry
// billForecastDate; recent and future rows are PENDING.
func (g *rowGen) settleCard(t *txn) {
	b, forecast := g.a.billFor(t.date)
	if b != nil {
		t.card.billID = b.idStr
	}
	t.card.billForecastDate = forecast
	if t.date > g.now-5*msPerDay && t.flags&flagCredit == 0 {
		t.flags |= flagPending
	}
	if t.date > g.now {
		// Future installments were ingested with the purchase.
		t.flags |= flagPending
		t.createdAt = min(t.createdAt, g.now)
		t.updatedAt = min(t.updatedAt, g.now)
	}
}

// transferData builds PIX/TED paymentData between the owner and a person (or
// a company for salary/rent), in the direction of the money.
func (g *rowGen) transferData(t *tmpl, person string, date int64) *payment {
	r := g.r
	other := &party{
		name: person, branch: pad(1+r.IntN(9999), 4), account: digits(r, 5) + "-" + digits(r, 1),
		routing: routingNumbers[r.IntN(len(routingNumbers))], docType: "CPF", docValue: cpf(r),
	}
	if t.desc == "Salário" {
		other.name, other.docType, other.docValue = "ACME TECNOLOGIA LTDA", "CNPJ", formatCNPJ(acmeCNPJ)
	} else if r.IntN(10) == 0 {
		other.docType, other.docValue = "CNPJ", formatCNPJ(cnpjDigits(r))
	}
	p := &payment{method: "TED"}
	if t.kind == tkPix {
		p.method = "PIX"
		p.reference = "E" + digits(r, 8) + time.UnixMilli(date).UTC().Format("200601021504") + alnum(r, 11)
	}
	if t.credit {
		p.payer, p.receiver = other, g.owner
	} else {
		p.payer, p.receiver = g.owner, other
	}
	return p
}

func alnum(r *rand.Rand, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

// stripAccents maps the accented letters used in names to ASCII, as bank
// statements print them.
func stripAccents(s string) string {
	return accentReplacer.Replace(s)
}

var accentReplacer = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ã", "a", "é", "e", "ê", "e", "í", "i", "ó", "o", "ô", "o", "õ", "o", "ú", "u", "ç", "c",
	"Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U", "Ç", "C",
)
