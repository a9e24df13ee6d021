package gocardless

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// usableID returns a bank transactionId trimmed, or "" when it is one the
// rules call invalid by itself: missing, blank or NOTPROVIDED (what ING
// Romania's card rows carry).
func usableID(id *string) string {
	if id == nil {
		return ""
	}
	s := strings.TrimSpace(*id)
	if strings.EqualFold(s, "NOTPROVIDED") {
		return ""
	}
	return s
}

// idsRepeat reports whether two booked rows of one answer carry the same
// usable transactionId (Belfius does this).
func idsRepeat(rows []txRow) bool {
	seen := map[string]bool{}
	for _, r := range rows {
		id := usableID(r.keys.TransactionID)
		if id == "" {
			continue
		}
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}

// keyRuleInternal names the key rule of this version in the state: a
// booked row is keyed by its internalTransactionId first. GoCardless asks
// clients to: some banks change transactionId on every request ("this is
// why we have implemented internalTransactionID. Please use this field to
// avoid duplicates", firefly-iii#10863), others reuse it over time
// (actualbudget/actual#5376). internalTransactionId is unique per account
// only, hence the key account_id + transaction_key.
const keyRuleInternal = "internal_transaction_id"

// bookedKeys computes every booked row's transaction_key, in this order:
//  1. internalTransactionId, trimmed, when present and not blank;
//  2. else the bank's transactionId, trimmed, when it is usable (not blank,
//     not NOTPROVIDED), unique within the answer, and the account has never
//     repeated transactionIds (idsRepeat);
//  3. else "sha256:" and the hex SHA-256 of the row's canonical JSON.
//
// legacyThrough keeps the keys an earlier version delivered: that version
// tried rule 2 before rule 1, so rows dated on or before legacyThrough (the
// account's booked_through when its state was migrated) keep that order
// and the rows already delivered are not delivered again under new keys.
// A key that still repeats within the answer gets "#2", "#3", ….
func bookedKeys(rows []txRow, idsRepeat bool, legacyThrough string) []string {
	count := map[string]int{}
	for _, r := range rows {
		if id := usableID(r.keys.TransactionID); id != "" {
			count[id]++
		}
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		bankID := usableID(r.keys.TransactionID)
		if count[bankID] != 1 || idsRepeat {
			bankID = ""
		}
		internal := ""
		if r.keys.InternalTransactionID != nil {
			internal = strings.TrimSpace(*r.keys.InternalTransactionID)
		}
		d := r.keys.date()
		legacy := legacyThrough != "" && d != "" && d <= legacyThrough
		switch {
		case legacy && bankID != "":
			keys[i] = bankID
		case internal != "":
			keys[i] = internal
		case bankID != "":
			keys[i] = bankID
		default:
			keys[i] = contentKey(r.raw)
		}
	}
	return disambiguate(keys)
}

// pendingKeys computes every pending row's pending_key: its content key.
// Pending rows have no stable id (GoCardless gives internalTransactionId to
// booked rows only, and banks re-send pending rows on every call, amounts
// and texts changing), so the key says "this exact row": a row that changes
// gets a new key, and the snapshot replaced each run holds only rows as
// they are now. Two identical rows (two equal coffees on one day) get "#2".
func pendingKeys(rows []txRow) []string {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = contentKey(r.raw)
	}
	return disambiguate(keys)
}

// contentKey is "sha256:" and the hex SHA-256 of the row's canonical JSON:
// its members sorted by key at every level, no white space, strings and
// numbers exactly as sent. So the key depends on the row's content only,
// not on how the API spaced or ordered it.
func contentKey(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	canonical := []byte(raw)
	if dec.Decode(&v) == nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil { // maps encode with sorted keys
			canonical = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		}
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// disambiguate appends "#2", "#3", … to the later repeats of a key.
func disambiguate(keys []string) []string {
	seen := map[string]int{}
	for i, k := range keys {
		seen[k]++
		if n := seen[k]; n > 1 {
			keys[i] = k + "#" + strconv.Itoa(n)
		}
	}
	return keys
}
