// Package secret keeps the values that must never be printed and scrubs them
// from any text on its way out.
//
// Every path to stdout or stderr that can carry free text (LOG and TRACE
// messages, errors, the stderr logger) goes through a Redactor, so a secret
// that leaks into an error string, say inside a URL or a JSON body, is masked
// wherever the error ends up. Records are not scrubbed: they never hold
// credentials, and scanning them would cost the hot path.
package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Mask replaces every secret occurrence.
const Mask = "**********"

// Redactor masks registered secrets. The zero value is ready; it is safe for
// concurrent use, and a nil *Redactor masks nothing.
type Redactor struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer
	// short holds the spellings under minSubstring bytes, masked only
	// where they stand alone (see maskAlone), longest first.
	short []string
}

// Add registers a secret, with the spellings an error text may carry it
// in (see forms): errors echo query strings, request bodies and URLs, and
// the server that echoes a body may escape it otherwise than Go does.
func (r *Redactor) Add(s string) {
	if r == nil || s == "" {
		return
	}
	forms := forms(s)
	if sig := jwtSignature(s); sig != "" {
		forms = append(forms, sig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]struct{}{}
	}
	changed := false
	for _, f := range forms {
		if _, ok := r.values[f]; !ok && f != "" {
			r.values[f] = struct{}{}
			changed = true
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret that contains another is masked whole.
	olds := make([]string, 0, len(r.values))
	for v := range r.values {
		olds = append(olds, v)
	}
	sortByLengthDesc(olds)
	pairs := make([]string, 0, 2*len(olds))
	// A new slice: String reads the old one without the lock.
	var short []string
	for _, v := range olds {
		if len(v) < minSubstring {
			short = append(short, v)
			continue
		}
		pairs = append(pairs, v, Mask)
	}
	r.replacer, r.short = strings.NewReplacer(pairs...), short
}

// String returns s with every registered secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep, short := r.replacer, r.short
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	s = rep.Replace(s)
	for _, w := range short {
		s = maskAlone(s, w)
	}
	return s
}

// minSubstring is the length from which a secret's spelling is masked
// wherever it occurs, inside longer words too. A shorter one (a test
// config's client_secret "b", a database password "pass") is masked only
// where it stands alone, between characters that are not letters or
// digits: as a value it is quoted ('b'), assigned (secret=b&) or a URL's
// part (:pass@); masked inside words, it made every message unreadable
// ("**********ut missing", "**********word") and told a reader which
// letters the secret was.
const minSubstring = 6

// maskAlone returns s with each occurrence of w that no letter or digit
// touches on either side replaced by Mask.
func maskAlone(s, w string) string { return maskAloneWith(s, w, Mask) }

// MaskText returns s with each of secrets replaced by mask, by the rule
// String follows: one of minSubstring bytes or more wherever it occurs, a
// shorter one only where it stands alone, the longest first. For a message
// masked with another mask than the redactor's (xxxxx in a connection
// string's): replaced wherever it occurred, a password "a" made "cannot
// parse" read "cxxxxxnnot pxxxxxrse".
func MaskText(s string, secrets []string, mask string) string {
	sorted := slices.Clone(secrets)
	sortByLengthDesc(sorted)
	for _, w := range sorted {
		switch {
		case w == "":
		case len(w) < minSubstring:
			s = maskAloneWith(s, w, mask)
		default:
			s = strings.ReplaceAll(s, w, mask)
		}
	}
	return s
}

// maskAloneWith is maskAlone with mask in place of Mask.
func maskAloneWith(s, w, mask string) string {
	var b strings.Builder
	from := 0
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			break
		}
		at, end := i+j, i+j+len(w)
		if (at == 0 || !isWordByte(s[at-1])) && (end == len(s) || !isWordByte(s[end])) {
			b.WriteString(s[from:at])
			b.WriteString(mask)
			from = end
			i = end
			continue
		}
		i = at + 1
	}
	if from == 0 {
		return s
	}
	b.WriteString(s[from:])
	return b.String()
}

// isWordByte reports whether c is an ASCII letter or digit, or a byte of
// a multi-byte UTF-8 character (a letter, most likely).
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}

func sortByLengthDesc(v []string) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && (len(v[j]) > len(v[j-1]) || len(v[j]) == len(v[j-1]) && v[j] < v[j-1]); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// forms returns s as written and as each encoder an error text may have
// passed it through writes it: percent-escaped for a query or a path
// (upper- and lower-case hex, and as url.URL.String escapes a path); inside
// a JSON string as Go writes it (HTML characters escaped), as JavaScript's
// JSON.stringify does (not escaped), with "/" escaped as PHP does, and
// ASCII-only as Python's json.dumps does; and inside a Go-quoted string
// (%q, strconv.Quote and its ASCII-only form); escaped twice, a Go-quoted
// form inside a JSON string (an error quoting it, in a JSON log line) and
// the JSON form Go-quoted (a JSON body an error quotes); inside an HTML page, alone
// or in its JSON (htmlForms); in base64 (base64Forms);
// and in hex, lower- and upper-case, from minBase64 bytes too.
// A spelling no encoder here makes is not masked: a secret is best kept to
// letters and digits.
func forms(s string) []string {
	goForms := []string{inner(strconv.Quote(s)), inner(strconv.QuoteToASCII(s))}
	jsonForms := append(jsonStrings(s), asciiJSON(s, "%04x"), asciiJSON(s, "%04X"))
	out := []string{s, url.QueryEscape(s), url.PathEscape(s), (&url.URL{Path: s}).EscapedPath()}
	for _, f := range out[1:4] {
		out = append(out, lowerHex(f))
	}
	out = append(out, goForms...)
	for _, f := range jsonForms {
		out = append(out, f, strings.ReplaceAll(f, "/", `\/`))
	}
	// Escaped twice: an error that quotes the value with %q, logged by a
	// JSON log line (the webhook receiver's "itemId \"Zq\\\"9\" is not a
	// UUID"), and a JSON body quoted with %q. A value without a quote, a
	// backslash or a control character has no new spelling here.
	for _, f := range goForms {
		out = append(out, jsonStrings(f)...)
	}
	out = append(out, inner(strconv.Quote(jsonForms[0])))
	// In an HTML page (a proxy's or a framework's error page quoting the
	// request), as written and as its JSON body holds it.
	out = append(out, htmlForms(s)...)
	out = append(out, htmlForms(jsonForms[0])...)
	out = append(out, base64Forms(s)...)
	if len(s) >= minBase64 {
		// A body or header dumped in hex by a debugging front end ("body
		// (hex): 7b22…"): each byte is two digits, so the secret's digits
		// are the same wherever it sits in the dump.
		h := hex.EncodeToString([]byte(s))
		out = append(out, h, strings.ToUpper(h))
	}
	return out
}

// inner is a quoted string without its quotes.
func inner(q string) string { return q[1 : len(q)-1] }

// jsonStrings are s inside a JSON string as encoders write it: with <, >
// and & as they are (Go's json.Encoder without HTML escaping, slog's JSON
// handler, most other languages) and as encoding/json.Marshal escapes them.
func jsonStrings(s string) []string {
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := []string{inner(string(bytes.TrimSpace(plain.Bytes())))}
	if b, err := json.Marshal(s); err == nil {
		out = append(out, inner(string(b)))
	}
	return out
}

// htmlEscapers write text inside an HTML page as Go's html.EscapeString,
// Python's html.escape and PHP's htmlspecialchars do: they differ only in
// how they write the quotes.
var htmlEscapers = []*strings.Replacer{
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;"),
}

// htmlForms returns s as each of htmlEscapers writes it, none when s has
// nothing HTML escapes.
func htmlForms(s string) []string {
	if !strings.ContainsAny(s, `&<>"'`) {
		return nil
	}
	out := make([]string, 0, len(htmlEscapers))
	for _, r := range htmlEscapers {
		out = append(out, r.Replace(s))
	}
	return out
}

// base64Forms returns the base64 of s as it reads inside the base64 of a
// longer text (a Basic authorization header, "id:secret", echoed back; a
// body or token a server encoded whole), in the standard and the URL
// alphabet: where s starts at a byte offset of 0, 1 or 2 modulo 3, the
// characters that encode s's bits alone, whatever comes before or after.
// The few bits in the characters at either end it shares with its
// neighbours stay, which tells nothing. A secret under minBase64 bytes
// gets none: its core would be a few characters, masked inside any
// base64 that happens to hold them.
func base64Forms(s string) []string {
	if len(s) < minBase64 {
		return nil
	}
	var out []string
	for off := range 3 {
		b := append(make([]byte, off), s...)
		from, to := (8*off+5)/6, 8*(off+len(s))/6 // characters wholly inside s's bits
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			out = append(out, enc.EncodeToString(b)[from:to])
		}
	}
	return out
}

// jwtSignature is the signature of s when s is a JSON Web Token
// (header.claims.signature, each base64url, the header a JSON object):
// the one part of a bearer token that is secret, since its header and
// claims are predictable, so a server that quotes it alone ("invalid
// signature …") must not print it either. "" when s is no such token.
func jwtSignature(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "eyJ") || len(parts[2]) < minSignature {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return ""
	}
	return parts[2]
}

// minSignature is the shortest JWT signature masked on its own; an
// HMAC-SHA256 one is 43 characters, an RS256 one 342.
const minSignature = 32

// minBase64 is the length from which a secret's base64 is masked too.
const minBase64 = 6

// lowerHex returns s with the hex digits of its %XX escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiJSON is s inside a JSON string written ASCII-only, as Python's
// json.dumps writes it: every other character a \u escape (a pair of them
// above U+FFFF) with hex digits formatted by hexFmt, JSON's short escapes
// where it has one. Invalid UTF-8 comes out as U+FFFD.
func asciiJSON(s, hexFmt string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20 || c >= 0x80 && c <= 0xffff:
			fmt.Fprintf(&b, `\u`+hexFmt, c)
		case c > 0xffff:
			c -= 0x10000
			fmt.Fprintf(&b, `\u`+hexFmt+`\u`+hexFmt, 0xd800+(c>>10), 0xdc00+(c&0x3ff))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Writer returns w with every registered secret masked in what is written
// to it, for a logger that prints straight to a stream (the webhook
// receiver's stderr) rather than through messages the redactor already
// scrubs. Each Write is masked on its own: a secret split across two
// writes is not found, so w suits a writer given whole lines, as slog's
// handlers write each record in one call.
func (r *Redactor) Writer(w io.Writer) io.Writer { return redactingWriter{r: r, w: w} }

type redactingWriter struct {
	r *Redactor
	w io.Writer
}

// Write writes p masked and reports p's length as written: the caller
// counts the bytes it gave, not the mask's.
func (rw redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
