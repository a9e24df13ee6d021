package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// CompileSchema compiles a draft-07 JSON Schema with format assertions on, as
// Airbyte's acceptance tests validate records (date-time must parse).
func CompileSchema(name string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema %s is not JSON: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	url := "mem:///" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema %s does not compile: %w", name, err)
	}
	return s, nil
}

// Problems flattens a validation error into one line per failing field,
// each starting with the field's path (root is the given name), sorted so
// messages are stable. A date, date-time, URL or UUID that fails its format
// or pattern is described in words with the way to write it, never as Go's
// time layout or the regular expression; every other keyword too (type,
// minLength, maximum, minItems, enum, …) says what is wrong in words and
// ends with the fix (see failure.describe), never "got X, want Y".
func Problems(root string, err error) []string { return explain(root, err, nil, nil) }

// explain is Problems knowing the schema document (for what a field is:
// its description, its default) and the instance (for the keys beside a
// missing one, a near miss of which is named). Either may be nil.
func explain(root string, err error, schema, instance any) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := root
		for _, p := range e.InstanceLocation {
			path += "." + p
		}
		node, field := schemaAt(schema, e.SchemaURL)
		f := &failure{path: path, name: fieldName(e.InstanceLocation), node: node, field: field,
			item: isItem(instance, e.InstanceLocation), optional: optionalAt(schema, e.SchemaURL)}
		f.value, f.hasValue = valueAt(instance, e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			whose := "the " + root
			if len(e.InstanceLocation) > 0 {
				whose = path
			}
			keys := instanceKeys(instance, e.InstanceLocation)
			props := propertyNames(node)
			for _, m := range k.Missing {
				msg := fmt.Sprintf("%s.%s: is required but missing", path, m)
				if near := nearMisses(m, keys, props); len(near) > 0 {
					msg += fmt.Sprintf("; %s has %s: did you mean %s?", whose, quoteAll(near), m)
				} else if p, _ := node["properties"].(map[string]any); p != nil {
					// Say what to give, and where it comes from when the
					// description says ("as … connect prints them").
					prop, _ := p[m].(map[string]any)
					if w := firstSentence(prop); isNounPhrase(w) {
						msg += ": give " + w
					}
				}
				out = append(out, msg)
			}
			return
		case *kind.Format:
			if s, ok := k.Got.(string); ok {
				if d := describeFormat(s, k.Want, node); d != "" {
					out = append(out, path+": "+d)
					return
				}
			}
		case *kind.Pattern:
			out = append(out, path+": "+describePattern(k.Got, k.Want, fieldName(e.InstanceLocation), field))
			return
		case *kind.AdditionalProperties:
			out = append(out, f.additional(k.Properties, root, len(e.InstanceLocation) == 0)...)
			return
		case *kind.Dependency:
			for _, m := range k.Missing {
				out = append(out, fmt.Sprintf("%s.%s: is required when %s is given", path, m, k.Prop))
			}
			return
		case *kind.DependentRequired:
			for _, m := range k.Missing {
				out = append(out, fmt.Sprintf("%s.%s: is required when %s is given", path, m, k.Prop))
			}
			return
		}
		if d := f.describe(e.ErrorKind); d != "" {
			out = append(out, path+": "+d)
			return
		}
		out = append(out, path+": "+e.ErrorKind.LocalizedString(printer))
	}
	walk(ve)
	sort.Strings(out)
	return dedupe(out)
}

// schemaAt finds the schema a validation error's SchemaURL points to in
// doc (the fragment is a JSON pointer), and the property it describes: the
// schema itself, or the array whose items it is. Both are nil when doc is
// nil or the pointer leads nowhere.
func schemaAt(doc any, url string) (node, field map[string]any) {
	toks := pointerTokens(url)
	cur, ok := valueAt(doc, toks)
	if !ok {
		return nil, nil
	}
	node, _ = cur.(map[string]any)
	field = node
	if n := len(toks); n > 0 && toks[n-1] == "items" {
		parent, _ := valueAt(doc, toks[:n-1])
		if p, ok := parent.(map[string]any); ok {
			field = p
		}
	}
	return node, field
}

// pointerTokens are the steps of the JSON pointer in url's fragment.
func pointerTokens(url string) []string {
	_, frag, _ := strings.Cut(url, "#")
	var out []string
	for _, tok := range strings.Split(frag, "/") {
		if tok != "" {
			out = append(out, strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~"))
		}
	}
	return out
}

// optionalAt reports whether the schema at url is a property its object
// does not require, so that leaving the field out is a fix.
func optionalAt(doc any, url string) bool {
	toks := pointerTokens(url)
	n := len(toks)
	if n < 2 || toks[n-2] != "properties" {
		return false
	}
	parent, _ := valueAt(doc, toks[:n-2])
	obj, ok := parent.(map[string]any)
	if !ok {
		return false
	}
	req, _ := obj["required"].([]any)
	return !slices.Contains(req, any(toks[n-1]))
}

// isItem reports whether the value at loc is an item of a list.
func isItem(instance any, loc []string) bool {
	n := len(loc)
	if n == 0 {
		return false
	}
	if parent, ok := valueAt(instance, loc[:n-1]); ok {
		_, list := parent.([]any)
		return list
	}
	_, err := strconv.Atoi(loc[n-1])
	return err == nil
}

func propertyNames(node map[string]any) []string {
	props, _ := node["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	return out
}

// valueAt is the value at loc in v, and whether there is one.
func valueAt(v any, loc []string) (any, bool) {
	if v == nil {
		return nil, false
	}
	for _, tok := range loc {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// instanceKeys lists the keys of the object at loc in v, if it is one.
func instanceKeys(v any, loc []string) []string {
	v, _ = valueAt(v, loc)
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// nearMisses are the keys, among those an object has and its schema does
// not know (props), that look like a misspelling of name.
func nearMisses(name string, keys, props []string) []string {
	var out []string
	for _, k := range keys {
		if k != name && !slices.Contains(props, k) && nameDistance(k, name) >= 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// quote is a value as the validator's own messages quote it: in single quotes.
func quote(s string) string {
	s = strconv.Quote(s)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s[1:len(s)-1] + "'"
}

// quoted is s as a message about it begins: quoted, then a space; "" for
// a value too long to repeat (see shown), so that the message begins with
// its verb: "config.start_date: is not a date: …".
func quoted(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		return ""
	}
	return quote(s) + " "
}

// exampleDate is the date the messages show as an example: a past one,
// since a start_date after today is an error of its own.
const exampleDate = "2025-01-31"

// exampleUUID is the UUID the messages show as an example.
const exampleUUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

// describeFormat is s's failure of format in words, or "" for a format
// without a description of its own (the validator's message stays).
func describeFormat(s, format string, node map[string]any) string {
	switch format {
	case "date":
		return describeDate(s)
	case "date-time":
		return describeDateTime(s)
	case "time":
		return fmt.Sprintf("%sis not a time: write it as HH:MM:SS with Z (UTC) or an offset, e.g. 09:30:00Z or 09:30:00-03:00", quoted(s))
	case "uri", "url":
		// Quoted without its query, fragment and user, which may hold a
		// key; the example drops them too.
		shown := urlForMessage(s)
		s, _, _ = strings.Cut(shown, "?")
		s, _, _ = strings.Cut(s, "#")
		if i := strings.Index(s, "xxxxx@"); i >= 0 {
			s = s[:i] + s[i+len("xxxxx@"):]
		}
		ex := exampleOf(node)
		if ex == "" {
			ex = "https://example.com"
		}
		if !strings.Contains(s, "://") && s != "" && !strings.ContainsAny(s, " \t") && quoted(s) != "" {
			ex = "https://" + strings.TrimPrefix(s, "//")
		}
		return fmt.Sprintf("%sis not a URL: write it in full, with its scheme, e.g. %s", quoted(shown), ex)
	case "email":
		return fmt.Sprintf("%sis not an email address: write it as name@example.com", quoted(s))
	}
	return ""
}

// exampleOf is a schema's first example, or its default, when a string.
func exampleOf(node map[string]any) string {
	if ex, ok := node["examples"].([]any); ok && len(ex) > 0 {
		if s, ok := ex[0].(string); ok {
			return s
		}
	}
	s, _ := node["default"].(string)
	return s
}

var (
	isoDateShape = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})$`)
	ymdDate      = regexp.MustCompile(`^([0-9]{4})[-/. ]([0-9]{1,2})[-/. ]([0-9]{1,2})$`)
	dmyDate      = regexp.MustCompile(`^([0-9]{1,2})[-/. ]([0-9]{1,2})[-/. ]([0-9]{4})$`)
)

// describeDate says why s is not a YYYY-MM-DD date and how to write it:
// the same date in that form when s is one written another way, else an
// example.
func describeDate(s string) string {
	const form = "write it as YYYY-MM-DD"
	bad := quoted(s) + "is not a date"
	if m := isoDateShape.FindStringSubmatch(s); m != nil {
		y, mo, d := atoi(m[1]), atoi(m[2]), atoi(m[3])
		if mo < 1 || mo > 12 {
			return fmt.Sprintf("%s: there is no month %d; %s, e.g. %s", bad, mo, form, exampleDate)
		}
		return fmt.Sprintf("%s: %s %d has no day %d; %s, e.g. %s", bad, time.Month(mo), y, d, form, exampleDate)
	}
	if len(s) > 10 && isoDateShape.MatchString(s[:10]) && validDate(atoi(s[:4]), atoi(s[5:7]), atoi(s[8:10])) {
		return fmt.Sprintf("%s: it has more than the date; %s: %s", bad, form, s[:10])
	}
	if m := ymdDate.FindStringSubmatch(s); m != nil && validDate(atoi(m[1]), atoi(m[2]), atoi(m[3])) {
		return fmt.Sprintf("%s: %s: %s", bad, form, isoDate(atoi(m[1]), atoi(m[2]), atoi(m[3])))
	}
	if m := dmyDate.FindStringSubmatch(s); m != nil {
		a, b, y := atoi(m[1]), atoi(m[2]), atoi(m[3])
		dm, md := validDate(y, b, a), validDate(y, a, b)
		switch {
		case dm && md && a != b:
			return fmt.Sprintf("%s: %s: %s if you mean %d %s, %s if %d %s", bad, form, isoDate(y, b, a), a, time.Month(b), isoDate(y, a, b), b, time.Month(a))
		case dm:
			return fmt.Sprintf("%s: %s: %s", bad, form, isoDate(y, b, a))
		case md:
			return fmt.Sprintf("%s: %s: %s", bad, form, isoDate(y, a, b))
		}
	}
	return fmt.Sprintf("%s: %s, e.g. %s", bad, form, exampleDate)
}

// describeDateTime says why s is not an RFC 3339 date-time and how to write it.
func describeDateTime(s string) string {
	const form = "write it as YYYY-MM-DDTHH:MM:SS with Z (UTC) or an offset"
	bad := quoted(s) + "is not a date-time"
	if len(s) >= 10 && isoDateShape.MatchString(s[:10]) && !validDate(atoi(s[:4]), atoi(s[5:7]), atoi(s[8:10])) {
		d := describeDate(s[:10])
		_, why, _ := strings.Cut(d, ": ")
		why, _, _ = strings.Cut(why, ";")
		return fmt.Sprintf("%s: %s; %s, e.g. %sT09:30:00Z", bad, why, form, exampleDate)
	}
	if len(s) == 10 && isoDateShape.MatchString(s) {
		return fmt.Sprintf("%s: it has no time; %s, e.g. %sT00:00:00Z", bad, form, s)
	}
	if len(s) == 19 && isoDateShape.MatchString(s[:10]) && (s[10] == ' ' || s[10] == 'T') {
		if _, err := time.Parse(time.DateTime, s[:10]+" "+s[11:]); err == nil {
			return fmt.Sprintf("%s: it has no time zone; %s, e.g. %sT%sZ", bad, form, s[:10], s[11:])
		}
	}
	return fmt.Sprintf("%s: %s, e.g. %sT09:30:00Z", bad, form, exampleDate)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func validDate(y, m, d int) bool {
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return m >= 1 && m <= 12 && d >= 1 && t.Day() == d
}

func isoDate(y, m, d int) string { return fmt.Sprintf("%04d-%02d-%02d", y, m, d) }

// describePattern is s's failure of pattern in words. A pattern is
// recognised by what it accepts, not by how it is spelled: one that takes
// a UUID in either case and nothing near it reads "is not a UUID", one that
// takes YYYY-MM-DD "is not a date". The field's description (its first
// sentence: what the value is and where it comes from) follows, so the
// message says what to put there; an unrecognised pattern is quoted, as
// nothing better can be said of it.
func describePattern(s, pattern, name string, field map[string]any) string {
	var msg string
	switch {
	case acceptsOnlyUUIDs(pattern):
		msg = describeUUID(s)
	case acceptsOnlyDates(pattern):
		return describeDate(s)
	default:
		msg = fmt.Sprintf("%sdoes not match pattern %s", quoted(s), quote(pattern))
	}
	if what := firstSentence(field); what != "" && name != "" {
		msg += " (" + name + ": " + what + ")"
	}
	return msg
}

var anyUUID = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func describeUUID(s string) string {
	bad := quoted(s) + "is not a UUID"
	t := strings.TrimSpace(s)
	if len(t) == 32 && strings.Trim(strings.ToLower(t), "0123456789abcdef") == "" {
		return fmt.Sprintf("%s: it lacks the dashes; write it as 8-4-4-4-12 hex digits: %s-%s-%s-%s-%s", bad, t[:8], t[8:12], t[12:16], t[16:20], t[20:])
	}
	if ids := anyUUID.FindAllString(s, -1); len(ids) == 1 {
		return fmt.Sprintf("%s: give the id alone: %s", bad, ids[0])
	}
	return fmt.Sprintf("%s: give the id as 32 hex digits in groups of 8-4-4-4-12, e.g. %s", bad, exampleUUID)
}

// patternKinds caches what acceptsOnlyUUIDs and acceptsOnlyDates found
// for a pattern.
var patternKinds sync.Map // pattern + "\x00" + kind -> bool

func patternAccepts(pattern, what string, yes, no []string) bool {
	key := pattern + "\x00" + what
	if v, ok := patternKinds.Load(key); ok {
		return v.(bool)
	}
	re, err := regexp.Compile(pattern)
	ok := err == nil
	for _, s := range yes {
		ok = ok && re.MatchString(s)
	}
	for _, s := range no {
		ok = ok && !re.MatchString(s)
	}
	patternKinds.Store(key, ok)
	return ok
}

func acceptsOnlyUUIDs(pattern string) bool {
	return patternAccepts(pattern, "uuid",
		[]string{exampleUUID, strings.ToUpper(exampleUUID)},
		[]string{"", "x", strings.ReplaceAll(exampleUUID, "-", ""), exampleUUID[1:], exampleUUID + "0", "x" + exampleUUID, "g" + exampleUUID[1:], "{" + exampleUUID + "}"})
}

func acceptsOnlyDates(pattern string) bool {
	return patternAccepts(pattern, "date",
		[]string{exampleDate, "1999-12-01"},
		[]string{"", "x", "2025/01/31", "25-01-31", "2025-1-31", exampleDate + "T00:00:00Z", "x" + exampleDate})
}

// fieldName is the name of the field at loc, the last step that is not an
// array index: item_ids for item_ids.0.
func fieldName(loc []string) string {
	for i := len(loc) - 1; i >= 0; i-- {
		if _, err := strconv.Atoi(loc[i]); err != nil {
			return loc[i]
		}
	}
	return ""
}

// firstSentence is a field schema's description up to its first full
// stop, as a clause: "the ids (UUIDs) of the connected items to read, as
// source-pluggy connect prints them".
func firstSentence(field map[string]any) string {
	d, _ := field["description"].(string)
	d = strings.TrimSpace(strings.ReplaceAll(d, "`", ""))
	for i := 0; i+2 < len(d); i++ {
		if d[i] == '.' && d[i+1] == ' ' && d[i+2] >= 'A' && d[i+2] <= 'Z' {
			d = d[:i]
			break
		}
	}
	d = strings.TrimSuffix(d, ".")
	if len(d) > 1 && d[0] >= 'A' && d[0] <= 'Z' && d[1] >= 'a' && d[1] <= 'z' {
		d = strings.ToLower(d[:1]) + d[1:]
	}
	return d
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func joinProblems(p []string) string { return strings.Join(p, "; ") }

// failure is one value the schema refused, with what the messages say of
// it: where it is, the schema that refused it, the field it belongs to.
type failure struct {
	path     string         // config.lookback_days
	name     string         // lookback_days: the field, for a list's item too
	node     map[string]any // the schema that refused the value
	field    map[string]any // the field's schema: node, or the list's
	item     bool           // the value is an item of a list
	optional bool           // the field may be left out
	value    any            // the value, when the instance is known
	hasValue bool
}

// describe is the failure of keyword k in words, ending with the fix, or
// "" for a keyword without a description of its own (the validator's
// message stays).
func (f *failure) describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return f.wrongType(k.Got, k.Want)
	case *kind.MinLength:
		if k.Got == 0 {
			return "is empty: " + f.give("a value") + f.orLeaveOut()
		}
		return fmt.Sprintf("is %s long, fewer than the %s it takes: %s", count(k.Got, "character"), count(k.Want, ""), f.give(printer.Sprintf("at least %d characters", k.Want)))
	case *kind.MaxLength:
		return fmt.Sprintf("is %s long, more than the %s it takes: give at most %s%s", count(k.Got, "character"), count(k.Want, ""), count(k.Want, "character"), f.about())
	case *kind.Minimum:
		return fmt.Sprintf("%s is less than %s, the least it takes: give %s", f.gotNumber(k.Got), ratText(k.Want), f.numbers(f.numberNoun(), "minimum", k.Want))
	case *kind.Maximum:
		return fmt.Sprintf("%s is more than %s, the most it takes: give %s", f.gotNumber(k.Got), ratText(k.Want), f.numbers(f.numberNoun(), "maximum", k.Want))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("%s is too small: give %s", f.gotNumber(k.Got), f.numbers(f.numberNoun(), "exclusiveMinimum", k.Want))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("%s is too large: give %s", f.gotNumber(k.Got), f.numbers(f.numberNoun(), "exclusiveMaximum", k.Want))
	case *kind.MultipleOf:
		q := new(big.Rat).Quo(k.Got, k.Want)
		below := new(big.Int).Div(q.Num(), q.Denom()) // rounds toward -inf for a positive divisor
		lo := new(big.Rat).Mul(new(big.Rat).SetInt(below), k.Want)
		hi := new(big.Rat).Add(lo, k.Want)
		return fmt.Sprintf("%s is not a multiple of %s: give a multiple of %s, such as %s or %s", ratText(k.Got), ratText(k.Want), ratText(k.Want), ratText(lo), ratText(hi))
	case *kind.Enum:
		return f.notOneOf(k.Got, k.Want)
	case *kind.Const:
		return f.notOneOf(k.Got, []any{k.Want})
	case *kind.MinItems:
		if k.Got == 0 {
			return "is an empty list: " + f.give("at least one value") + f.exampleList() + f.orLeaveOut()
		}
		return fmt.Sprintf("has %s, fewer than the %s it takes: give at least %s%s", count(k.Got, "item"), count(k.Want, ""), count(k.Want, ""), f.about())
	case *kind.MaxItems:
		msg := fmt.Sprintf("has %s, more than the %s it takes: ", count(k.Got, "item"), count(k.Want, ""))
		if list, ok := f.value.([]any); ok {
			if n := distinct(list); n < len(list) && n <= k.Want {
				if len(list)-n == 1 {
					return msg + "1 repeats another; give each once"
				}
				return msg + fmt.Sprintf("%s repeat others; give each once", count(len(list)-n, ""))
			}
		}
		return msg + fmt.Sprintf("give at most %s, and split a longer list across several configs", count(k.Want, ""))
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d (counting from 0) are the same: give each once", k.Duplicates[0], k.Duplicates[1])
	}
	return ""
}

// additional is one message per field an object has and its schema does
// not allow (additionalProperties false), naming the field it most
// likely misspells.
func (f *failure) additional(props []string, root string, atRoot bool) []string {
	whose := f.path
	if atRoot {
		whose = "the " + root
	}
	known := propertyNames(f.node)
	sort.Strings(known)
	var out []string
	for _, p := range props {
		msg := fmt.Sprintf("%s.%s: is not a field of %s", f.path, p, whose)
		switch near := nearest(p, known); {
		case len(near) > 0:
			msg += ": did you mean " + strings.Join(near, " or ") + "?"
		case len(known) > 0 && len(known) <= 30:
			msg += ": remove it; the fields it takes: " + strings.Join(known, ", ")
		default:
			msg += ": remove it"
		}
		out = append(out, msg)
	}
	return out
}

// what is the first sentence of the field's description: what the value
// is and where it comes from.
func (f *failure) what() string { return firstSentence(f.field) }

func (f *failure) secret() bool {
	b, _ := f.field["airbyte_secret"].(bool)
	return b
}

// about is " (name: what the field is)", or "" without a description.
func (f *failure) about() string {
	if w := f.what(); w != "" && f.name != "" {
		return " (" + f.name + ": " + w + ")"
	}
	return ""
}

// give asks for the field's value: "give your Pluggy application's
// clientSecret" when the description names the value, else "give " +
// fallback, with what the field is.
func (f *failure) give(fallback string) string {
	if w := f.what(); isNounPhrase(w) {
		return "give " + w
	}
	return "give " + fallback + f.about()
}

// isNounPhrase reports whether a description's first sentence names the
// value ("the ids of …", "your application's clientId") rather than says
// what it does ("read only these accounts …"), so it can follow "give".
func isNounPhrase(s string) bool {
	first, _, _ := strings.Cut(s, " ")
	switch strings.ToLower(first) {
	case "the", "your", "a", "an", "its", "their", "one":
		return true
	}
	return false
}

// orLeaveOut is the other fix where there is one: leaving an optional
// field out, removing an item from its list.
func (f *failure) orLeaveOut() string {
	switch {
	case f.item:
		return "; or remove it from the list"
	case f.optional:
		if d, ok := f.field["default"]; ok {
			return "; or leave the field out for its default, " + jsonText(d)
		}
		return "; or leave the field out"
	}
	return ""
}

// exampleList is ", e.g. " and the field's first example, when it has one.
func (f *failure) exampleList() string {
	if ex, ok := f.field["examples"].([]any); ok && len(ex) > 0 {
		return ", e.g. " + jsonText(ex[0])
	}
	return ""
}

// subject is the value as the user wrote it, followed by a space, to
// begin a message with; "" for a secret's value, a list or an object.
func (f *failure) subject() string {
	if !f.hasValue || f.secret() {
		return ""
	}
	switch f.value.(type) {
	case string, bool, json.Number, float64, int, int64:
		if s := shown(f.value); s != "" {
			return s + " "
		}
	}
	return ""
}

// wrongType says what a value of the type got is, and what to write
// instead: the same value without its quotes when it is one of the types
// wanted ("60" for an integer), else a value of the type wanted, in words.
func (f *failure) wrongType(got string, want []string) string {
	words, fix := f.typeWords(want)
	subject := f.subject()
	switch got {
	case "string":
		if s, ok := f.value.(string); ok && subject != "" {
			if bare, noun := unquoted(s, want); bare != "" {
				return fmt.Sprintf("%s is a string; write %s without quotes: %s", shown(s), noun, bare)
			}
		}
		msg := subject + "is a string, not " + words + ": "
		if len(want) == 1 && want[0] == "array" {
			if s, ok := f.value.(string); ok && subject != "" {
				return msg + "write it in square brackets: " + jsonText([]any{s})
			}
			return msg + "write it in square brackets"
		}
		if len(want) == 1 && want[0] == "object" {
			return msg + "give " + fix
		}
		return msg + "give " + fix + ", without quotes"
	case "number", "boolean":
		if slices.Contains(want, "string") {
			if subject == "" {
				return "is a " + got + ", not text: write it in double quotes"
			}
			return subject + "is a " + got + ", not text: write it in double quotes: " + jsonText(strings.TrimSpace(subject))
		}
		if got == "number" && slices.Contains(want, "integer") && !slices.Contains(want, "number") {
			// A whole number the validator did not take for an integer
			// has an exponent too large for it to read (1e100000000):
			// its fault is its size, not its fraction.
			if n, ok := f.value.(json.Number); ok {
				if _, whole := wholeLiteral(string(n)); whole {
					size := "large"
					if strings.HasPrefix(string(n), "-") {
						size = "small"
					}
					return subject + "is too " + size + ": give " + fix
				}
			}
			return subject + "is not a whole number: give " + fix
		}
		return subject + "is not " + words + ": give " + fix
	case "null":
		return "is null: give " + fix + f.orLeaveOut()
	case "array":
		if list, ok := f.value.([]any); ok && len(list) == 1 {
			if t := jsonType(list[0]); slices.Contains(want, t) || (t == "integer" && slices.Contains(want, "number")) {
				if f.secret() {
					return "is a list, not " + words + ": write the one value without the brackets"
				}
				return "is a list, not " + words + ": write the one value without the brackets: " + jsonText(list[0])
			}
		}
		return "is a list, not " + words + ": give " + fix
	case "object":
		return "is an object, not " + words + ": give " + fix
	}
	return ""
}

// unreadableNumbers finds the numbers in v, at path under the schema node
// (field: the property node describes, the list's for an item), that the
// validator cannot read and must not be given: big.Rat takes no exponent
// past a few million (1e100000000, 1e-100000000), and the validator,
// finding one where the schema takes a number, compares the nil it read
// with the field's minimum and crashes the run. It returns each one's
// message by its path and puts 0 in its place, so that the validator can
// say what else is wrong. A field that takes only whole numbers refuses
// them by type first (wrongType says "too large") and keeps them.
func unreadableNumbers(path string, loc []string, v any, node, field map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(path string, loc []string, v any, node, field map[string]any, set func(any))
	walk = func(path string, loc []string, v any, node, field map[string]any, set func(any)) {
		switch v := v.(type) {
		case json.Number:
			if msg := unreadableNumber(path, loc, v, node, field); msg != "" {
				out[path] = msg
				set(json.Number("0"))
			}
		case map[string]any:
			props, _ := node["properties"].(map[string]any)
			for k, e := range v {
				child, _ := props[k].(map[string]any)
				walk(path+"."+k, append(slices.Clip(loc), k), e, child, child, func(x any) { v[k] = x })
			}
		case []any:
			items, _ := node["items"].(map[string]any)
			for i, e := range v {
				walk(path+"."+strconv.Itoa(i), append(slices.Clip(loc), strconv.Itoa(i)), e, items, node, func(x any) { v[i] = x })
			}
		}
	}
	walk(path, loc, v, node, field, func(any) {})
	return out
}

// unreadableNumber is the message of n when unreadableNumbers is to take it
// out: "1e100000000 is too large: give a number from 0.01 to 300"; "" when
// the validator can read it or node does not take numbers.
func unreadableNumber(path string, loc []string, n json.Number, node, field map[string]any) string {
	if _, ok := new(big.Rat).SetString(string(n)); ok || node == nil || !takesNumbers(node) {
		return ""
	}
	f := &failure{path: path, name: fieldName(loc), node: node, field: field, value: n, hasValue: true}
	size := "too large"
	switch mant, exp, _ := strings.Cut(strings.ToLower(string(n)), "e"); {
	case strings.HasPrefix(exp, "-"):
		size = "too close to 0"
	case strings.HasPrefix(mant, "-"):
		size = "too small"
	}
	_, fix := f.typeWords([]string{"number"})
	return path + ": " + f.subject() + "is " + size + ": give " + fix
}

// takesNumbers reports whether node takes numbers, the validator then
// checking them against its range: its type is "number", or it has none
// and has a range.
func takesNumbers(node map[string]any) bool {
	switch t := node["type"].(type) {
	case nil:
		return slices.ContainsFunc([]string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}, func(k string) bool {
			_, ok := node[k]
			return ok
		})
	case string:
		return t == "number"
	case []any:
		return slices.Contains(t, any("number"))
	}
	return false
}

// typeWords are the types wanted in words ("a whole number"), and as a
// fix, with the field's range or example ("a number from 0 to 365").
func (f *failure) typeWords(want []string) (words, fix string) {
	var ws, fs []string
	for _, t := range want {
		var w, x string
		switch t {
		case "integer":
			w, x = "a whole number", f.numbers("a whole number", "", nil)
		case "number":
			w, x = "a number", f.numbers("a number", "", nil)
		case "string":
			w, x = "text", "text in double quotes"
			if ex := exampleOf(f.node); ex != "" {
				x += ", e.g. " + jsonText(ex)
			}
		case "boolean":
			w, x = "true or false", "true or false"
		case "array":
			w, x = "a list", "a list in square brackets"
			if ex, ok := f.node["examples"].([]any); ok && len(ex) > 0 {
				x += ", e.g. " + jsonText(ex[0])
			}
		case "object":
			w, x = "an object", "an object in braces, {…}"
		case "null":
			w, x = "null", "null"
		default:
			w, x = t, t
		}
		if !slices.Contains(ws, w) {
			ws, fs = append(ws, w), append(fs, x)
		}
	}
	return strings.Join(ws, " or "), strings.Join(fs, " or ")
}

// unquoted is s without its quotes when that is a value of a type wanted
// ("60" for a number, "TRUE" for a boolean), and what kind of value it
// is; "" when it is not one.
func unquoted(s string, want []string) (bare, noun string) {
	t := strings.TrimSpace(s)
	if slices.Contains(want, "boolean") && (strings.EqualFold(t, "true") || strings.EqualFold(t, "false")) {
		return strings.ToLower(t), "true or false"
	}
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	var v any
	if t == "" || dec.Decode(&v) != nil || dec.More() || int(dec.InputOffset()) != len(t) {
		return "", ""
	}
	switch typ := jsonType(v); {
	case typ == "integer" && (slices.Contains(want, "integer") || slices.Contains(want, "number")),
		typ == "number" && slices.Contains(want, "number"):
		return t, "the number"
	case typ == "array" && slices.Contains(want, "array"):
		return t, "the list"
	case typ == "object" && slices.Contains(want, "object"):
		return t, "the object"
	}
	return "", ""
}

// jsonType is v's JSON Schema type, "integer" for a whole number.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) {
			return "integer"
		}
		return "number"
	case int, int64:
		return "integer"
	}
	return ""
}

// gotNumber is the number a range message begins with, as the config
// wrote it (1e400, 60.50) where ratText would write it anew (1e+400,
// 60.5) and the user would not find it; ratText's for one too long to
// repeat.
func (f *failure) gotNumber(r *big.Rat) string {
	if n, ok := f.value.(json.Number); ok && len(n) <= maxShown {
		return string(n)
	}
	return ratText(r)
}

// numberNoun is how a range message names the numbers a field takes: "a
// whole number" for an integer field, where "a number" let 1.5 seem
// allowed, else "a number".
func (f *failure) numberNoun() string {
	switch t := f.node["type"].(type) {
	case string:
		if t == "integer" {
			return "a whole number"
		}
	case []any:
		if slices.Contains(t, any("integer")) && !slices.Contains(t, any("number")) {
			return "a whole number"
		}
	}
	return "a number"
}

// numbers is noun with the field's range, "a number from 0 to 365"; the
// keyword's own limit (key: want) stands in for a schema not at hand.
func (f *failure) numbers(noun, key string, want *big.Rat) string {
	b := f.node
	if _, ok := b[key]; !ok && want != nil {
		v, _ := want.Float64()
		b = map[string]any{key: v}
	}
	lo, hasLo := schemaNumber(b["minimum"])
	hi, hasHi := schemaNumber(b["maximum"])
	xlo, hasXlo := schemaNumber(b["exclusiveMinimum"])
	xhi, hasXhi := schemaNumber(b["exclusiveMaximum"])
	if hasLo && hasHi && !hasXlo && !hasXhi {
		return fmt.Sprintf("%s from %s to %s", noun, lo, hi)
	}
	var lower, upper string
	switch {
	case hasXlo:
		lower = "more than " + xlo
	case hasLo:
		lower = "at least " + lo
	}
	switch {
	case hasXhi:
		upper = "less than " + xhi
	case hasHi:
		upper = "at most " + hi
	}
	switch {
	case lower != "" && upper != "":
		return noun + " " + lower + " and " + upper
	case hasLo && !hasXlo:
		return noun + " of " + lower
	case hasHi && !hasXhi:
		return noun + " of " + upper
	case lower != "":
		return noun + " " + lower
	case upper != "":
		return noun + " " + upper
	}
	return noun
}

// schemaNumber is a number of the schema document, as the messages write it.
func schemaNumber(v any) (string, bool) {
	switch v := v.(type) {
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(v) == nil {
			return "", false
		}
		if v == math.Trunc(v) || math.Abs(v) < 1e-6 || math.Abs(v) >= 1e21 {
			return ratText(r), true
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok {
			return ratText(r), true
		}
	}
	return "", false
}

// ratText is a number as the messages write it: 365, 0.01, 1e+400.
func ratText(r *big.Rat) string {
	if r.IsInt() {
		if s := r.Num().String(); len(s) <= 21 {
			return s
		}
	} else if v, _ := r.Float64(); math.Abs(v) >= 1e-6 && math.Abs(v) < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return new(big.Float).SetRat(r).Text('g', 6)
}

// notOneOf says got is none of the values want allows, and which to
// write: the one that differs from it only in case or spaces, if any.
func (f *failure) notOneOf(got any, want []any) string {
	subject := f.subject()
	if subject == "" && !f.secret() {
		switch got.(type) {
		case string, bool, json.Number, float64:
			if s := shown(got); s != "" {
				subject = s + " "
			}
		}
	}
	loose := func(v any) string {
		s, ok := v.(string)
		if !ok {
			s = jsonText(v)
		}
		return strings.ToLower(strings.TrimSpace(s))
	}
	for _, w := range want {
		if loose(w) == loose(got) {
			if len(want) == 1 {
				return subject + "is not the value it takes: write " + jsonText(w)
			}
			return subject + "is not one of the values it takes: write " + jsonText(w)
		}
	}
	if len(want) == 1 {
		return subject + "is not the value it takes: write " + jsonText(want[0])
	}
	vs := make([]string, 0, len(want))
	for i, w := range want {
		if i == 20 {
			vs = append(vs, "…")
			break
		}
		vs = append(vs, jsonText(w))
	}
	return subject + "is not one of the values it takes: give one of " + strings.Join(vs, ", ")
}

// jsonText is v as JSON, as the user would write it in the config.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxShown is the most characters of a value a message repeats: a longer
// one is not repeated at all (cut, a secret inside it would escape
// redaction).
const maxShown = 60

// shown is a value as a message quotes it: as JSON; "" for a string too
// long to repeat (cut, a secret inside it would escape redaction), or a
// number as long as written (1 and seventy zeros, a pasted fraction),
// which configuration.md promises is not repeated either.
func shown(v any) string {
	switch s := v.(type) {
	case string:
		if utf8.RuneCountInString(s) > maxShown {
			return ""
		}
	case json.Number:
		if len(s) > maxShown {
			return ""
		}
	}
	return jsonText(v)
}

// count is n with its noun, "1 item", "20,000 items".
func count(n int, noun string) string {
	s := printer.Sprintf("%d", n)
	switch {
	case noun == "":
		return s
	case n == 1:
		return s + " " + noun
	}
	return s + " " + noun + "s"
}

// distinct is how many different values list holds.
func distinct(list []any) int {
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		seen[jsonText(v)] = true
	}
	return len(seen)
}
