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

// bookedKeys computes every booked row's transaction_key (rule in
// transactionsStream's doc comment). internalOnly is set for an account
// whose transactionIds have repeated.
func bookedKeys(rows []txRow, internalOnly bool) []string {
	count := map[string]int{}
	for _, r := range rows {
		if id := usableID(r.keys.TransactionID); id != "" {
			count[id]++
		}
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		id := usableID(r.keys.TransactionID)
		switch {
		case id != "" && count[id] == 1 && !internalOnly:
			keys[i] = id
		case r.keys.InternalTransactionID != nil && strings.TrimSpace(*r.keys.InternalTransactionID) != "":
			keys[i] = strings.TrimSpace(*r.keys.InternalTransactionID)
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
