package fake

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestV2PagingWalksEveryRowOnce(t *testing.T) {
	for _, style := range []NextStyle{NextRelativeEncoded, NextRelativeRaw, NextAbsolute} {
		t.Run(style.String(), func(t *testing.T) {
			h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 60, PageSize: 7, NextStyle: style})
			for _, acct := range h.s.AccountIDs(h.s.ItemIDs()[0]) {
				raws, pages, nexts := h.walk("/v2/transactions?accountId="+acct+"&dateFrom=2020-01-01", 100)
				if pages != 9 { // ceil(60/7)
					t.Errorf("%s: %d pages, want 9", acct, pages)
				}
				want := h.s.Transactions(acct)
				if len(raws) != len(want) {
					t.Fatalf("%s: walked %d rows, want %d", acct, len(raws), len(want))
				}
				for i := range raws {
					if !bytes.Equal(raws[i], want[i]) {
						t.Fatalf("%s row %d differs:\n got %s\nwant %s", acct, i, raws[i], want[i])
					}
				}
				rows := decodeRows(t, raws)
				seen := map[string]bool{}
				for i, r := range rows {
					if seen[r.ID] {
						t.Errorf("row %s served twice", r.ID)
					}
					seen[r.ID] = true
					if i > 0 {
						p := rows[i-1]
						if p.Date < r.Date || (p.Date == r.Date && p.ID < r.ID) {
							t.Errorf("rows %d,%d out of order: %s/%s then %s/%s", i-1, i, p.Date, p.ID, r.Date, r.ID)
						}
					}
				}
				for _, n := range nexts {
					checkNextStyle(t, style, n, h.ts.URL)
				}
			}
		})
	}
}

// checkNextStyle asserts how `next` is written for each style, including
// that the cursor's "==" padding travels raw or percent-encoded.
func checkNextStyle(t *testing.T, style NextStyle, next, base string) {
	t.Helper()
	switch style {
	case NextRelativeEncoded:
		if !strings.HasPrefix(next, "?accountId=") || !strings.Contains(next, "&dateFrom=2020-01-01&") || !strings.HasSuffix(next, "%3D%3D") {
			t.Errorf("encoded next %q", next)
		}
	case NextRelativeRaw:
		if !strings.HasPrefix(next, "?accountId=") || !strings.HasSuffix(next, "==") {
			t.Errorf("raw next %q", next)
		}
	case NextAbsolute:
		if !strings.HasPrefix(next, base+"/v2/transactions?accountId=") || !strings.HasSuffix(next, "%3D%3D") {
			t.Errorf("absolute next %q", next)
		}
	}
}

func TestCursorEncodingVariants(t *testing.T) {
	h := newHarness(t, Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 30, PageSize: 10})
	acct := h.s.AccountIDs(h.s.ItemIDs()[0])[0]
	var first v2Page
	h.mustGet("/v2/transactions?accountId="+acct, &first)
	u, err := url.Parse(*first.Next)
	if err != nil {
		t.Fatal(err)
	}
	cur := u.Query().Get("after")
	if dec, ok := parseCursor(cur); !ok || !strings.HasSuffix(cur, "==") {
		t.Fatalf("cursor %q does not decode (%v) or lacks padding", cur, dec)
	}
	var want v2Page
	h.mustGet("/v2/transactions?accountId="+acct+"&after="+url.QueryEscape(cur), &want)
	variants := map[string]string{
		"raw":            cur,
		"unpadded":       strings.TrimRight(cur, "="),
		"double-encoded": url.QueryEscape(url.QueryEscape(cur)),
		"url-safe":       strings.NewReplacer("+", "-", "/", "_").Replace(cur),
	}
	for name, after := range variants {
		var got v2Page
		h.mustGet("/v2/transactions?accountId="+acct+"&after="+after, &got)
		if len(got.Results) != len(want.Results) || !bytes.Equal(got.Results[0], want.Results[0]) {
			t.Errorf("%s cursor %q served a different page", name, after)
		}
	}
	for _, bad := range []string{"not-base64!", "bm9waXBl", url.QueryEscape("MjAyNi0wNS0xNFQwMDowMDowMC4wMDBafA==")} {
		code, b := h.get("/v2/transactions?accountId=" + acct + "&after=" + bad)
		wantBody(t, "bad cursor "+bad, code, b, 400, `{"message":"Invalid cursor","code":400}`)
	}
}

// A valid cursor is base64 of ASCII text and so never contains '+'; this
// checks the normalisation that repairs one whose '+' became a space in
// form decoding, as a non-canonical cursor would.
func TestParseCursorRestoresPlus(t *testing.T) {
	c := cursor{date: testNow.UnixMilli(), id: uuid{0x6e, 0xc1, 0x56, 0xfe, 0xe8, 0xac, 0x4d, 0x9a, 0xa4, 0xb3, 0x77, 0x70, 0x52, 0x9a, 0xb0, 0x1c}}
	s := c.String()
	// The last data character carries only the final byte's two low bits
	// (11 for the id's trailing 'c') plus four padding bits; setting those
	// gives '+' (111110), an equivalent cursor Go decodes leniently.
	i := len(s) - 3
	alt := s[:i] + "+" + s[i+1:]
	if got, ok := parseCursor(alt); !ok || got != c {
		t.Fatalf("non-canonical cursor %q: %v %v", alt, got, ok)
	}
	for _, v := range []string{strings.ReplaceAll(alt, "+", " "), url.QueryEscape(alt), strings.TrimRight(alt, "=")} {
		if got, ok := parseCursor(v); !ok || got != c {
			t.Errorf("parseCursor(%q) = %v, %v", v, got, ok)
		}
	}
}

func TestV2Filters(t *testing.T) {
	h := newHarness(t, Options{Items: 1, TransactionsPerAccount: 80, PageSize: 500})
	accts := h.s.AccountIDs(h.s.ItemIDs()[0])
	card := accts[2]
	all := decodeRows(t, h.s.Transactions(card))
	base := "/v2/transactions?accountId=" + card

	fetch := func(q string) []row {
		raws, _, _ := h.walk(base+q, 10)
		return decodeRows(t, raws)
	}
	expect := func(name string, got []row, keep func(r row) bool) {
		t.Helper()
		var want []string
		for _, r := range all {
			if keep(r) {
				want = append(want, r.ID)
			}
		}
		if !slices.Equal(ids(got), want) {
			t.Errorf("%s: got %d rows, want %d", name, len(got), len(want))
		}
		if len(want) == 0 || len(want) == len(all) {
			t.Errorf("%s: filter is not selective (%d of %d)", name, len(want), len(all))
		}
	}
	expect("dateFrom", fetch("&dateFrom=2026-03-01"), func(r row) bool { return r.Date >= "2026-03-01" })
	expect("dateTo", fetch("&dateTo=2026-03-01"), func(r row) bool { return r.Date < "2026-03-02" })
	expect("range", fetch("&dateFrom=2026-02-01&dateTo=2026-04-30"), func(r row) bool { return r.Date >= "2026-02-01" && r.Date < "2026-05-01" })
	expect("createdAtFrom", fetch("&createdAtFrom=2026-05-01T00:00:00.000Z"), func(r row) bool { return r.CreatedAt >= "2026-05-01T00:00:00.000Z" })
	pick := []string{all[3].ID, all[10].ID, all[20].ID}
	expect("ids", fetch("&ids="+strings.Join(pick, ",")), func(r row) bool { return slices.Contains(pick, r.ID) })

	code, b := h.get(base + "&dateFrom=2026-01-01&createdAtFrom=2026-01-01T00:00:00.000Z")
	if code != 400 || !strings.Contains(string(b), `"code":400`) {
		t.Errorf("dateFrom with createdAtFrom: %d %s", code, b)
	}
	many := make([]string, 501)
	for i := range many {
		many[i] = all[0].ID
	}
	code, b = h.get(base + "&ids=" + strings.Join(many, ","))
	wantBody(t, "501 ids", code, b, 400, `{"code":400,"codeDescription":"IDS_PARAMETER_EXCEEDS_MAX_LENGTH","message":"The ids parameter cannot have more than 500 transaction ids"}`)
	h.mustGet(base+"&ids="+strings.Join(many[:500], ","), nil)
	code, b = h.get("/v2/transactions?dateFrom=2026-01-01")
	wantBody(t, "no accountId", code, b, 400, `{"message":"accountId should not be null or undefined, accountId must be a UUID","code":400}`)
	code, b = h.get("/v2/transactions?accountId=00000000-0000-4000-8000-000000000000")
	wantBody(t, "unknown account", code, b, 404, `{"code":404,"codeDescription":"ACCOUNT_NOT_FOUND","message":"account not found"}`)
	if code, b = h.get(base + "&dateFrom=yesterday"); code != 400 {
		t.Errorf("bad dateFrom: %d %s", code, b)
	}
}

func TestV1AndSingleTransaction(t *testing.T) {
	h := newHarness(t, Options{Items: 1})
	acct := h.s.AccountIDs(h.s.ItemIDs()[0])[0]
	code, b := h.get("/transactions?accountId=" + acct)
	var e struct {
		Message, CodeDescription, ErrorID string
		Code                              int
	}
	if err := json.Unmarshal(b, &e); err != nil || code != 410 || e.Code != 410 || e.CodeDescription != "ENDPOINT_DEPRECATED" ||
		e.Message != "This endpoint is deprecated. Use GET /v2/transactions with cursor pagination instead." {
		t.Errorf("v1: %d %s", code, b)
	}
	if _, ok := parseUUID(e.ErrorID); !ok {
		t.Errorf("errorId %q", e.ErrorID)
	}
	want := h.s.Transactions(acct)[5]
	var r row
	_ = json.Unmarshal(want, &r)
	if got := h.mustGet("/transactions/"+r.ID, nil); !bytes.Equal(got, want) {
		t.Errorf("GET /transactions/{id} = %s, want %s", got, want)
	}
	code, b = h.get("/transactions/00000000-0000-4000-8000-000000000000")
	wantBody(t, "unknown transaction", code, b, 404, `{"code":404,"codeDescription":"TRANSACTION_NOT_FOUND","message":"transaction not found"}`)
}

func TestSummaryMatchesPaging(t *testing.T) {
	h := newHarness(t, Options{Items: 2, TransactionsPerAccount: 45, PageSize: 20})
	count, want, sum := h.s.TransactionSummary()
	got := map[string]struct{}{}
	var gotSum int64
	n := 0
	for _, item := range h.s.ItemIDs() {
		for _, acct := range h.s.AccountIDs(item) {
			raws, _, _ := h.walk("/v2/transactions?accountId="+acct, 10)
			for _, r := range decodeRows(t, raws) {
				got[r.ID] = struct{}{}
				gotSum += cents(t, r.Amount)
				n++
			}
		}
	}
	if count != 2*3*45 || n != count || len(got) != len(want) || gotSum != sum {
		t.Errorf("summary count=%d ids=%d sum=%d; paging count=%d ids=%d sum=%d", count, len(want), sum, n, len(got), gotSum)
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("id %s in summary but not served", id)
		}
	}
}

// TestDataRealism checks the quirks the connector must meet in the data.
func TestDataRealism(t *testing.T) {
	h := newHarness(t, Options{Items: 2, TransactionsPerAccount: 300})
	var seen struct {
		pending, future, billID, forecast, installments, foreign, pix, nullRaw, nullCat, cent, big, emoji, realTime int
	}
	for _, item := range h.s.ItemIDs() {
		for k, acct := range h.s.AccountIDs(item) {
			raws := h.s.Transactions(acct)
			for i, r := range decodeRows(t, raws) {
				if !json.Valid(raws[i]) {
					t.Fatalf("invalid JSON %s", raws[i])
				}
				amt := cents(t, r.Amount)
				d, err := time.Parse("2006-01-02T15:04:05.000Z", r.Date)
				if err != nil {
					t.Fatalf("date %q: %v", r.Date, err)
				}
				for _, ts := range []string{r.CreatedAt, r.UpdatedAt} {
					if _, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err != nil {
						t.Fatalf("timestamp %q: %v", ts, err)
					}
				}
				if r.UpdatedAt < r.CreatedAt || r.CreatedAt > "2026-05-29T20:59:39.793Z" {
					t.Errorf("row %s createdAt %s updatedAt %s", r.ID, r.CreatedAt, r.UpdatedAt)
				}
				if d.Before(testNow.AddDate(0, 0, -301)) {
					t.Errorf("row %s dated %s, more than 300 days ago", r.ID, r.Date)
				}
				if k == 2 { // card
					if r.Balance != nil || r.CreditCardMetadata == nil {
						t.Errorf("card row %s: balance %v metadata %v", r.ID, r.Balance, r.CreditCardMetadata)
					}
					if (r.Type == "DEBIT") != (amt > 0) {
						t.Errorf("card row %s: %s with amount %s", r.ID, r.Type, r.Amount)
					}
					m := r.CreditCardMetadata
					seen.billID += b2i(m.BillID != "")
					seen.forecast += b2i(m.BillForecastDate != "")
					seen.installments += b2i(m.InstallmentNum > 0)
					seen.future += b2i(d.After(testNow))
					seen.realTime += b2i(d.Hour() != 0 || d.Minute() != 0)
				} else {
					if (r.Type == "DEBIT") != (amt < 0) {
						t.Errorf("bank row %s: %s with amount %s", r.ID, r.Type, r.Amount)
					}
					if d.Hour() != 0 {
						t.Errorf("bank row %s not at midnight: %s", r.ID, r.Date)
					}
				}
				if r.CurrencyCode != "BRL" {
					if r.AmountInAccountCurrency == nil {
						t.Errorf("foreign row %s lacks amountInAccountCurrency", r.ID)
					}
					seen.foreign++
				}
				if strings.Contains(string(r.PaymentData), `"paymentMethod":"PIX"`) && strings.Contains(string(r.PaymentData), `"documentNumber":{"type":"CPF"`) {
					seen.pix++
				}
				seen.pending += b2i(r.Status == "PENDING")
				seen.nullRaw += b2i(strings.Contains(string(raws[i]), `"descriptionRaw":null`))
				seen.nullCat += b2i(r.CategoryID == nil)
				seen.cent += b2i(amt == 1 || amt == -1)
				seen.big += b2i(amt == -1234567891)
				seen.emoji += b2i(strings.Contains(r.Description, "🥐"))
			}
		}
	}
	for name, v := range map[string]int{
		"pending": seen.pending, "future installments": seen.future, "billId": seen.billID, "billForecastDate": seen.forecast,
		"installments": seen.installments, "foreign": seen.foreign, "pix": seen.pix, "null descriptionRaw": seen.nullRaw,
		"null category": seen.nullCat, "one cent": seen.cent, "12345678.91": seen.big, "emoji": seen.emoji, "card times": seen.realTime,
	} {
		if v == 0 {
			t.Errorf("no %s rows generated", name)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
