// Package rowkey makes the keys of rows whose API gives no usable id: a hash
// of the row's content, and a counter that keeps two equal rows apart. The
// providers' key rules (GoCardless, Enable Banking) fall back on it.
package rowkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// Content is "sha256:" and the hex SHA-256 of raw's canonical JSON: its
// members sorted by key at every level, no white space, strings and numbers
// exactly as sent. So the key depends on the content only, not on how the
// API spaced or ordered it. raw that is not JSON is hashed as it is.
func Content(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	canonical := []byte(raw)
	if dec.Decode(&v) == nil {
		canonical = Canonical(v)
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Canonical encodes v (decoded with UseNumber) with sorted keys, no white
// space and no HTML escaping.
func Canonical(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil { // maps encode with sorted keys
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Disambiguate appends "#2", "#3", … to the later repeats of a key, in
// order, so no two rows of one answer share a key. It edits keys in place
// and returns it.
func Disambiguate(keys []string) []string {
	seen := map[string]int{}
	for i, k := range keys {
		seen[k]++
		if n := seen[k]; n > 1 {
			keys[i] = k + "#" + strconv.Itoa(n)
		}
	}
	return keys
}
