package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRedactsEveryForm(t *testing.T) {
	var r Redactor
	r.Add(`s3cr/t+"x`)
	for _, in := range []string{`s3cr/t+"x`, `s3cr%2Ft%2B%22x`, `s3cr/t+\"x`} {
		if got := r.String("key=" + in + "!"); got != "key="+Mask+"!" {
			t.Errorf("String(%q) = %q", in, got)
		}
	}
	var nilR *Redactor
	if nilR.String("a") != "a" {
		t.Fatal("nil redactor must pass text through")
	}
}

// TestRedactsWhatServersEcho: a secret with characters encoders escape
// differently is masked in each spelling an error may quote it in: a body
// a server echoed (JavaScript, PHP, Python, Go), a Go-quoted string, a URL
// the client escaped. Each of these leaked before (a stub server echoing
// the token request's body, with the secret in clear in the error).
func TestRedactsWhatServersEcho(t *testing.T) {
	js := func(s string) string { // JSON.stringify: no HTML escaping
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		_ = e.Encode(s)
		return strings.TrimSpace(b.String())
	}
	goJSON := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	php := func(s string) string { return strings.ReplaceAll(js(s), "/", `\/`) }
	python := func(s string) string { return `"` + asciiJSON(s, "%04x") + `"` }
	pyHTML := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace
	phpHTML := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;").Replace
	for _, secret := range []string{`Xs3cr/t+"k‹é>&`, `gk"<x>`, `wh&k'<ey>"9`, "tab\there\U0001F600\x7f", `ab/c"d`, "a b%2f"} {
		var r Redactor
		r.Add(secret)
		spellings := map[string]string{
			"raw": secret, "JSON.stringify": js(secret), "encoding/json": goJSON(secret), "PHP": php(secret),
			"Python": python(secret), "Python upper hex": `"` + asciiJSON(secret, "%04X") + `"`,
			"%q": fmt.Sprintf("%q", secret), "%+q": fmt.Sprintf("%+q", secret), "strconv.Quote": strconv.Quote(secret),
			"query": url.QueryEscape(secret), "query lower hex": lowerHex(url.QueryEscape(secret)),
			"path": url.PathEscape(secret), "URL path": (&url.URL{Scheme: "http", Host: "h", Path: "/x/" + secret}).String(),
			"html.EscapeString": html.EscapeString(secret), "html.EscapeString of JSON": html.EscapeString(js(secret)),
			"Python html.escape": pyHTML(secret), "PHP htmlspecialchars": phpHTML(js(secret)),
			"%q in a JSON log line": js(fmt.Sprintf("%q", secret)), "%+q in a JSON log line": goJSON(fmt.Sprintf("%+q", secret)),
			"JSON body quoted with %q": strconv.Quote(js(secret)),
		}
		for how, text := range spellings {
			msg := `HTTP 422: {"clientSecret":` + text + `}`
			inner := strings.Trim(text, `"`)
			if strings.HasPrefix(text, "http://") {
				inner = strings.TrimPrefix(text, "http://h/x/")
			}
			if got := r.String(msg); strings.Contains(got, inner) {
				t.Errorf("secret %q spelt as %s (%s) was not masked: %s", secret, how, text, got)
			}
		}
	}
}

func TestURLSecrets(t *testing.T) {
	for _, c := range []struct {
		raw    string
		want   []string
		masked string
	}{
		{"postgres://u:Pg5ecret@127.0.0.1:5432/db", []string{"Pg5ecret"}, "postgres://u:xxxxx@127.0.0.1:5432/db"},
		// None of these parse as URLs; each was printed in clear.
		{"postgres://u:Pg5ecret@127.0.0.1:notaport/db", []string{"Pg5ecret"}, "postgres://u:xxxxx@127.0.0.1:notaport/db"},
		{"postgres://u:Pg5e%zzcret@h/db", []string{"Pg5e%zzcret"}, "postgres://u:xxxxx@h/db"},
		{"postgres://u:Pg5 ecret@h/db", []string{"Pg5 ecret", "Pg5", "ecret"}, "postgres://u:xxxxx@h/db"},
		{"postgres://u:Pg5ecret@[::1/db", []string{"Pg5ecret"}, "postgres://u:xxxxx@[::1/db"},
		{"postgres://u:pa/ss@w@h:1,h:x/db", []string{"pa/ss@w"}, "postgres://u:xxxxx@h:1,h:x/db"},
		{"postgres://u:p%40ss@h/db", []string{"p%40ss", "p@ss"}, "postgres://u:xxxxx@h/db"},
		{"postgres://u:pw@h/db?sslmode=require&sslpassword=SslKeyPass", []string{"pw", "SslKeyPass"}, "postgres://u:xxxxx@h/db?sslmode=require&sslpassword=xxxxx"},
		{"postgres://u@h/db?password=a%2Bb", []string{"a%2Bb", "a+b"}, "postgres://u@h/db?password=xxxxx"},
		// A parser stops inside these passwords and quotes the rest
		// ("missing key/value separator in URI query parameter:
		// \"Part3Leak@…\""), so each piece is a secret of its own.
		{"postgres://u:TopSecret/Part2?Part3Leak@h:5432/db", []string{"TopSecret/Part2?Part3Leak", "TopSecret", "Part2", "Part3Leak"}, "postgres://u:xxxxx@h:5432/db"},
		// A space does not end a query's password: it makes the URL
		// unparseable.
		{"postgres://u:x@h/db?password=se cr3t&sslmode=disable", []string{"x", "se cr3t", "cr3t"}, "postgres://u:xxxxx@h/db?password=xxxxx&sslmode=disable"},
		// An unclosed quote makes the rest of the string the value.
		{"host=h password='bad quote dbname=bank", []string{"bad quote dbname=bank", "bad", "quote", "dbname", "bank"}, "host=h password=xxxxx"},
		{"host=h password=Pl41n user=u", []string{"Pl41n"}, "host=h password=xxxxx user=u"},
		{"host=h password='it''s a \\'pw' user=u", []string{`'it'`}, ""},
		{`host=h password='a \'b' user=u sslpassword=k`, []string{`a 'b`, "k"}, `host=h password=xxxxx user=u sslpassword=xxxxx`},
		// A backslash escapes a space in an unquoted value: the rest is
		// the password too, and was printed in clear.
		{`host=h password=Secr3t\ Tail4ever user=u`, []string{`Secr3t\ Tail4ever`, "Secr3t", "Tail4ever", "Secr3t Tail4ever"}, `host=h password=xxxxx user=u`},
		{`host=h password=ab\\cd\`, []string{`ab\\cd\`, `ab\cd`}, `host=h password=xxxxx`},
		// URLs written wrong: pgx reads none as a URL and quotes it back
		// in its error; each password was printed in clear.
		{"postgres:/u:Pg5ecret@h:1/db", []string{"Pg5ecret"}, "postgres:/u:xxxxx@h:1/db"},
		{"postgres:u:Pg5ecret@h/db", []string{"Pg5ecret"}, "postgres:u:xxxxx@h/db"},
		{"postgres ://u:Pg5ecret@h/db", []string{"Pg5ecret"}, "postgres ://u:xxxxx@h/db"},
		{"postgres//u:Pg5ecret@h/db", []string{"Pg5ecret"}, "postgres//u:xxxxx@h/db"},
		{"postgres:///u:Pg5:ecret@h/db", []string{"Pg5:ecret", "Pg5", "ecret"}, "postgres:///u:xxxxx@h/db"},
		{"//u:Pg5ecret@h/db", []string{"Pg5ecret"}, "//u:xxxxx@h/db"},
		{"postgres: //u:Pg5ecret@h/db", []string{"Pg5ecret"}, "postgres: //u:xxxxx@h/db"},
		{"postgres:// u:Pg5ecret@h/db", []string{"Pg5ecret"}, "postgres:// u:xxxxx@h/db"},
		{"u:Pg5ecret@h/db?sslpassword=SslKeyPass", []string{"Pg5ecret", "SslKeyPass"}, "u:xxxxx@h/db?sslpassword=xxxxx"},
		{`"postgres://u:Pg5ecret@h/db"`, []string{"Pg5ecret"}, `"postgres://u:xxxxx@h/db"`},
		// Names a user takes for the password's (pgx reads them as
		// server settings and connects without a password).
		{"postgres://u@h/db?PGPASSWORD=Pg5ecret&pwd=Pw2", []string{"Pg5ecret", "Pw2"}, "postgres://u@h/db?PGPASSWORD=xxxxx&pwd=xxxxx"},
		{"host=h user=u pass=Pg5ecret passfile=/p", []string{"Pg5ecret"}, "host=h user=u pass=xxxxx passfile=/p"},
		{"postgres:/u@h/db", nil, "postgres:/u@h/db"},
		// Paths holding ':' and '@' are no URL: the user would hold a /.
		{"/data/team:x@2026", nil, "/data/team:x@2026"},
		{"/backups/run:2026@snap/out", nil, "/backups/run:2026@snap/out"},
		{"./out/run 10:30@host", nil, "./out/run 10:30@host"},
		{"host=h:5432 user=bob@corp", nil, "host=h:5432 user=bob@corp"},
		{"postgres://u@h:5432/db", nil, "postgres://u@h:5432/db"},
		{"https://api.pluggy.ai", nil, "https://api.pluggy.ai"},
		{"/var/lib/events", nil, "/var/lib/events"},
	} {
		got := URLSecrets(c.raw)
		if fmt.Sprint(got) != fmt.Sprint(c.want) && !(c.masked == "" && len(got) > 0) {
			t.Errorf("URLSecrets(%q) = %q, want %q", c.raw, got, c.want)
		}
		if c.masked == "" {
			continue
		}
		if m := MaskURL(c.raw, "xxxxx"); m != c.masked {
			t.Errorf("MaskURL(%q) = %q, want %q", c.raw, m, c.masked)
		}
	}
}

// TestBase64Masked: a secret inside base64 text (a Basic header echoed,
// a whole body encoded), at any byte offset and in either alphabet, is
// masked down to the bits it shares with its neighbours: no run of the
// characters that encode the secret alone survives.
func TestBase64Masked(t *testing.T) {
	for _, sec := range []string{"hunter2-password", "s3cr/t+é😀", "abcdef"} {
		var r Redactor
		r.Add(sec)
		for pre := range 5 {
			for post := range 4 {
				text := strings.Repeat("u", pre) + sec + strings.Repeat("v", post)
				for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "raw": base64.RawStdEncoding, "rawurl": base64.RawURLEncoding} {
					e := enc.EncodeToString([]byte(text))
					got := r.String("Authorization: Basic " + e + " was refused")
					// The characters that encode bits of the secret only.
					from, to := (8*pre+5)/6, 8*(pre+len(sec))/6
					if strings.Contains(got, e[from:to]) || !strings.Contains(got, Mask) {
						t.Errorf("%q at offset %d in %s base64: %s", sec, pre, name, got)
					}
				}
			}
		}
	}
	var r Redactor
	r.Add("abcde") // too short to mask its base64: "YWJjZGU" is left alone
	if got := r.String("YWJjZGU="); got != "YWJjZGU=" {
		t.Errorf("a short secret's base64 was masked: %s", got)
	}
}

// TestHexMasked: a secret inside a hex dump of a longer text (a front end
// that logs the request body in hex), in lower- or upper-case digits, is
// masked, wherever it sits in the dump; it was printed in clear, so one
// decode away. A secret under 6 bytes is left alone, as for base64.
func TestHexMasked(t *testing.T) {
	for _, sec := range []string{"hunter2-password", "s3cr/t+é😀", "abcdef"} {
		var r Redactor
		r.Add(sec)
		for pre := range 3 {
			text := `{"clientId":"` + strings.Repeat("u", pre) + `","clientSecret":"` + sec + `"}`
			for name, h := range map[string]string{"lower": hex.EncodeToString([]byte(text)), "upper": strings.ToUpper(hex.EncodeToString([]byte(text)))} {
				got := r.String("body (hex): " + h)
				if secHex := hex.EncodeToString([]byte(sec)); strings.Contains(strings.ToLower(got), secHex) || !strings.Contains(got, Mask) {
					t.Errorf("%q in %s-case hex at offset %d: %s", sec, name, pre, got)
				}
			}
		}
	}
	var r Redactor
	r.Add("abcde")
	if got := r.String("6162636465"); got != "6162636465" {
		t.Errorf("a short secret's hex was masked: %s", got)
	}
}

// TestJWTSignatureAloneIsMasked: a registered JSON Web Token's signature
// is masked where it is quoted without the rest of the token; a dotted
// secret that is no token registers no piece of itself.
func TestJWTSignatureAloneIsMasked(t *testing.T) {
	sig := strings.Repeat("Ab3_-Zq9", 6)
	var r Redactor
	r.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0." + sig)
	r.Add("not.a." + strings.Repeat("tokenpart", 5))
	if got := r.String("invalid signature " + sig); got != "invalid signature "+Mask {
		t.Errorf("signature alone: %q", got)
	}
	if got := r.String(strings.Repeat("tokenpart", 5)); strings.Contains(got, Mask) {
		t.Errorf("a piece of a dotted non-token was masked: %q", got)
	}
}

// TestPathTokens: a base_url path segment is taken for a key only when it
// reads as one (long, from a key's alphabet, with a digit or mixed case),
// so the names of an API's path stay readable.
func TestPathTokens(t *testing.T) {
	for raw, want := range map[string][]string{
		"https://proxy.example/pRx7Kq2ZtW9mLc4VbN/api":           {"pRx7Kq2ZtW9mLc4VbN"},
		"https://proxy.example/0123456789abcdef0123":             {"0123456789abcdef0123"},
		"https://proxy.example/a%2Bb0123456789abcdef":            {"a%2Bb0123456789abcdef", "a+b0123456789abcdef"},
		"https://0123456789abcdef0123.example/api":               nil, // the host
		"https://proxy.example/api/v2/open-banking-proxy":        nil,
		"https://proxy.example/x?key=0123456789abcdef0123":       nil, // the query: refused, never quoted
		"https://bankaccountdata.gocardless.com/api/v2":          nil,
		"proxy.example /pRx7Kq2ZtW9mLc4VbN":                      {"pRx7Kq2ZtW9mLc4VbN"},
		"https://proxy.example/transactionsaccountsbalances/api": nil,
	} {
		if got := PathTokens(raw); !slices.Equal(got, want) {
			t.Errorf("PathTokens(%q) = %q, want %q", raw, got, want)
		}
	}
	if got, want := MaskPathTokens("/hooks/pRx7Kq2ZtW9mLc4VbN"), "/hooks/"+Mask; got != want {
		t.Errorf("MaskPathTokens = %q, want %q", got, want)
	}
}

// TestShortSecretMaskedWhereItStandsAlone: a secret under 6 bytes is
// masked as a value (quoted, assigned, a URL's password), not inside the
// words around it; masked wherever its letters came, a client_secret "b"
// turned a validation message into "**********ut missing".
func TestShortSecretMaskedWhereItStandsAlone(t *testing.T) {
	var r Redactor
	r.Add("b")
	r.Add("pass")
	for in, want := range map[string]string{
		`config.client_secret: 'b' is short, but missing nothing`: `config.client_secret: '` + Mask + `' is short, but missing nothing`,
		`POST /auth {"clientSecret":"b"}`:                         `POST /auth {"clientSecret":"` + Mask + `"}`,
		`secret=b&id=x`:                                           `secret=` + Mask + `&id=x`,
		`b`:                                                       Mask,
		`postgres://user:pass@host/db: password authentication failed`: `postgres://user:` + Mask + `@host/db: password authentication failed`,
		`bébé`: `bébé`,
	} {
		if got := r.String(in); got != want {
			t.Errorf("%s\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestAddWhileMasking: secrets registered while other goroutines mask
// text (a token renewed mid-read) race with nothing: String reads the
// short spellings' slice that Add replaced, never one it rewrites.
func TestAddWhileMasking(t *testing.T) {
	var r Redactor
	r.Add("ab")
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					_ = r.String("x ab y c1 z")
				}
			}
		}()
	}
	for i := range 200 {
		r.Add(fmt.Sprintf("c%d", i))
	}
	close(done)
	wg.Wait()
}

// TestEndsInPassword: a connection string cut inside its password (a
// password with a space, unquoted on a command line) is told from one
// that ends elsewhere.
func TestEndsInPassword(t *testing.T) {
	for raw, want := range map[string]bool{
		"postgres://u:Secr3t":                     true,
		"postgres://u@h/db?password=Secr3t":       true,
		"host=h password=Secr3t":                  true,
		"host=h password='Secr3t":                 true,
		"postgres://u:Secr3t@h/db":                false,
		"postgres://u@h/db?password=Secr3t&a=b":   false,
		"host=h password=Secr3t dbname=db":        false,
		"host=h password='Secr3t Tail' dbname=db": false,
		"/var/lib/events":                         false,
		// Written wrong (see looseUserinfo), cut in the password.
		"postgres:/u:Secr3t":   true,
		"postgresql//u:Secr3t": true,
		"u:Secr3t":             true,
		"postgres:/u@h/db":     false,
		"/data/team:x":         false,
		"warehouse":            false,
	} {
		if got := EndsInPassword(raw); got != want {
			t.Errorf("EndsInPassword(%q) = %v, want %v", raw, got, want)
		}
	}
}
