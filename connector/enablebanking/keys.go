package enablebanking

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
)

// The transaction_key rule. Enable Banking's entry_reference is documented
// as the bank's unique, immutable id, but banks send it null (DNB), as a
// position within the booking day ("2026-02-25-0", renumbered when another
// row books that day), as the placeholder "0", fill it in a day late, or
// change it on every call (Oberbank); transaction_id is session-scoped and
// never a key. So a booked row's key (with account_key, the primary key) is
// chosen in this order:
//
//  1. a key an earlier run gave a row with the same fingerprint (the row's
//     date, amount, currency and credit_debit_indicator), kept in the
//     state for the days the next run re-reads (lookback_days): first the
//     one that is "ref:" + the row's own entry_reference, then any other
//     not claimed by a row of this answer. A row whose reference changed,
//     or was null and is now filled in, keeps the key it had;
//  2. "ref:" + entry_reference, trimmed, when it is usable: present, not
//     blank, not all zeros (a placeholder), not positional
//     (YYYY-MM-DD-N or YYYY-MM-DD.N) and not repeated within the answer;
//  3. "fp:" + the fingerprint's hash, with "#2", "#3", ... for look-alikes
//     (two equal transfers on one day are two rows), numbered in the order
//     of their remaining content (then of the whole row), so the same
//     rows get the same numbers whatever order the bank lists them in.
//
// The first keys of a row are thus stable across runs and sessions (the
// account key is identification_hash, not the session's uid).

// positional matches an entry_reference that is a row's place within a
// booking day rather than an id.
var positional = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[-.]\d+$`)

// usableRef returns entry_reference trimmed, or "" when it is no id.
func usableRef(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = strings.TrimSpace(string(raw)) // a number, say
		if s == "null" || strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
			return ""
		}
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.Trim(s, "0") == "" || positional.MatchString(s) {
		return ""
	}
	return s
}

// txFields are the fields of a transaction that drive keys, windows and the
// signed amount. Every one may be absent or null.
type txFields struct {
	EntryReference json.RawMessage `json:"entry_reference"`
	Amount         struct {
		Amount   json.RawMessage `json:"amount"`
		Currency string          `json:"currency"`
	} `json:"transaction_amount"`
	Indicator       string `json:"credit_debit_indicator"`
	Status          string `json:"status"`
	BookingDate     string `json:"booking_date"`
	ValueDate       string `json:"value_date"`
	TransactionDate string `json:"transaction_date"`
}

// date is the row's date as banks filter on it: booking_date, else
// value_date, else transaction_date; "" when the bank sent none.
func (f txFields) date() string {
	for _, d := range []string{f.BookingDate, f.ValueDate, f.TransactionDate} {
		if len(d) >= 10 && d[4] == '-' && d[7] == '-' {
			return d[:10]
		}
	}
	return ""
}

// fingerprint is the hash of what identifies a transaction when its ids do
// not: date, amount, currency, direction. Remittance text is left out on
// purpose: banks enrich it after booking.
func (f txFields) fingerprint() string {
	amount := strings.Trim(strings.TrimSpace(string(f.Amount.Amount)), `"`)
	b, _ := json.Marshal([]string{f.date(), amount, strings.ToUpper(f.Amount.Currency), strings.ToUpper(f.Indicator)})
	if bytes.IndexByte(b, '\\') < 0 {
		// Nothing escaped: b is its own canonical JSON (rowkey.Content
		// would decode and re-encode it to the same bytes), as dates,
		// amounts, currencies and indicators nearly always are.
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:16])
	}
	return strings.TrimPrefix(rowkey.Content(b), "sha256:")[:32]
}

// txRow is one row of an answer with its parsed fields.
type txRow struct {
	raw json.RawMessage // a slice of the page's body
	f   txFields
	// problem: the row is not a transaction object (see decodeTxPage):
	// notObject, or misfit.
	problem bool
	// notObject: the row is not a JSON object, so no record can hold it.
	notObject bool
	// misfit names a field of another type than the schema's (a number
	// for a date, a string for transaction_amount): the row is kept as
	// sent, and f holds its other fields, the misfit read as absent,
	// unless the same key came again in its type.
	misfit string
}

// rememberedKey is one key kept in the transactions state for rows the next
// run re-reads.
type rememberedKey struct {
	Date        string `json:"date"`
	Fingerprint string `json:"fp"`
	Key         string `json:"key"`
}

// bookedKeys computes every booked row's transaction_key (see the rule
// above); remembered are the keys of the account's state.
func bookedKeys(rows []txRow, remembered []rememberedKey) []string {
	n := len(rows)
	keys := make([]string, n)
	fps := make([]string, n)
	refs := make([]string, n)
	count := map[string]int{}
	for i, r := range rows {
		fps[i] = r.f.fingerprint()
		refs[i] = usableRef(r.f.EntryReference)
		if refs[i] != "" {
			count[refs[i]]++
		}
	}
	refKeys := map[string]bool{} // the keys the answer's own references make
	for i := range rows {
		if refs[i] != "" && count[refs[i]] > 1 {
			refs[i] = "" // repeated within one answer: no id
		}
		if refs[i] != "" {
			refKeys["ref:"+refs[i]] = true
		}
	}
	byFP := map[string][]string{}
	for _, k := range remembered {
		byFP[k.Fingerprint] = append(byFP[k.Fingerprint], k.Key)
	}
	used := map[string]bool{}
	// Look-alikes are visited in the order of their content without ids,
	// so their numbering does not depend on the bank's order. Only
	// look-alikes are compared by content, so only theirs is made: it
	// decodes and re-encodes the row, which for every row was 57% of a
	// read's CPU, and look-alikes are few.
	fpRows := make(map[string]int, n)
	for _, fp := range fps {
		fpRows[fp]++
	}
	order := make([]int, n)
	content := make([]string, n)
	for i := range order {
		order[i] = i
		if fpRows[fps[i]] > 1 {
			content[i] = contentWithoutIDs(rows[i].raw)
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if fps[i] != fps[j] {
			return fps[i] < fps[j]
		}
		if content[i] != content[j] {
			return content[i] < content[j]
		}
		// Equal but for their ids (positional references, say): the
		// whole row, so which gets which number does not follow the
		// bank's order either.
		return string(rows[i].raw) < string(rows[j].raw)
	})
	// 1a. the remembered key that is the row's own reference.
	for _, i := range order {
		if k := "ref:" + refs[i]; refs[i] != "" && contains(byFP[fps[i]], k) {
			keys[i], used[k] = k, true
		}
	}
	// 1b. any other remembered key of the fingerprint, not one a row of
	// this answer carries as its reference.
	for _, i := range order {
		if keys[i] != "" {
			continue
		}
		for _, k := range byFP[fps[i]] {
			if !used[k] && !refKeys[k] {
				keys[i], used[k] = k, true
				break
			}
		}
	}
	// 2. the row's usable reference.
	for _, i := range order {
		if keys[i] == "" && refs[i] != "" {
			keys[i] = "ref:" + refs[i]
			used[keys[i]] = true
		}
	}
	// 3. the fingerprint, numbered past every key in use or remembered.
	for _, k := range remembered {
		used[k.Key] = true
	}
	for k := range refKeys {
		used[k] = true
	}
	for _, i := range order {
		if keys[i] != "" {
			continue
		}
		base := "fp:" + fps[i]
		k := base
		for m := 2; used[k]; m++ {
			k = base + "#" + strconv.Itoa(m)
		}
		keys[i], used[k] = k, true
	}
	return keys
}

// contentWithoutIDs is a row's canonical JSON without the ids banks change.
func contentWithoutIDs(raw json.RawMessage) string {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return string(raw)
	}
	delete(m, "entry_reference")
	delete(m, "transaction_id")
	return string(rowkey.Canonical(m))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
