package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// DecodeConfig decodes a provider's config (what Source.Open is given:
// loadConfig's output, or a test's) into v, the provider's Config struct,
// for every provider alike.
//
// A whole number written with a fraction or an exponent (60.0, 1e2,
// 6.0E1) is decoded as the integer it is: JSON Schema's "integer" (draft
// 7, which the spec is validated with) is any number whose fraction is
// zero, and tools that write JSON from floats (Python's json, JavaScript,
// YAML converters, Terraform's jsonencode) write 60 as 60.0. encoding/json
// refuses such a literal for an int field ("cannot unmarshal number 60.0
// into Go struct field"), so a config the spec took failed to open.
//
// A value the Go field cannot hold is a config_error naming the field
// (config.<name>) and what it takes, never a value wrapped around: a
// whole number beyond the field's range (which a spec field without a
// maximum would let through), or a fraction for an integer field.
func DecodeConfig(raw []byte, v any) error {
	raw, err := wholeNumbers(raw)
	if err != nil {
		return InvalidConfigf("config does not match the spec: %v", describeJSONError(err))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return configDecodeError(err)
	}
	return nil
}

// wholeNumbers returns raw with every number literal whose value is whole
// rewritten as an integer literal (wholeLiteral); the rest of raw is kept
// byte for byte. raw must hold one JSON value.
func wholeNumbers(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []byte
	last := 0 // raw[:last] is in out already
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		lit, whole := wholeLiteral(string(n))
		if !whole || lit == "" || lit == string(n) {
			continue
		}
		// The token's literal is the input's, verbatim, and ends where
		// the decoder stands.
		end := int(dec.InputOffset())
		start := end - len(n)
		out = append(append(out, raw[last:start]...), lit...)
		last = end
	}
	if out == nil {
		return raw, nil
	}
	return append(out, raw[last:]...), nil
}

// maxWholeDigits bounds the integer literals wholeLiteral writes: 20
// digits hold every int64 and uint64, and a longer number is out of range
// of any Go integer whichever way it is written (its decoding fails and
// names the field), so 1e300 is not spelt out in 301 digits.
const maxWholeDigits = 20

// wholeLiteral reports whether the JSON number literal n is a whole
// number, and if so returns it as an integer literal: "60" for 60.0 or
// 6e1, "100" for 1E+2, "0" for -0.0. lit is "" for a whole number of more
// than maxWholeDigits digits. n must be a valid JSON number.
func wholeLiteral(n string) (lit string, whole bool) {
	neg := strings.HasPrefix(n, "-")
	n = strings.TrimPrefix(n, "-")
	mant, exp := n, 0
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		mant = n[:i]
		if strings.Trim(mant, "0.") == "" {
			return "0", true
		}
		e, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
		if err != nil {
			// An exponent past int: 1e-99999999999999999999 is not
			// whole, and 1e99999999999999999999 too long to write.
			return "", !strings.HasPrefix(n[i+1:], "-")
		}
		exp = e
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= len(mant) - i - 1
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0", true
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	if exp < 0 {
		return "", false
	}
	if len(digits)+exp > maxWholeDigits {
		return "", true
	}
	lit = digits + strings.Repeat("0", exp)
	if neg {
		lit = "-" + lit
	}
	return lit, true
}

// configDecodeError is the config_error for err, json.Unmarshal's refusal
// of a config: the field it names as config.<name>, and the fix.
func configDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" || te.Type == nil {
		return InvalidConfigf("config does not match the spec: %v", describeJSONError(err))
	}
	field := "config." + te.Field
	num, isNumber := strings.CutPrefix(te.Value, "number ")
	lo, hi, isInt := intRange(te.Type)
	switch {
	case isNumber && isInt:
		if _, whole := wholeLiteral(num); whole {
			return InvalidConfigf("%s: %s is out of range; give a whole number from %s to %s", field, num, lo, hi)
		}
		return InvalidConfigf("%s: %s is not a whole number; give one from %s to %s", field, num, lo, hi)
	case isNumber && strings.HasPrefix(goTypeWords(te.Type), "a number"):
		return InvalidConfigf("%s: %s is out of range; give a smaller number", field, num)
	}
	// The value is not quoted: a value of the wrong type may be a
	// secret given in the wrong field.
	got := strings.Fields(te.Value)
	return InvalidConfigf("%s: a JSON %s, where %s is wanted; see the connector's spec (the spec command)", field, got[0], goTypeWords(te.Type))
}

// intRange is the range of the integer type t, in decimal; ok is false
// when t is not an integer type.
func intRange(t reflect.Type) (lo, hi string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		return strconv.FormatInt(-1<<(bits-1), 10), strconv.FormatInt(1<<(bits-1)-1, 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "0", strconv.FormatUint(math.MaxUint64>>(64-t.Bits()), 10), true
	}
	return "", "", false
}

// goTypeWords is what a field of type t takes, in the words the schema's
// messages use.
func goTypeWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "text in double quotes"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list in square brackets"
	case reflect.Map, reflect.Struct:
		return "an object in braces"
	}
	if _, _, ok := intRange(t); ok {
		return "a whole number"
	}
	return fmt.Sprintf("a %s", t)
}
