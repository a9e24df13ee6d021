package jsonrow

import (
	"bytes"
	"encoding/json"
)

// maxDepth bounds how deep HasKey follows nested values: a row nested
// deeper is not one an API sends, and is treated as not having the key.
const maxDepth = 1000

// HasKey reports whether the JSON object raw has key at its top level,
// however the key is spelled: "item\u0049d" is itemId. The common answer,
// for a row that mentions the key nowhere and has no escape at all, costs
// two byte searches; only a row that might have it is scanned, and a key
// nested deeper does not count.
func HasKey(raw []byte, key string) bool {
	if !mayHaveKey(raw, key) {
		return false
	}
	s := scanner{b: raw}
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		return false
	}
	for {
		k, ok := s.key()
		if !ok {
			return false
		}
		if k == key {
			return true
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		if !s.skip(0) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			s.ws()
		default:
			return false // '}' or a syntax error
		}
	}
}

// mayHaveKey reports whether raw might have key as a member: false when the
// quoted key appears nowhere in it and raw has no escape that could spell
// it another way. Keys that need escaping always answer true.
//
// bytes.Contains anchors its search on the needle's first byte, here '"',
// the commonest byte of JSON, and falls back to a byte-by-byte scan; so the
// search anchors on the key's least common byte instead (an upper-case
// letter in a camelCase key), which IndexByte finds 16-32 bytes at a time.
func mayHaveKey(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return true
	}
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

// scanner walks JSON text just far enough to find top-level keys.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// key reads a string and returns its value, escapes decoded.
func (s *scanner) key() (string, bool) {
	start := s.i
	if !s.str() {
		return "", false
	}
	q := s.b[start:s.i]
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), true
	}
	var k string
	if json.Unmarshal(q, &k) != nil {
		return "", false
	}
	return k, true
}

// str skips a string, s.i on its opening quote.
func (s *scanner) str() bool {
	if s.peek() != '"' {
		return false
	}
	s.i++
	for {
		j := bytes.IndexAny(s.b[s.i:], `"\`)
		if j < 0 {
			return false
		}
		s.i += j
		if s.b[s.i] == '"' {
			s.i++
			return true
		}
		s.i += 2 // an escape: its next byte is never the closing quote
		if s.i > len(s.b) {
			return false
		}
	}
}

// skip skips one value.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	switch c := s.peek(); c {
	case '"':
		return s.str()
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		s.ws()
		if s.peek() == end {
			s.i++
			return true
		}
		for {
			if c == '{' {
				if !s.str() {
					return false
				}
				s.ws()
				if s.peek() != ':' {
					return false
				}
				s.i++
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
			case end:
				s.i++
				return true
			default:
				return false
			}
		}
	case 0:
		return false
	default: // a number or a literal
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.i > start
			}
			s.i++
		}
		return s.i > start
	}
}
