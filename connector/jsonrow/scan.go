package jsonrow

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner walks JSON text in place, one token at a time, checking it
// against JSON's grammar: a typed sink (Parquet) decodes each row once,
// straight into its columns, instead of through encoding/json (no map per
// row, no float64 ever, unknown fields skipped without being decoded), and
// HasKey finds a row's top-level keys however they are spelled. Nesting
// deeper than MaxDepth is an error rather than a deep recursion. FuzzScan
// checks it against encoding/json.
type Scanner struct {
	b   []byte
	i   int
	buf []byte // unescaped string contents, reused
}

// ErrEOF is the error of JSON text that ends too soon.
var ErrEOF = errors.New("unexpected end of JSON")

// MaxDepth is how deep Skip follows nested arrays and objects.
const MaxDepth = 1000

// Reset starts scanning b.
func (s *Scanner) Reset(b []byte) {
	s.b, s.i = b, 0
}

// Next consumes the byte Peek returned.
func (s *Scanner) Next() { s.i++ }

// AtEnd reports whether only white space is left. (Peek's 0 may also be
// a NUL byte in the text.)
func (s *Scanner) AtEnd() bool {
	s.WS()
	return s.i >= len(s.b)
}

// Pos is the offset of the next byte.
func (s *Scanner) Pos() int { return s.i }

// WS consumes white space.
func (s *Scanner) WS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.WS()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// Syntax is a syntax error at the current offset (ErrEOF at the end).
func (s *Scanner) Syntax(what string) error {
	if s.i >= len(s.b) {
		return ErrEOF
	}
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, what)
}

// Expect consumes byte c after optional spaces.
func (s *Scanner) Expect(c byte) error {
	if s.Peek() != c {
		return s.Syntax(fmt.Sprintf("want %q", c))
	}
	s.i++
	return nil
}

// Literal consumes true, false or null.
func (s *Scanner) Literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.Syntax("bad literal")
	}
	s.i += len(word)
	return nil
}

// Str consumes a string and returns its contents, unescaped. The result may
// point into the scanner's buffer and is valid until the next call.
func (s *Scanner) Str() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.Syntax("want a string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			s.buf = append(s.buf[:0], s.b[start:s.i]...)
			return s.strEscaped()
		case c < 0x20:
			return nil, s.Syntax("control character in string")
		}
		s.i++
	}
	return nil, ErrEOF
}

func (s *Scanner) strEscaped() ([]byte, error) {
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf, nil
		case c < 0x20:
			return nil, s.Syntax("control character in string")
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, ErrEOF
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.Syntax(`bad \u escape`)
			}
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; a lone half becomes U+FFFD, as
				// encoding/json does.
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if lo, ok := s.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r2 = utf16.DecodeRune(r, lo)
					} else {
						s.i = save
					}
				}
				r = r2
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, s.Syntax("bad escape")
		}
	}
	return nil, ErrEOF
}

func (s *Scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// Number consumes a number and returns its text, checked against JSON's
// grammar.
func (s *Scanner) Number() ([]byte, error) {
	s.WS()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, s.Syntax("want a number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, s.Syntax("want digits after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, s.Syntax("want digits in the exponent")
		}
	}
	return s.b[start:s.i], nil
}

func (s *Scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// Skip consumes any value.
func (s *Scanner) Skip() error { return s.skip(0) }

func (s *Scanner) skip(depth int) error {
	if depth > MaxDepth {
		return s.Syntax("nested too deep")
	}
	switch s.Peek() {
	case '"':
		_, err := s.Str()
		return err
	case '{':
		s.i++
		if s.Peek() == '}' {
			s.i++
			return nil
		}
		for {
			if _, err := s.Str(); err != nil {
				return err
			}
			if err := s.Expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.Peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return nil
			default:
				return s.Syntax("want ',' or '}'")
			}
		}
	case '[':
		s.i++
		if s.Peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.Peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.Syntax("want ',' or ']'")
			}
		}
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	case 0:
		return ErrEOF
	}
	_, err := s.Number()
	return err
}

// Raw consumes any value and returns its JSON text, verbatim.
func (s *Scanner) Raw() ([]byte, error) {
	s.WS()
	start := s.i
	if err := s.Skip(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}
