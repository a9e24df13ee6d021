package fake

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
)

// buildProducts generates an item's investments, loans, identity and
// consents. Only the first item has loans (Options.Loans, default one) and
// an identity, so the connector meets both the populated and the 404/empty
// cases.
func (s *Server) buildProducts(meta *rand.Rand, it *item) {
	now := s.genNow
	today := now - now%msPerDay
	owner := ptrStr(it.owner)

	// A CDB (fixed income), a multimarket fund and a stock.
	cdbPrincipal := int64(500000 + meta.IntN(50)*100000)
	cdbProfit := cdbPrincipal * int64(5+meta.IntN(10)) / 100
	issue := today - int64(200+meta.IntN(300))*msPerDay
	cdb := investmentJSON{
		Type: "FIXED_INCOME", Subtype: ptrStr("CDB"), Code: ptrStr("CDB-" + digits(meta, 8)), ISIN: nil,
		Name: "CDB Banco Pluggy 112% CDI", Number: ptrStr(digits(meta, 10)), Owner: owner, CurrencyCode: "BRL",
		Date: ptrTime(today), Value: ptrDec(cdbPrincipal+cdbProfit, 2), Quantity: ptrDec(1, 0),
		Amount: ptrCents(cdbPrincipal + cdbProfit), Balance: twoPlaces(cdbPrincipal + cdbProfit),
		AmountOriginal: ptrCents(cdbPrincipal), AmountProfit: ptrCents(cdbProfit), AmountWithdrawal: ptrCents(cdbPrincipal + cdbProfit*85/100),
		Taxes: ptrCents(cdbProfit * 15 / 100), Taxes2: ptrCents(0),
		DueDate: ptrTime(issue + 3*365*msPerDay), IssueDate: ptrTime(issue), PurchaseDate: ptrTime(issue),
		Issuer: ptrStr("Banco Pluggy S.A."), IssuerCNPJ: ptrStr(formatCNPJ(cnpjDigits(meta))),
		Rate: ptrDec(112, 0), RateType: ptrStr("CDI"), FixedAnnualRate: nil,
		LastMonthRate: ptrDec(int64(90+meta.IntN(20)), 2), AnnualRate: ptrDec(int64(1100+meta.IntN(300)), 2), LastTwelveMonthsRate: ptrDec(int64(1100+meta.IntN(300)), 2),
		Status:      "ACTIVE",
		Institution: &institutionJSON{Name: "Banco Pluggy S.A.", Number: "260"},
		Metadata:    &investmentMetadataJSON{TaxRegime: ptrStr("REGRESSIVO")},
	}
	quotas := int64(1000+meta.IntN(9000))*1e6 + meta.Int64N(1e6) // 6 decimals
	quotaValue := int64(1500000 + meta.IntN(500000))
	fundBalance := quotas * quotaValue / 1e10 // cents
	fund := investmentJSON{
		Type: "MUTUAL_FUND", Subtype: ptrStr("MULTIMARKET_FUND"), Code: nil, ISIN: ptrStr("BRPLGYCTF00" + digits(meta, 1)),
		Name: "Pluggy Multimercado FIC FIM", Number: nil, Owner: owner, CurrencyCode: "BRL",
		Date: ptrTime(today), Value: ptrDec(quotaValue, 6), Quantity: ptrDec(quotas, 6),
		Amount: ptrCents(fundBalance), Balance: twoPlaces(fundBalance),
		AmountOriginal: ptrCents(fundBalance * 9 / 10), AmountProfit: ptrCents(fundBalance - fundBalance*9/10), AmountWithdrawal: nil,
		Taxes: nil, Taxes2: nil, DueDate: nil, IssueDate: nil, PurchaseDate: ptrTime(today - 400*msPerDay),
		Issuer: ptrStr("Pluggy Asset Management"), IssuerCNPJ: ptrStr(formatCNPJ(cnpjDigits(meta))),
		Rate: nil, RateType: nil, FixedAnnualRate: nil,
		LastMonthRate: ptrDec(int64(-50+meta.IntN(200)), 2), AnnualRate: nil, LastTwelveMonthsRate: ptrDec(int64(800+meta.IntN(800)), 2),
		Status:      "ACTIVE",
		Institution: &institutionJSON{Name: "Banco Pluggy S.A.", Number: "260"},
		Metadata:    nil,
	}
	shares := int64(100 * (1 + meta.IntN(20)))
	price := int64(2500 + meta.IntN(5000))
	stock := investmentJSON{
		Type: "EQUITY", Subtype: ptrStr("STOCK"), Code: ptrStr("PLGY3"), ISIN: ptrStr("BRPLGYACNOR" + digits(meta, 1)),
		Name: "PLUGGY ON NM", Number: nil, Owner: owner, CurrencyCode: "BRL",
		Date: ptrTime(today), Value: ptrDec(price, 2), Quantity: ptrDec(shares, 0),
		Amount: ptrCents(shares * price), Balance: twoPlaces(shares * price),
		AmountOriginal: nil, AmountProfit: nil, AmountWithdrawal: nil, Taxes: nil, Taxes2: nil,
		DueDate: nil, IssueDate: nil, PurchaseDate: nil, Issuer: nil, IssuerCNPJ: nil,
		Rate: nil, RateType: nil, FixedAnnualRate: nil, LastMonthRate: nil, AnnualRate: nil, LastTwelveMonthsRate: nil,
		Status:      "ACTIVE",
		Institution: &institutionJSON{Name: "Pluggy Corretora", Number: "000"},
		Metadata:    &investmentMetadataJSON{},
	}
	for k, inv := range []investmentJSON{cdb, fund, stock} {
		in := &investment{id: newUUID(meta)}
		inv.ID, inv.ItemID = in.id.String(), it.idStr
		in.json = inv
		in.txns = investmentTxns(meta, k, today)
		if s.opts.PreciseInvestmentMoney {
			preciseHolding(&in.json, k)
			preciseMoney(in.txns, k)
		}
		if s.opts.InvestmentIDNull {
			for i := range in.txns {
				in.txns[i].InvestmentID = json.RawMessage("null")
			}
		}
		if s.opts.LegacyInvestmentTransactions {
			in.json.Transactions = &in.txns
		}
		it.investments = append(it.investments, in)
		s.investmentsByID[in.id] = in
	}

	if it.idx == 0 {
		it.loans = append(it.loans, buildLoan(meta, it, today))
		extra := rand.New(rand.NewPCG(s.opts.Seed, 0x6c6f616e))
		for len(it.loans) < s.opts.Loans {
			it.loans = append(it.loans, buildLoan(extra, it, today))
		}
		it.identity = &identityJSON{
			ID: newUUID(meta).String(), ItemID: it.idStr, FullName: it.owner, Document: it.taxNumber, DocumentType: "CPF",
			TaxNumber: it.taxNumber, JobTitle: ptrStr("Analista de Sistemas"),
			BirthDate:       ptrTime(479606400000), // 1985-03-14
			InvestorProfile: ptrStr("Moderate"),
			PhoneNumbers:    []typedValueJSON{{"Personal", "+55 11 98765-" + digits(meta, 4)}, {"Work", "+55 11 3456-" + digits(meta, 4)}},
			Emails:          []typedValueJSON{{"Personal", "john.doe@example.com"}},
			Addresses: []addressJSON{{
				FullAddress: "Rua São Bento, 123, Apto 45, Centro, São Paulo - SP, 01011-100", PrimaryAddress: "Rua São Bento, 123",
				City: "São Paulo", PostalCode: "01011-100", State: "SP", Country: "Brasil", Type: "Personal", AdditionalInfo: ptrStr("Apto 45"),
			}},
			Relations: []relationJSON{{Type: "Mother", Name: "Maria Doe"}},
			CreatedAt: jsTime(it.createdAt + 30*msPerSecond), UpdatedAt: jsTime(it.lastUpdatedAt),
		}
	}

	c := &consentJSON{
		ID: newUUID(meta).String(), ItemID: it.idStr,
		Products:                      []string{"ACCOUNTS", "CREDIT_CARDS", "TRANSACTIONS", "INVESTMENTS", "IDENTITY"},
		OpenFinancePermissionsGranted: []string{"ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "CREDIT_CARDS_ACCOUNTS_READ", "CREDIT_CARDS_ACCOUNTS_TRANSACTIONS_READ", "RESOURCES_READ"},
		CreatedAt:                     jsTime(it.createdAt),
	}
	if it.consentExpiresAt != 0 {
		c.ExpiresAt = ptrTime(it.consentExpiresAt)
	}
	it.consents = append(it.consents, c)
}

// investmentTxns generates a handful of movements for investment kind k
// (0 CDB, 1 fund, 2 stock), newest first.
func investmentTxns(r *rand.Rand, k int, today int64) []investmentTxnJSON {
	n := 5 + r.IntN(6)
	out := make([]investmentTxnJSON, 0, n)
	for i := range n {
		day := today - int64(i*30+r.IntN(20))*msPerDay
		amt := int64(10000 + r.IntN(500000))
		t := investmentTxnJSON{ID: newUUID(r).String(), Date: jsTime(day), TradeDate: jsTime(day), Amount: decimal{amt, 2}}
		switch k {
		case 0:
			t.Type, t.MovementType, t.Description = "BUY", "DEBIT", "Aplicação CDB"
			if i%3 == 1 {
				t.Type, t.MovementType, t.Description = "INTEREST", "CREDIT", "Juros CDB"
			}
			t.Quantity, t.Value = ptrDec(1, 0), ptrDec(amt, 2)
			t.AgreedRate = ptrDec(112, 0)
		case 1:
			t.Type, t.MovementType, t.Description = "BUY", "DEBIT", "Aplicação em fundo"
			if i%2 == 1 {
				t.Type, t.MovementType, t.Description = "SELL", "CREDIT", "Resgate de fundo"
				t.Expenses = &expensesJSON{IncomeTax: ptrMoney(amt * 15 / 1000)}
			}
			q := int64(10+r.IntN(990))*1e6 + r.Int64N(1e6)
			t.Quantity, t.Value = ptrDec(q, 6), ptrDec(amt*1_000_000_000_000/q, 8)
		case 2:
			shares := int64(10 * (1 + r.IntN(10)))
			price := int64(2500 + r.IntN(5000))
			amt = shares * price
			t.Amount = decimal{amt, 2}
			t.Type, t.MovementType, t.Description = "BUY", "DEBIT", "Compra PLGY3"
			if i%4 == 3 {
				t.Type, t.MovementType, t.Description = "SELL", "CREDIT", "Venda PLGY3"
			}
			t.Quantity, t.Value = ptrDec(shares, 0), ptrDec(price, 2)
			t.BrokerageNumber = ptrStr(strconv.Itoa(100000 + r.IntN(900000)))
			fee := int64(490)
			t.Expenses = &expensesJSON{BrokerageFee: ptrMoney(fee), SettlementFee: ptrMoney(amt * 25 / 100000), StockExchangeFee: ptrMoney(amt * 5 / 100000)}
		}
		net := t.Amount.Value
		if t.Expenses != nil {
			for _, f := range []*money{t.Expenses.IncomeTax, t.Expenses.BrokerageFee, t.Expenses.SettlementFee, t.Expenses.StockExchangeFee} {
				if f != nil {
					net -= int64(*f)
				}
			}
		}
		t.NetAmount = ptrDec(net, 2)
		out = append(out, t)
	}
	return out
}

// preciseMoney rewrites the movements of investment kind k the way
// Options.PreciseInvestmentMoney describes, without drawing from the
// generator (the rest of the data set stays the same): movement i gets
// amount and netAmount with 6, 8 and 13 decimal places in turn (the last
// the 17 significant digits of a double, 1290.4500000000001), netAmount
// still amount less the expenses; a fund's quota value gets ten places.
func preciseMoney(txns []investmentTxnJSON, k int) {
	for i := range txns {
		t := &txns[i]
		var extra, scale int64
		switch i % 3 {
		case 0:
			extra, scale = 3034, 6 // 1266.80 -> 1266.803034
		case 1:
			extra, scale = 123457, 8 // 1266.80 -> 1266.80123457
		default:
			extra, scale = 1, 13 // 1290.45 -> 1290.4500000000001
		}
		pow := int64(1)
		for range scale - 2 {
			pow *= 10
		}
		fees := t.Amount.Value - t.NetAmount.Value
		t.Amount = decimal{t.Amount.Value*pow + extra, int(scale)}
		t.NetAmount = ptrDec(t.Amount.Value-fees*pow, int(scale))
		if k == 1 && t.Value != nil {
			t.Value = ptrDec(t.Value.Value*100+int64(i%10)*7+1, 10)
		}
	}
}

// preciseHolding rewrites investment kind k the way
// Options.PreciseInvestmentMoney describes, without drawing from the
// generator. The CDB (k 0) becomes the live Nubank CDB pluggy-api.md §12
// records: value 0.010186, quantity 126680.3034, amount and balance
// 1290.45, amountOriginal 1266.803034; its amountProfit is amount less
// amountOriginal (23.646966), its taxes 15% of that (3.5470449) and
// amountWithdrawal amount less taxes (1286.9029551). The fund (k 1) gets a
// quota value with ten places, an amountOriginal with eight, and amount
// and balance with the thirteen places of a computed double's seventeen
// significant digits (…0000000001), amountProfit the exact difference.
// The stock keeps two places, so one read meets both.
func preciseHolding(inv *investmentJSON, k int) {
	switch k {
	case 0:
		amount := decimal{129045, 2}
		inv.Value, inv.Quantity = ptrDec(10186, 6), ptrDec(1266803034, 4)
		inv.Amount, inv.Balance = &amount, amount
		inv.AmountOriginal = ptrDec(1266803034, 6)
		inv.AmountProfit = ptrDec(129045*10000-1266803034, 6)
		inv.Taxes = ptrDec(inv.AmountProfit.Value*15, 7)
		inv.AmountWithdrawal = ptrDec(129045*100000-inv.Taxes.Value, 7)
	case 1:
		const to13 = 100_000_000_000 // cents to 13 places
		balance := decimal{inv.Balance.Value*to13 + 1, 13}
		original := decimal{inv.AmountOriginal.Value*1_000_000 + 123457, 8}
		inv.Value = ptrDec(inv.Value.Value*10_000+4321, 10)
		inv.Amount, inv.Balance = &balance, balance
		inv.AmountOriginal = &original
		inv.AmountProfit = ptrDec(balance.Value-original.Value*100_000, 13)
	}
}

// buildLoan returns a personal loan with the Portuguese enum values the live
// API is known to send (MES, EFETIVA, SIMPLES, UNICA, ...).
func buildLoan(r *rand.Rand, it *item, today int64) *loanJSON {
	contract := today - 180*msPerDay
	amount := int64(1500000 + r.IntN(50)*100000)
	total, paid := 24, 6
	l := &loanJSON{
		ID: newUUID(r).String(), ItemID: it.idStr, ContractNumber: digits(r, 12), IpocCode: "92792126019929279212650822221989319252576" + digits(r, 4),
		ProductName: "Crédito Pessoal Pluggy", Type: "CREDITO_PESSOAL_SEM_CONSIGNACAO", Kind: "LOAN",
		Date: jsTime(today), ContractDate: jsTime(contract), DisbursementDates: []jsTime{jsTime(contract + msPerDay)},
		SettlementDate: jsTime(contract + msPerDay), ContractAmount: money(amount), CurrencyCode: "BRL",
		DueDate: jsTime(addMonths(contract, total)), InstallmentPeriodicity: "MES",
		FirstInstallmentDueDate: jsTime(addMonths(contract, 1)), CET: decimal{2987, 4}, AmortizationScheduled: "PRICE",
		InterestRates: []loanInterestRateJSON{{
			TaxType: "EFETIVA", InterestRateType: "COMPOSTO", TaxPeriodicity: "AA", Calculation: "21/252",
			ReferentialRateIndexerType: "PRE_FIXADO", PreFixedRate: decimal{2499, 4},
		}},
		ContractedFees: []loanFeeJSON{
			{Name: "Tarifa de cadastro", Code: "CADASTRO", ChargeType: "UNICA", ChargeCalculation: "FIXO", Amount: ptrMoney(50000)},
			{Name: "Seguro prestamista", Code: "SEGURO", ChargeType: "POR_PARCELA", ChargeCalculation: "PERCENTUAL", Rate: ptrDec(15, 4)},
		},
		ContractedFinanceCharges: []loanChargeJSON{
			{Type: "JUROS_REMUNERATORIOS_POR_ATRASO", ChargeRate: ptrDec(1, 2)},
			{Type: "MULTA_ATRASO_PAGAMENTO", ChargeAdditionalInfo: ptrStr("Multa de 2% sobre o valor da parcela"), ChargeRate: ptrDec(2, 2)},
			{Type: "OUTROS", ChargeAdditionalInfo: ptrStr("IOF"), ChargeRate: nil},
		},
		Warranties: []loanWarrantyJSON{{CurrencyCode: "BRL", Type: "CESSAO_DIREITOS_CREDITORIOS", Subtype: "ACOES_DEBENTURES", Amount: money(amount / 2)}},
		Installments: loanInstallmentsJSON{
			TypeNumberOfInstallments: "MES", TotalNumberOfInstallments: total, TypeContractRemaining: "MES",
			ContractRemainingNumber: total - paid, PaidInstallments: paid, DueInstallments: total - paid, PastDueInstallments: 0,
			BalloonPayments: nil,
		},
	}
	inst := amount * 6 / 100
	l.Payments.ContractOutstandingBalance = money(amount - int64(paid)*inst*7/10)
	for k := range paid {
		l.Payments.Releases = append(l.Payments.Releases, loanReleaseJSON{
			ID: newUUID(r).String(), InstallmentID: ptrStr(newUUID(r).String()),
			PaidDate: jsTime(addMonths(contract, k+1)), CurrencyCode: "BRL", PaidAmount: money(inst),
		})
	}
	return l
}
