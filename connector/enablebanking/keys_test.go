package enablebanking

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
)

func rows(t *testing.T, raws ...string) []txRow {
	t.Helper()
	out := make([]txRow, len(raws))
	for i, raw := range raws {
		out[i].raw = json.RawMessage(raw)
		if err := json.Unmarshal(out[i].raw, &out[i].f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func row(ref, date, amount, text string) string {
	r := `"entry_reference":` + ref + `,`
	if ref == "" {
		r = ""
	}
	return `{` + r + `"booking_date":"` + date + `","transaction_amount":{"amount":"` + amount + `","currency":"EUR"},"credit_debit_indicator":"DBIT","status":"BOOK","remittance_information":["` + text + `"]}`
}

func TestUsableRef(t *testing.T) {
	for raw, want := range map[string]string{
		`"ER1"`: "ER1", `" ER1 "`: "ER1", `null`: "", `""`: "", `"0"`: "", `"000"`: "",
		`"2026-02-25-0"`: "", `"2026-02-25.3"`: "", `12345`: "12345", `{"a":1}`: "",
	} {
		if got := usableRef(json.RawMessage(raw)); got != want {
			t.Errorf("usableRef(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestBookedKeysRules(t *testing.T) {
	rs := rows(t,
		row(`"A"`, "2026-01-02", "1.00", "x"),
		row(`null`, "2026-01-02", "2.00", "y"),
		row(`"2026-01-02-0"`, "2026-01-02", "3.00", "z"),
		row(`"D"`, "2026-01-03", "4.00", "a"),
		row(`"D"`, "2026-01-03", "5.00", "b"), // repeated: no id
		row(``, "2026-01-04", "6.00", "same"),
		row(``, "2026-01-04", "6.00", "same"), // a genuine twin
	)
	keys := bookedKeys(rs, nil)
	if keys[0] != "ref:A" {
		t.Errorf("usable reference: %q", keys[0])
	}
	for _, i := range []int{1, 2, 3, 4, 5} {
		if !strings.HasPrefix(keys[i], "fp:") {
			t.Errorf("row %d: %q, want a fingerprint key", i, keys[i])
		}
	}
	if keys[5] == keys[6] || !strings.HasSuffix(keys[6], "#2") && !strings.HasSuffix(keys[5], "#2") {
		t.Errorf("twins: %q %q", keys[5], keys[6])
	}
}

// TestBookedKeysSurviveChangedReferences: a reference that changes, or
// appears where there was none, keeps the row's earlier key; the order of
// the answer does not matter.
func TestBookedKeysSurviveChangedReferences(t *testing.T) {
	first := rows(t, row(`"A"`, "2026-01-02", "1.00", "x"), row(`null`, "2026-01-02", "2.00", "y"), row(`"C"`, "2026-01-03", "3.00", "z"))
	k1 := bookedKeys(first, nil)
	var remembered []rememberedKey
	for i, r := range first {
		remembered = append(remembered, rememberedKey{Date: r.f.date(), Fingerprint: r.f.fingerprint(), Key: k1[i]})
	}
	second := rows(t, row(`"C"`, "2026-01-03", "3.00", "z"), row(`"B2"`, "2026-01-02", "2.00", "y enriched"), row(`"A2"`, "2026-01-02", "1.00", "x"), row(`"N"`, "2026-01-03", "9.00", "new"))
	k2 := bookedKeys(second, remembered)
	want := []string{k1[2], k1[1], k1[0], "ref:N"}
	for i := range want {
		if k2[i] != want[i] {
			t.Errorf("row %d: key %q, want %q", i, k2[i], want[i])
		}
	}
}

func TestSignedAmount(t *testing.T) {
	for _, c := range []struct{ amount, ind, want string }{
		{`"12.30"`, "DBIT", "-12.30"}, {`"12.30"`, "CRDT", "12.30"}, {`"15237.0"`, "dbit", "-15237.0"},
		{`"-5.00"`, "DBIT", "-5.00"}, {`"0.00"`, "DBIT", "0.00"}, {`"+7"`, "CRDT", "7"}, {`12.5`, "DBIT", "-12.5"},
	} {
		got, ok := signedAmount(json.RawMessage(c.amount), c.ind)
		if !ok || got != c.want {
			t.Errorf("signedAmount(%s, %s) = %q %v, want %q", c.amount, c.ind, got, ok, c.want)
		}
	}
	for _, c := range []struct{ amount, ind string }{{`"1,00"`, "DBIT"}, {`"12"`, ""}, {`null`, "CRDT"}, {`"1e3"`, "CRDT"}} {
		if got, ok := signedAmount(json.RawMessage(c.amount), c.ind); ok {
			t.Errorf("signedAmount(%s, %q) = %q, want none", c.amount, c.ind, got)
		}
	}
}

// TestLookAlikesAreNumberedByContent: rows with one fingerprint (date,
// amount, currency, indicator) but different content get their numbers
// from their content, whatever order the bank lists them in, while rows
// of their own fingerprint, whose content bookedKeys does not make, keep
// theirs.
func TestLookAlikesAreNumberedByContent(t *testing.T) {
	raws := []string{
		row(``, "2026-01-04", "6.00", "c"),
		row(``, "2026-01-04", "6.00", "a"),
		row(`"X"`, "2026-01-05", "1.00", "alone"),
		row(``, "2026-01-04", "6.00", "b"),
		row(`null`, "2026-01-06", "2.00", "alone too"),
	}
	want := map[string]string{}
	for i, k := range bookedKeys(rows(t, raws...), nil) {
		want[raws[i]] = k
	}
	for _, order := range [][]int{{1, 3, 0, 2, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 3, 1}} {
		shuffled := make([]string, len(order))
		for i, j := range order {
			shuffled[i] = raws[j]
		}
		for i, k := range bookedKeys(rows(t, shuffled...), nil) {
			if want[shuffled[i]] != k {
				t.Errorf("order %v: row %q keyed %q, %q in the bank's first order", order, shuffled[i], k, want[shuffled[i]])
			}
		}
	}
	keys := bookedKeys(rows(t, raws...), nil)
	if !strings.HasSuffix(keys[3], "#2") || !strings.HasSuffix(keys[0], "#3") || strings.Contains(keys[1], "#") {
		t.Errorf("look-alikes a, b, c: %q %q %q, want numbered in that order", keys[1], keys[3], keys[0])
	}
}

// BenchmarkBookedKeys keys an account's 10,000 booked rows as the fake
// serves them.
func BenchmarkBookedKeys(b *testing.B) {
	f := fake.New(fake.Options{Sessions: 1, TransactionsPerAccount: 10000})
	var rs []txRow
	for _, raw := range f.Booked(f.AccountUIDs(f.SessionIDs()[0])[0]) {
		r := txRow{raw: raw}
		if err := json.Unmarshal(raw, &r.f); err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	b.ReportAllocs()
	for b.Loop() {
		bookedKeys(rs, nil)
	}
}

// TestFingerprintIsContentHash: the fingerprint is the first 32 hex digits
// of rowkey.Content of its fields' JSON, as the keys in states and
// destinations were made, including where the JSON escapes something and
// the shortcut does not apply.
func TestFingerprintIsContentHash(t *testing.T) {
	for _, f := range []txFields{
		{BookingDate: "2026-01-02", Indicator: "dbit", Amount: struct {
			Amount   json.RawMessage `json:"amount"`
			Currency string          `json:"currency"`
		}{json.RawMessage(`"12.50"`), "eur"}},
		{ValueDate: "2026-01-0é-x", Indicator: "<&>"},
		{TransactionDate: "2026-01-02\u2028", Indicator: `"\`},
		{BookingDate: "2026-01-0\xc3", Indicator: "é\x01"},
		{},
	} {
		amount := strings.Trim(strings.TrimSpace(string(f.Amount.Amount)), `"`)
		b, _ := json.Marshal([]string{f.date(), amount, strings.ToUpper(f.Amount.Currency), strings.ToUpper(f.Indicator)})
		if got, want := f.fingerprint(), strings.TrimPrefix(rowkey.Content(b), "sha256:")[:32]; got != want {
			t.Errorf("%+v: %s, want %s", f, got, want)
		}
	}
}

// TestTxPosStateBytes: a place's weight, which spaces a read's checkpoints
// (quota.Weigher), is within a fifth of its JSON's size.
func TestTxPosStateBytes(t *testing.T) {
	p := &txPos{BookedThrough: "2026-02-25", SyncedAt: "2026-02-26T10:00:00Z"}
	for i := range 100 {
		p.Keys = append(p.Keys, rememberedKey{Date: "2026-02-2" + strconv.Itoa(i%10), Fingerprint: strings.Repeat("ab", 16), Key: "ref:" + strconv.Itoa(1000000+i)})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.StateBytes(); got < len(b)*4/5 || got > len(b)*6/5 {
		t.Errorf("StateBytes %d for %d bytes of JSON", got, len(b))
	}
}
