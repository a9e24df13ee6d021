package enablebanking

import (
	"encoding/json"
	"strings"
	"testing"
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
