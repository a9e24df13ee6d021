package fake

import (
	"encoding/hex"
	"strconv"
	"time"
)

// This file holds the append-based JSON writers. Transactions are encoded by
// hand rather than through encoding/json because a benchmark dataset has a
// million of them: reflection per row would dominate start-up, and a fixed
// field order written by one function is also what makes the served bytes
// reproducible. Money is kept in integer minor units end to end and printed
// the way JavaScript prints numbers (1209.5, -150, 159.2), never through a
// float, so no digit can drift.

// appendFixed appends v / 10^scale as a JavaScript number literal: no
// exponent, no trailing fractional zeros, no decimal point for whole values.
func appendFixed(b []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = uint64(-v)
	}
	pow := uint64(1)
	for range scale {
		pow *= 10
	}
	b = strconv.AppendUint(b, u/pow, 10)
	frac := u % pow
	if frac == 0 {
		return b
	}
	digits := make([]byte, scale)
	for i := scale - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := scale
	for end > 0 && digits[end-1] == '0' {
		end--
	}
	b = append(b, '.')
	return append(b, digits[:end]...)
}

// appendCents appends an amount held in cents (see appendFixed).
func appendCents(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	if r := cents % 100; r != 0 {
		b = append(b, '.', byte('0'+r/10))
		if r%10 != 0 {
			b = append(b, byte('0'+r%10))
		}
	}
	return b
}

// appendISO appends a Unix-millisecond instant as Pluggy writes timestamps:
// UTC with exactly three fractional digits and a Z, e.g.
// 2026-05-14T00:00:00.000Z (the SDK only revives strings of this form).
func appendISO(b []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.')
	milli := int(((ms % 1000) + 1000) % 1000)
	b = append(b, byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10))
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// isoString formats a Unix-millisecond instant (see appendISO).
func isoString(ms int64) string { return string(appendISO(make([]byte, 0, 24), ms)) }

// dateOnly formats the UTC calendar date of a Unix-millisecond instant.
func dateOnly(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

// appendString appends s as a JSON string. UTF-8 (accents, emoji) is written
// raw; only the characters JSON requires are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendNullString appends s as a JSON string, or null when s is empty.
func appendNullString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendUUID appends u in canonical lowercase 8-4-4-4-12 form, unquoted.
func appendUUID(b []byte, u uuid) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], u[10:16])
	return append(b, buf[:]...)
}

// jsTime is a Unix-millisecond instant that marshals like appendISO.
type jsTime int64

// MarshalJSON implements json.Marshaler.
func (t jsTime) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 26), '"')
	b = appendISO(b, int64(t))
	return append(b, '"'), nil
}

// ptrTime returns a pointer to a jsTime, for nullable timestamp fields.
func ptrTime(ms int64) *jsTime { t := jsTime(ms); return &t }

// money is an amount in cents that marshals as an exact JavaScript number.
type money int64

// MarshalJSON implements json.Marshaler.
func (m money) MarshalJSON() ([]byte, error) { return appendCents(nil, int64(m)), nil }

// ptrMoney returns a pointer to a money, for nullable amount fields.
func ptrMoney(c int64) *money { m := money(c); return &m }

// decimal is a fixed-point number (Value / 10^Scale) for rates and
// quantities that need more than two decimals.
type decimal struct {
	Value int64
	Scale int
}

// MarshalJSON implements json.Marshaler.
func (d decimal) MarshalJSON() ([]byte, error) { return appendFixed(nil, d.Value, d.Scale), nil }

// ptrDec returns a pointer to a decimal.
func ptrDec(v int64, scale int) *decimal { return &decimal{v, scale} }

// twoPlaces returns an amount in cents as a decimal with two places, which
// prints as money does; ptrCents is its nullable form. Fields that
// Options.PreciseInvestmentMoney fills with more places are decimals.
func twoPlaces(c int64) decimal { return decimal{c, 2} }

func ptrCents(c int64) *decimal { return &decimal{c, 2} }

// ptrStr returns a pointer to s, for nullable string fields.
func ptrStr(s string) *string { return &s }

// appendTxn appends one transaction object. The field order follows the
// reference payloads; optional sub-objects are null when absent, and inside
// creditCardMetadata and paymentData absent keys are omitted, as Pluggy does.
// A posted row of an account with postedNoStatus has no "status".
func appendTxn(b []byte, t *txn, a *account) []byte {
	b = append(b, `{"id":"`...)
	b = appendUUID(b, t.id)
	b = append(b, `","accountId":"`...)
	b = append(b, a.idStr...)
	b = append(b, `","date":"`...)
	b = appendISO(b, t.date)
	b = append(b, `","description":`...)
	b = appendString(b, t.desc)
	b = append(b, `,"descriptionRaw":`...)
	b = appendNullString(b, t.raw)
	b = append(b, `,"currencyCode":"`...)
	if t.currency == "" {
		b = append(b, "BRL"...)
	} else {
		b = append(b, t.currency...)
	}
	b = append(b, `","amount":`...)
	b = appendCents(b, t.amount)
	b = append(b, `,"amountInAccountCurrency":`...)
	if t.flags&flagInAcct != 0 {
		b = appendCents(b, t.inAcct)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"balance":`...)
	if t.flags&flagBalance != 0 {
		b = appendCents(b, t.balance)
	} else {
		b = append(b, "null"...)
	}
	if t.flags&flagCredit != 0 {
		b = append(b, `,"type":"CREDIT"`...)
	} else {
		b = append(b, `,"type":"DEBIT"`...)
	}
	switch {
	case t.flags&flagPending != 0:
		b = append(b, `,"status":"PENDING"`...)
	case !a.postedNoStatus:
		b = append(b, `,"status":"POSTED"`...)
	}
	if t.category >= 0 {
		c := &categories[t.category]
		b = append(b, `,"category":`...)
		b = appendString(b, c.Description)
		b = append(b, `,"categoryId":"`...)
		b = append(b, c.ID...)
		b = append(b, '"')
	} else {
		b = append(b, `,"category":null,"categoryId":null`...)
	}
	b = append(b, `,"providerCode":`...)
	b = appendNullString(b, t.providerCode)
	b = append(b, `,"providerId":null,"operationType":`...)
	b = appendNullString(b, t.opType)
	b = append(b, `,"operationTypeAdditionalInfo":null,"paymentData":`...)
	b = appendPayment(b, t.pay)
	b = append(b, `,"creditCardMetadata":`...)
	b = appendCardMeta(b, t.card)
	b = append(b, `,"merchant":`...)
	b = appendMerchant(b, t.merchant)
	b = append(b, `,"createdAt":"`...)
	b = appendTxnTime(b, t.createdAt, a)
	b = append(b, `","updatedAt":"`...)
	b = appendTxnTime(b, t.updatedAt, a)
	return append(b, `"}`...)
}

// appendTxnTime appends a transaction's createdAt or updatedAt: ISO 8601
// with milliseconds and Z, or without the Z for an account with
// timesNoZone.
func appendTxnTime(b []byte, ms int64, a *account) []byte {
	b = appendISO(b, ms)
	if a.timesNoZone {
		b = b[:len(b)-1]
	}
	return b
}

func appendPayment(b []byte, p *payment) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	if p.payer != nil {
		b = append(b, `"payer":`...)
		b = appendParty(b, p.payer)
		b = append(b, ',')
	}
	if p.receiver != nil {
		b = append(b, `"receiver":`...)
		b = appendParty(b, p.receiver)
		b = append(b, ',')
	}
	b = append(b, `"paymentMethod":"`...)
	b = append(b, p.method...)
	b = append(b, `","referenceNumber":`...)
	b = appendNullString(b, p.reference)
	b = append(b, `,"reason":`...)
	b = appendNullString(b, p.reason)
	b = append(b, `,"boletoMetadata":`...)
	if bm := p.boleto; bm != nil {
		b = append(b, `{"digitableLine":"`...)
		b = append(b, bm.digitableLine...)
		b = append(b, `","barcode":"`...)
		b = append(b, bm.barcode...)
		b = append(b, `","baseAmount":`...)
		b = appendCents(b, bm.baseAmount)
		b = append(b, `,"penaltyAmount":0,"interestAmount":0,"discountAmount":0}`...)
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func appendParty(b []byte, p *party) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, p.name)
	if p.branch != "" {
		b = append(b, `,"branchNumber":"`...)
		b = append(b, p.branch...)
		b = append(b, `","accountNumber":"`...)
		b = append(b, p.account...)
		b = append(b, `","routingNumber":"`...)
		b = append(b, p.routing...)
		b = append(b, '"')
	}
	if p.docType != "" {
		b = append(b, `,"documentNumber":{"type":"`...)
		b = append(b, p.docType...)
		b = append(b, `","value":"`...)
		b = append(b, p.docValue...)
		b = append(b, `"}`...)
	}
	return append(b, '}')
}

func appendCardMeta(b []byte, c *cardMeta) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	if c.totalInstallments > 0 {
		b = append(b, `"installmentNumber":`...)
		b = strconv.AppendInt(b, int64(c.installmentNumber), 10)
		b = append(b, `,"totalInstallments":`...)
		b = strconv.AppendInt(b, int64(c.totalInstallments), 10)
		b = append(b, `,"totalAmount":`...)
		b = appendCents(b, c.totalAmount)
		b = append(b, ',')
	}
	if c.purchaseDate != 0 {
		b = append(b, `"purchaseDate":"`...)
		b = appendISO(b, c.purchaseDate)
		b = append(b, `",`...)
	}
	if c.payeeMCC != 0 {
		b = append(b, `"payeeMCC":`...)
		b = strconv.AppendInt(b, int64(c.payeeMCC), 10)
		b = append(b, ',')
	}
	b = append(b, `"cardNumber":"`...)
	b = append(b, c.cardNumber...)
	b = append(b, '"')
	if c.billID != "" {
		b = append(b, `,"billId":"`...)
		b = append(b, c.billID...)
		b = append(b, '"')
	}
	if c.billForecastDate != "" {
		b = append(b, `,"billForecastDate":"`...)
		b = append(b, c.billForecastDate...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendMerchant(b []byte, m *merchant) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"name":`...)
	b = appendString(b, m.name)
	b = append(b, `,"businessName":`...)
	b = appendString(b, m.businessName)
	b = append(b, `,"cnpj":"`...)
	b = append(b, m.cnpj...)
	b = append(b, `","cnae":"`...)
	b = append(b, m.cnae...)
	b = append(b, `","category":`...)
	b = appendString(b, m.category)
	return append(b, '}')
}
