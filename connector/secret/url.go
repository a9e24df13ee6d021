package secret

import (
	"net/url"
	"regexp"
	"strings"
)

// passwordKey names a parameter whose value is a password: password and
// sslpassword, which pgx reads, and the names a user may take for them
// (pgpassword, after the PGPASSWORD variable; pass, passwd, pwd). pgx reads
// none of the latter: it sends them to the server as settings and connects
// without a password, and the message saying the server refused it quoted
// the connection string, the password in clear.
const passwordKey = `(?:ssl|pg)?(?:password|passwd|pass|pwd)`

var (
	// scheme starts a URL (postgres://, https://); a connection string
	// without one is PostgreSQL's key=value form.
	scheme = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)
	// userinfo is a URL's scheme://user:PASSWORD@, the password running
	// to the last @ (a password may hold @, / or ? unescaped, which is
	// why such a URL may not parse).
	userinfo = regexp.MustCompile(`^(\s*[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*):(.*)@`)
	// queryPassword is a password or sslpassword parameter in a URL's
	// query, or one a user took for it (see passwordKey). Its value runs
	// to the next & or #: a space in it does not end it, it only makes
	// the URL unparseable.
	queryPassword = regexp.MustCompile(`(?i)([?&;]\s*` + passwordKey + `\s*=\s*)([^&#]*)`)
	// keywordPassword is a password or sslpassword in PostgreSQL's
	// key=value form: quoted, to the closing quote or, when there is none,
	// to the end (the parser's "unterminated quoted string" reads it all as
	// the value); or unquoted, to the next space that no backslash escapes
	// (libpq and pgx read password=Secr3t\ Tail as one value, and the
	// tail was printed in clear).
	keywordPassword = regexp.MustCompile(`(?i)((?:^|\s)` + passwordKey + `\s*=\s*)('(?:[^'\\]|\\.)*(?:'|\\?$)|(?:[^\s'\\]|\\[\s\S])(?:[^\s\\]|\\[\s\S])*\\?)`)
	// keywordLead starts PostgreSQL's key=value form (host=h ...).
	keywordLead = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)
	// looseLead is what may stand before the user of a URL written wrong
	// (see looseUserinfo): spaces, a quote or bracket around the URL, a
	// scheme whose "://" is mistyped (postgres:/, postgres:, postgres ://,
	// postgres:///, postgres//, postgres: //) and slashes.
	looseLead = regexp.MustCompile(`^\s*["'<(\[]*\s*(?:[A-Za-z][A-Za-z0-9+.-]*\s*(?::|//))?\s*/*\s*`)
	// quoteLead is looseLead without the scheme.
	quoteLead = regexp.MustCompile(`^\s*["'<(\[]*\s*/*`)
)

// URLSecrets returns what is secret in a connection string: the password
// of a URL's userinfo (scheme://user:PASSWORD@host) and the values of its
// password and sslpassword parameters, or of a PostgreSQL key=value
// string's; each as written and percent-decoded, and each piece of it
// between the characters a parser stops at (see fragments). It reads the
// text rather than a parsed URL, so it finds them in a URL that does not
// parse, which is the one an error message quotes back.
func URLSecrets(raw string) []string {
	var out []string
	add := func(s string, unescape func(string) (string, error)) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := unescape(s); err == nil && d != s && d != "" {
			out = append(out, d)
		}
		out = append(out, fragments(s)...)
	}
	if isKeywordForm(raw) {
		for _, m := range keywordPassword.FindAllStringSubmatch(raw, -1) {
			v := m[2]
			if strings.HasPrefix(v, "'") {
				v = strings.TrimPrefix(v, "'")
				if strings.HasSuffix(v, "'") && !strings.HasSuffix(v, `\'`) {
					v = strings.TrimSuffix(v, "'")
				}
				v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v)
				add(v, url.QueryUnescape)
				continue
			}
			// Unquoted, as written (what a parser quotes back) and as read.
			add(v, url.QueryUnescape)
			if u := unescapeKeyword(v); u != v && u != "" {
				out = append(out, u)
			}
		}
		return out
	}
	if m := userinfo.FindStringSubmatch(raw); m != nil {
		add(m[2], url.PathUnescape)
	} else if from, to, ok := looseUserinfo(raw); ok {
		add(raw[from:to], url.PathUnescape)
	}
	for _, m := range queryPassword.FindAllStringSubmatch(raw, -1) {
		add(strings.TrimRight(m[2], " \t"), url.QueryUnescape)
	}
	return out
}

// isKeywordForm reports whether raw is read as PostgreSQL's key=value form:
// it has no scheme, and it has a password= or starts with a key=. Any other
// text without a scheme is taken for a URL written wrong (see
// looseUserinfo).
func isKeywordForm(raw string) bool {
	return !scheme.MatchString(raw) && (keywordLead.MatchString(raw) || keywordPassword.MatchString(raw))
}

// looseUserinfo finds the password of a URL written wrong, as raw[from:to]:
// one whose scheme is mistyped or missing (postgres:/u:PW@h, postgres:u:PW@h,
// postgres//u:PW@h, //u:PW@h, u:PW@h), has a third slash (postgres:///u:PW@h,
// an empty host before the user), or is wrapped in quotes
// ("postgres://u:PW@h"). A parser reads none of them as a URL and quotes
// them back in its error, and pgx masks only what it takes for a password
// there; each was printed in clear. The password runs from the colon after
// the user to the last @, as in a URL (see userinfo). A user holding a /,
// ? or # is a path's, not a URL's (/data/team:x@2026, ./run 10:30@host):
// none.
func looseUserinfo(raw string) (from, to int, ok bool) {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return 0, 0, false
	}
	region := raw[:at]
	lead := looseLead.FindStringIndex(region)[1]
	colon := strings.IndexByte(region[lead:], ':')
	if colon < 0 {
		if strings.Contains(region[:lead], "/") {
			return 0, 0, false // scheme:/user@host: a user without a password
		}
		// What looked like a scheme was the user (u:PW@host).
		lead = quoteLead.FindStringIndex(region)[1]
		if colon = strings.IndexByte(region[lead:], ':'); colon < 0 {
			return 0, 0, false
		}
	}
	if strings.ContainsAny(region[lead:lead+colon], "/?#") {
		// A URL's user holds none of them, a path does: taking the name
		// after a ':' in /backups/run:2026@snap for a password refused
		// that directory (--parquet-dir, a webhook log) and masked 2026
		// in every line after.
		return 0, 0, false
	}
	from = lead + colon + 1
	return from, at, from < at
}

// unescapeKeyword is an unquoted key=value value as libpq and pgx read it:
// a backslash takes the byte after it as it is (a trailing one is dropped).
func unescapeKeyword(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++
			if i == len(v) {
				break
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// fragments returns the pieces of a secret between the characters at
// which a connection-string parser stops (/ ? # @ & = ; : , quotes,
// backslash, brackets, spaces), of minFragment bytes or more. A parser
// that fails inside a password quotes the input from such a character on
// ("missing key/value separator in URI query parameter: \"Part3@host\""),
// so the whole secret is not in the message, but its tail is. A % is no
// such character: a password that parses holds its escapes (p%40ss), and
// its pieces would only mask the same letters in every other message.
func fragments(s string) []string {
	pieces := strings.FieldsFunc(s, func(r rune) bool {
		return strings.ContainsRune("/?#@&=;:,'\"\\[] \t\r\n", r)
	})
	if len(pieces) < 2 {
		return nil
	}
	var out []string
	for _, p := range pieces {
		if len(p) >= minFragment {
			out = append(out, p)
		}
	}
	return out
}

// minFragment is the shortest piece of a secret masked on its own: a
// shorter one would mask the same letters in the rest of the message
// and tell little.
const minFragment = 3

// MaskURL returns raw as written with the secrets URLSecrets finds
// replaced by mask, for a message that names the connection.
func MaskURL(raw, mask string) string {
	if isKeywordForm(raw) {
		return keywordPassword.ReplaceAllString(raw, "${1}"+mask)
	}
	s := raw
	if userinfo.MatchString(raw) {
		s = userinfo.ReplaceAllString(raw, "${1}:"+mask+"@")
	} else if from, to, ok := looseUserinfo(raw); ok {
		s = raw[:from] + mask + raw[to:]
	}
	return queryPassword.ReplaceAllStringFunc(s, func(m string) string {
		sub := queryPassword.FindStringSubmatch(m)
		return sub[1] + mask
	})
}

// PathTokens returns the segments of a URL's path that look like a key
// rather than a name (see looksLikeToken), as written and percent-decoded:
// a proxy in front of an API may take its key in the path
// (https://proxy.example/KEY/api), and every message that names the URL
// would print it. It reads the text, not a parsed URL, so it finds them
// in a URL that does not parse too; what comes before the first / after
// the scheme is the host, not the path, and a query or fragment ends it.
func PathTokens(raw string) []string {
	s := strings.TrimSpace(raw)
	if m := scheme.FindString(s); m != "" {
		s = s[len(m):]
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return nil
	}
	var out []string
	for _, seg := range strings.Split(s[i:], "/") {
		if d, ok := tokenSegment(seg); ok {
			out = append(out, seg)
			if d != seg {
				out = append(out, d)
			}
		}
	}
	return out
}

// MaskPathTokens returns a URL path (as a server receives it) with every
// segment that looks like a key (see looksLikeToken) replaced by Mask, for
// a log line that names the path a request came to.
func MaskPathTokens(path string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if _, ok := tokenSegment(seg); ok {
			segs[i] = Mask
		}
	}
	return strings.Join(segs, "/")
}

// tokenSegment reports whether a path segment, percent-decoded (returned),
// looks like a key.
func tokenSegment(seg string) (string, bool) {
	d, err := url.PathUnescape(seg)
	if err != nil {
		d = seg
	}
	return d, looksLikeToken(d)
}

// looksLikeToken reports whether s reads as a key, not a word: at least
// minPathToken characters, all of them from the alphabets keys are
// written in (letters, digits and - _ . ~ + =: hex, base64, base64url,
// base58), with a digit or with both upper- and lower-case letters. A
// path's names ("api", "v2", "bank-data-proxy", "accounts") have neither
// the length nor the mix; a random key of that length has it all but
// always.
func looksLikeToken(s string) bool {
	if len(s) < minPathToken {
		return false
	}
	var digit, upper, lower bool
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digit = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case strings.ContainsRune("-_.~+=", c):
		default:
			return false
		}
	}
	return digit || upper && lower
}

// minPathToken is the shortest path segment taken for a key: 16
// characters, 64 bits of hex or 96 of base64, the shortest key a service
// hands out; names in an API's path are shorter or plain words.
const minPathToken = 16

// userinfoOpen is a URL whose userinfo has a password begun but no @
// ending it: scheme://user:PASS with the rest of the password (after a
// space) and the host somewhere else.
var userinfoOpen = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:[^@]*$`)

// EndsInPassword reports whether the connection string raw ends inside a
// password: a URL's userinfo with no @ after its password
// (postgres://u:Secr3t), or a password parameter that is its last
// (…?password=Secr3t, host=h password=Secr3t). A password with a space,
// given unquoted on a command line, is split there into two arguments, and
// the next argument, an unexpected one, is the rest of the password.
//
// So does a URL written wrong (postgres:/u:Secr3t, u:Secr3t; see
// looseUserinfo) with no @ yet: the stray argument, Tail@host/db, was
// quoted, the rest of its password in clear.
func EndsInPassword(raw string) bool {
	if userinfoOpen.MatchString(raw) {
		return true
	}
	if !strings.Contains(raw, "@") && !isKeywordForm(raw) {
		if _, _, ok := looseUserinfo(raw + "@"); ok {
			return true
		}
	}
	s := strings.TrimRight(raw, " \t")
	re := queryPassword
	if isKeywordForm(raw) {
		re = keywordPassword
	}
	ms := re.FindAllStringIndex(s, -1)
	return len(ms) > 0 && ms[len(ms)-1][1] == len(s)
}
