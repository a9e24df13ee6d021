package jsonrow

import (
	"bytes"
)

// HasKey reports whether the JSON object raw has key at its top level,
// however the key is spelled: "item\u0049d" is itemId. The common answer,
// for a row that mentions the key nowhere and has no escape at all, costs
// two byte searches; only a row that might have it is scanned, and a key
// nested deeper does not count.
func HasKey(raw []byte, key string) bool {
	return hasKey(raw, key, bytes.IndexByte(raw, '\\') >= 0)
}

// hasKey is HasKey for a caller that already knows whether raw holds a
// backslash, so a row checked for several keys is searched for one once.
func hasKey(raw []byte, key string, escaped bool) bool {
	if !escaped && !mayHaveKey(raw, key) {
		return false
	}
	var s Scanner
	s.Reset(raw)
	if s.Peek() != '{' {
		return false
	}
	s.Next()
	if s.Peek() == '}' {
		return false
	}
	for {
		k, err := s.Str() // unescaped: "item\u0049d" reads itemId
		if err != nil {
			return false
		}
		if string(k) == key {
			return true
		}
		if s.Expect(':') != nil || s.Skip() != nil {
			return false
		}
		if s.Peek() != ',' {
			return false // '}' or a syntax error
		}
		s.Next()
	}
}

// mayHaveKey reports whether raw, which holds no escape, might have key as
// a member: false when the quoted key appears nowhere in it. Keys that need
// escaping always answer true.
//
// bytes.Contains anchors its search on the needle's first byte, here '"',
// the commonest byte of JSON, and falls back to a byte-by-byte scan; so the
// search anchors on the key's least common byte instead (an upper-case
// letter in a camelCase key), which IndexByte finds 16-32 bytes at a time.
func mayHaveKey(raw []byte, key string) bool {
	var buf [64]byte
	q := append(append(append(buf[:0], '"'), key...), '"')
	anchor := 0
	for i, c := range q[1 : len(q)-1] {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return true
		}
		if rarity(c) > rarity(q[anchor]) {
			anchor = i + 1
		}
	}
	for from := anchor; from < len(raw); {
		j := bytes.IndexByte(raw[from:], q[anchor])
		if j < 0 {
			return false
		}
		at := from + j - anchor // where q would start
		if at >= 0 && at+len(q) <= len(raw) && string(raw[at:at+len(q)]) == string(q) {
			return true
		}
		from += j + 1
	}
	return false
}

// rarity ranks bytes by how seldom they occur in JSON rows: structure and
// lower-case text most often, upper case and symbols least.
func rarity(c byte) int {
	switch {
	case c == '"' || c == ':' || c == ',':
		return 0
	case 'a' <= c && c <= 'z' || c == ' ':
		return 1
	case '0' <= c && c <= '9':
		return 2
	default:
		return 3
	}
}
