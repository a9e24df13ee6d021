package secret

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	// userinfo is a URL's scheme://user:PASSWORD@, the password running
	// to the last @ (a password may hold @, / or ? unescaped, which is
	// why such a URL may not parse).
	userinfo = regexp.MustCompile(`^(\s*[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*):(.*)@`)
	// passwordParam is a password or sslpassword parameter, in a URL's
	// query or a PostgreSQL key=value string (quoted or not).
	passwordParam = regexp.MustCompile(`(?i)(^|[\s?&;])((?:ssl)?password)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&#]*)`)
)

// URLSecrets returns what is secret in a connection string: the password
// of a URL's userinfo (scheme://user:PASSWORD@host) and the values of its
// password and sslpassword parameters, or of a PostgreSQL key=value
// string's; each as written and percent-decoded. It reads the text rather
// than a parsed URL, so it finds them in a URL that does not parse, which
// is the one an error message quotes back.
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
	}
	if m := userinfo.FindStringSubmatch(raw); m != nil {
		add(m[2], url.PathUnescape)
	}
	for _, m := range passwordParam.FindAllStringSubmatch(raw, -1) {
		v := m[4]
		if len(v) >= 2 && v[0] == '\'' {
			v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
		}
		add(v, url.QueryUnescape)
	}
	return out
}

// MaskURL returns raw as written with the secrets URLSecrets finds
// replaced by mask, for a message that names the connection.
func MaskURL(raw, mask string) string {
	s := userinfo.ReplaceAllString(raw, "${1}:"+mask+"@")
	return passwordParam.ReplaceAllString(s, "${1}${2}${3}"+mask)
}
