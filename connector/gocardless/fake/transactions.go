package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// money is the Berlin Group amount: a decimal string and an ISO 4217 code.
// Amounts are strings on the wire and must stay so: binary floats cannot
// hold "0.10" exactly.
type money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

type accountRef struct {
	IBAN string `json:"iban"`
}

// exchangeRate is one element of currencyExchange. GoCardless documents
// an array of them; live answers also carry a single one on its own, so a
// transaction's CurrencyExchange holds either shape.
type exchangeRate struct {
	SourceCurrency   string `json:"sourceCurrency"`
	ExchangeRate     string `json:"exchangeRate"`
	UnitCurrency     string `json:"unitCurrency"`
	TargetCurrency   string `json:"targetCurrency"`
	QuotationDate    string `json:"quotationDate"`
	InstructedAmount *money `json:"instructedAmount,omitempty"`
}

type balanceAfter struct {
	BalanceAmount money  `json:"balanceAmount"`
	BalanceType   string `json:"balanceType"`
}

// transaction is one Berlin Group / NextGenPSD2 transaction as GoCardless
// serves it. Every field is optional on the wire; empty ones are left out
// exactly as banks leave them out. TransactionID is a plain string on
// purpose: a bank's " " is not empty and must survive encoding.
type transaction struct {
	TransactionID                          string        `json:"transactionId,omitempty"`
	InternalTransactionID                  string        `json:"internalTransactionId,omitempty"`
	EntryReference                         string        `json:"entryReference,omitempty"`
	EndToEndID                             string        `json:"endToEndId,omitempty"`
	MandateID                              string        `json:"mandateId,omitempty"`
	CheckID                                string        `json:"checkId,omitempty"`
	CreditorID                             string        `json:"creditorId,omitempty"`
	BookingDate                            string        `json:"bookingDate,omitempty"`
	BookingDateTime                        string        `json:"bookingDateTime,omitempty"`
	ValueDate                              string        `json:"valueDate,omitempty"`
	ValueDateTime                          string        `json:"valueDateTime,omitempty"`
	TransactionAmount                      money         `json:"transactionAmount"`
	CurrencyExchange                       any           `json:"currencyExchange,omitempty"`
	BalanceAfterTransaction                *balanceAfter `json:"balanceAfterTransaction,omitempty"`
	CreditorName                           string        `json:"creditorName,omitempty"`
	CreditorAccount                        *accountRef   `json:"creditorAccount,omitempty"`
	CreditorAgent                          string        `json:"creditorAgent,omitempty"`
	UltimateCreditor                       string        `json:"ultimateCreditor,omitempty"`
	DebtorName                             string        `json:"debtorName,omitempty"`
	DebtorAccount                          *accountRef   `json:"debtorAccount,omitempty"`
	DebtorAgent                            string        `json:"debtorAgent,omitempty"`
	UltimateDebtor                         string        `json:"ultimateDebtor,omitempty"`
	RemittanceInformationUnstructured      string        `json:"remittanceInformationUnstructured,omitempty"`
	RemittanceInformationUnstructuredArray []string      `json:"remittanceInformationUnstructuredArray,omitempty"`
	RemittanceInformationStructured        string        `json:"remittanceInformationStructured,omitempty"`
	RemittanceInformationStructuredArray   []string      `json:"remittanceInformationStructuredArray,omitempty"`
	AdditionalInformation                  string        `json:"additionalInformation,omitempty"`
	BankTransactionCode                    string        `json:"bankTransactionCode,omitempty"`
	ProprietaryBankTransactionCode         string        `json:"proprietaryBankTransactionCode,omitempty"`
	PurposeCode                            string        `json:"purposeCode,omitempty"`
	MerchantCategoryCode                   string        `json:"merchantCategoryCode,omitempty"`

	// misfit serves the row as encodeMisfit writes it (Options.Misfits);
	// kept with the row's other fields, so a scenario that rewrites the
	// row keeps it too.
	misfit bool
}

// row is a transaction together with its encoding, which is computed once so
// that Booked and Pending hand out exactly the bytes the server sends.
type row struct {
	tx    transaction
	raw   json.RawMessage
	cents int64
	date  string // the date the date_from/date_to filter looks at
}

// newRow freezes tx. cents must be the value of tx.TransactionAmount; it is
// kept as an integer for the balance arithmetic.
func newRow(tx transaction, cents int64) *row {
	r := &row{tx: tx, raw: encode(tx), cents: cents, date: tx.BookingDate}
	if tx.misfit {
		r.raw = encodeMisfit(tx)
	}
	if r.date == "" {
		r.date = tx.ValueDate
	}
	return r
}

// encodeMisfit is tx as a bank that strays from the schema serves it
// (Options.Misfits): its balanceAfterTransaction as text, the amount with
// a decimal comma and the currency after it ("1234,56 EUR"), and a field
// the API documents nowhere, xBankField, whose number keeps its written
// precision (1.50) for the connector to keep byte-exact.
func encodeMisfit(tx transaction) json.RawMessage {
	bal := tx.BalanceAfterTransaction
	tx.BalanceAfterTransaction = nil
	raw := encode(tx)
	extra := `,"xBankField":{"segment":"retail","since":"2027-01","n":1.50}}`
	if bal != nil {
		text := strings.Replace(bal.BalanceAmount.Amount, ".", ",", 1) + " " + bal.BalanceAmount.Currency
		extra = `,"balanceAfterTransaction":` + string(encode(text)) + extra
	}
	return append(raw[:len(raw)-1:len(raw)-1], extra...)
}

// encode marshals like the real API (a Django REST service): compact, UTF-8
// left as is, and "&" not escaped as \u0026.
func encode(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fake: encoding %T: %v", v, err)) // only fixed types are encoded
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// formatCents writes an amount as the API does: at least one integer digit,
// exactly two decimals, a leading minus for money going out.
func formatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
