package source

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
// time layout or the regular expression.
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
	if doc == nil {
		return nil, nil
	}
	_, frag, _ := strings.Cut(url, "#")
	cur, parent := doc, any(nil)
	last := ""
	for _, tok := range strings.Split(frag, "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		parent, last = cur, tok
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, nil
			}
			cur = c[i]
		default:
			return nil, nil
		}
	}
	node, _ = cur.(map[string]any)
	field = node
	if p, ok := parent.(map[string]any); ok && last == "items" {
		field = p
	}
	return node, field
}

func propertyNames(node map[string]any) []string {
	props, _ := node["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	return out
}

// instanceKeys lists the keys of the object at loc in v, if it is one.
func instanceKeys(v any, loc []string) []string {
	for _, tok := range loc {
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
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
		return fmt.Sprintf("%s is not a time: write it as HH:MM:SS with Z (UTC) or an offset, e.g. 09:30:00Z or 09:30:00-03:00", quote(s))
	case "uri", "url":
		ex := exampleOf(node)
		if ex == "" {
			ex = "https://example.com"
		}
		if !strings.Contains(s, "://") && s != "" && !strings.ContainsAny(s, " \t") {
			ex = "https://" + strings.TrimPrefix(s, "//")
		}
		return fmt.Sprintf("%s is not a URL: write it in full, with its scheme, e.g. %s", quote(s), ex)
	case "email":
		return fmt.Sprintf("%s is not an email address: write it as name@example.com", quote(s))
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
	bad := quote(s) + " is not a date"
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
	bad := quote(s) + " is not a date-time"
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
		msg = fmt.Sprintf("%s does not match pattern %s", quote(s), quote(pattern))
	}
	if what := firstSentence(field); what != "" && name != "" {
		msg += " (" + name + ": " + what + ")"
	}
	return msg
}

var anyUUID = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func describeUUID(s string) string {
	bad := quote(s) + " is not a UUID"
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
