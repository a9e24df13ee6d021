package gocardless

import (
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
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
			keys[i] = rowkey.Content(r.raw)
		}
	}
	return rowkey.Disambiguate(keys)
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
		keys[i] = rowkey.Content(r.raw)
	}
	return rowkey.Disambiguate(keys)
}
