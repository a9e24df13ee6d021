package jsonrow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
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
	// lone is set when the last string Str read had a lone surrogate
	// escape (see LoneSurrogate).
	lone bool
}

// ErrEOF is the error of JSON text that ends too soon.
var ErrEOF = errors.New("unexpected end of JSON")

// MaxDepth is how deep Skip follows nested arrays and objects: deeper is
// ErrTooDeep rather than a deep recursion. (encoding/json allows 10,000;
// no bank API nests a tenth as deep.)
const MaxDepth = 1000

// ErrTooDeep is the error of JSON nested deeper than MaxDepth.
var ErrTooDeep = errors.New("JSON nested too deep")

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

// Seek goes back (or forth) to a position Pos returned for the same text,
// to read a value again.
func (s *Scanner) Seek(pos int) { s.i = pos }

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
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return s.b[s.i] // compact JSON, as APIs send it: no space to skip
	}
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
// Invalid UTF-8 is returned as it is (see Text).
func (s *Scanner) Str() ([]byte, error) {
	s.lone = false
	if s.Peek() != '"' {
		return nil, s.Syntax("want a string")
	}
	s.i++
	start := s.i
	s.plain()
	if s.i >= len(s.b) {
		return nil, ErrEOF
	}
	switch c := s.b[s.i]; {
	case c == '"':
		s.i++
		return s.b[start : s.i-1], nil
	case c == '\\':
		s.buf = append(s.buf[:0], s.b[start:s.i]...)
		return s.strEscaped()
	}
	return nil, s.Syntax("control character in string")
}

// LoneSurrogate reports whether the last string Str returned had a UTF-16
// surrogate escape that is not half of a pair ("\ud83d" alone: a JavaScript
// back end cutting a string in the middle of an emoji). Str holds it as
// U+FFFD, so that string no longer says what the JSON text did: a sink
// that stores it keeps the text as sent too.
func (s *Scanner) LoneSurrogate() bool { return s.lone }

// Quoted is name as a JSON string, quotes included, for Match: "" when
// name has a byte a JSON string must escape.
func Quoted(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == '"' || c == '\\' {
			return ""
		}
	}
	return `"` + name + `"`
}

// Key is name as an object's key, for Match: quoted, and followed by the
// colon, which one API's compact JSON writes right after it; "" when name
// has a byte a JSON string must escape.
func Key(name string) string {
	if q := Quoted(name); q != "" {
		return q + ":"
	}
	return ""
}

// Match consumes the next bytes if they are, byte for byte, quoted (from
// Quoted or Key), and reports whether they were: the string is then
// exactly the name, no unescaping needed. Objects of one API list the same
// keys in the same order, so a decoder that knows which key comes next
// checks it, and with Key its colon, in one comparison; a key spelled
// otherwise, escapes or spaces included, is left for Str.
func (s *Scanner) Match(quoted string) bool {
	if quoted == "" || s.Peek() != '"' || len(s.b)-s.i < len(quoted) || string(s.b[s.i:s.i+len(quoted)]) != quoted {
		return false
	}
	s.i += len(quoted)
	return true
}

// Text consumes a string and returns it as encoding/json decodes one into
// a Go string: unescaped, each byte of invalid UTF-8 replaced by U+FFFD.
func (s *Scanner) Text() (string, error) {
	v, err := s.Str()
	if err != nil {
		return "", err
	}
	return text(v), nil
}

// Row consumes the value that comes next as one row of a list and returns
// its bytes: a slice of the scanned text whose capacity ends with it, so
// that an append to it cannot write over what follows. An object's members
// go to member, as with Object; any other value is skipped and reported
// by notObject, for the caller to keep as a row of the wrong type (the
// bank's answer, which asking again would not change).
func (s *Scanner) Row(member func(key []byte) error) (raw []byte, notObject bool, err error) {
	notObject = s.Peek() != '{'
	start := s.i
	if notObject {
		err = s.Skip()
	} else {
		err = s.Object(member)
	}
	return s.b[start:s.i:s.i], notObject, err
}

// TextField consumes a value into *v as encoding/json decodes one into a
// Go string field: a string is unescaped into *v, null leaves *v as it
// was, and any other value is skipped and sets *wrongType (encoding/json's
// UnmarshalTypeError), leaving *v alone. The providers' decoders pick
// their rows' key fields out with it, and keep a row of the wrong type
// for the caller to fail on.
func (s *Scanner) TextField(v *string, wrongType *bool) error {
	switch s.Peek() {
	case 'n':
		return s.Literal("null")
	case '"':
		t, err := s.Text()
		*v = t
		return err
	}
	*wrongType = true
	return s.Skip()
}

// OptionalTextField is TextField for a *string field: null sets *v to nil
// instead of leaving it.
func (s *Scanner) OptionalTextField(v **string, wrongType *bool) error {
	if s.Peek() == 'n' {
		*v = nil
		return s.Literal("null")
	}
	var t string
	wrong := false
	if err := s.TextField(&t, &wrong); err != nil || wrong {
		*wrongType = *wrongType || wrong
		return err
	}
	*v = &t
	return nil
}

// text is v as a string, each byte of invalid UTF-8 replaced by U+FFFD.
func text(v []byte) string {
	if utf8.Valid(v) {
		return string(v)
	}
	out := make([]byte, 0, len(v)+8)
	for len(v) > 0 {
		r, n := utf8.DecodeRune(v)
		out = utf8.AppendRune(out, r) // RuneError for a bad byte, n == 1
		v = v[n:]
	}
	return string(out)
}

// Byte-lane constants for looking at eight bytes of a string at a time.
const (
	lanes = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain consumes the bytes a string holds as they are: all but '"', '\\'
// and control bytes. Strings are most of a row's bytes, so it looks at
// eight at a time: a lane's high bit is set where the byte is below 0x20
// or equals one of the two, and the lowest set bit marks the first of them
// exactly (borrows only run upwards).
func (s *Scanner) plain() {
	b, i := s.b, s.i
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(lanes*'"'), x^(lanes*'\\')
		if m := ((x-lanes*0x20)&^x | (q-lanes)&^q | (bs-lanes)&^bs) & highs; m != 0 {
			s.i = i + bits.TrailingZeros64(m)>>3
			return
		}
		i += 8
	}
	for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
		i++
	}
	s.i = i
}

// skipStr consumes a string, checking its escapes without decoding them.
func (s *Scanner) skipStr() error {
	s.i++ // '"'
	for {
		s.plain()
		if s.i >= len(s.b) {
			return ErrEOF
		}
		switch s.b[s.i] {
		case '"':
			s.i++
			return nil
		case '\\':
			if s.i+1 >= len(s.b) {
				return ErrEOF
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := s.hex4(); !ok {
					return s.Syntax(`bad \u escape`)
				}
			default:
				return s.Syntax("bad escape")
			}
		default:
			return s.Syntax("control character in string")
		}
	}
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
			start := s.i
			s.plain()
			s.buf = append(s.buf, s.b[start:s.i]...)
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
				s.lone = s.lone || r2 == utf8.RuneError
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
		return ErrTooDeep
	}
	switch s.Peek() {
	case '"':
		return s.skipStr()
	case '{':
		return s.object(false, func([]byte) error { return s.skip(depth + 1) })
	case '[':
		return s.Array(func() error { return s.skip(depth + 1) })
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	case 0:
		if s.i >= len(s.b) {
			return ErrEOF
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err := s.Number()
		return err
	}
	return s.Syntax("want a value")
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

// Object consumes the object that comes next, calling member for each of
// its members in order with the key, unescaped ("item\u0049d" reads itemId;
// valid until the next call on the scanner), and the scanner at the value,
// which member must consume (Skip it if it is of no interest). A key that
// repeats is passed each time. An error from member ends the walk.
func (s *Scanner) Object(member func(key []byte) error) error {
	return s.object(true, member)
}

// object is Object, passing member nil keys unless decodeKeys (Skip needs
// them checked, not decoded).
func (s *Scanner) object(decodeKeys bool, member func(key []byte) error) error {
	if err := s.Expect('{'); err != nil {
		return err
	}
	if s.Peek() == '}' {
		s.i++
		return nil
	}
	for {
		var k []byte
		var err error
		switch {
		case decodeKeys:
			k, err = s.Str()
		case s.Peek() != '"':
			err = s.Syntax("want a string")
		default:
			err = s.skipStr()
		}
		if err != nil {
			return err
		}
		if err := s.Expect(':'); err != nil {
			return err
		}
		s.WS()
		if err := member(k); err != nil {
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
}

// Array consumes the array that comes next, calling elem with the scanner
// at each element (past any white space, so Pos is where its text starts),
// which elem must consume.
func (s *Scanner) Array(elem func() error) error {
	if err := s.Expect('['); err != nil {
		return err
	}
	if s.Peek() == ']' {
		s.i++
		return nil
	}
	for {
		s.WS()
		if err := elem(); err != nil {
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
}
