package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSecretsInMalformedInputsAreMasked: a password in a URL that does not
// parse (a bad port, a stray %, a space, an unclosed bracket), in an
// sslpassword parameter, or after the colon of a curl-style --header, is
// masked in whatever the binary prints about it. Each of these was printed
// in clear before: the masking parsed the URL first, and quoted it whole
// when it could not. So is each piece of a password the parser quotes on
// its own, from a ? or an unclosed quote on: that piece was printed in
// clear while the whole password was masked. And so is the password of a
// URL written wrong (postgres:/u:PW@h, u:PW@h, "postgres://…", an empty
// host in postgres:///u:PW@h), which was printed in clear: the masking
// took a string without "scheme://" for key=value and found no password=.
func TestSecretsInMalformedInputsAreMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	cat := e.catalog(true, "accounts")
	const pw = "Pg5ecretW0rd"
	// tail is the piece of a password after a character the parser stops
	// at, which its error quotes from there.
	const tail = "T4ilP13ce"
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"--postgres with a bad port", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "postgres://u:" + pw + "@127.0.0.1:notaport/db"}, 1},
		{"--postgres with a bad escape", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw + "%zz@127.0.0.1/db"}, 1},
		{"--postgres with a space", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw + " x@127.0.0.1/db"}, 1},
		{"--postgres with an unclosed bracket", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw + "@[::1/db"}, 1},
		{"--postgres with a slash and an @ in the password", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw + "/a@b@127.0.0.1:1,127.0.0.1:x/db"}, 1},
		{"--postgres sslpassword", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:x@127.0.0.1:" + st.ClosedPort(t) + "/db?connect_timeout=5&sslmode=disable&sslpassword=" + pw}, 1},
		{"webhook_log with a bad port", []string{"read", "--config", e.config(map[string]any{"webhook_log": "postgres://u:" + pw + "@127.0.0.1:badport/db"}), "--catalog", e.catalog(true, "transactions")}, 1},
		{"base_url with a password and a bad port", []string{"check", "--config", e.config(map[string]any{"base_url": "https://user:" + pw + "@api.pluggy.ai:x"})}, 0},
		{"webhook serve --log with a bad port", []string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", "postgres://u:" + pw + "@127.0.0.1:badport/db", "--header", "X-A=b"}, 1},
		{"curl-style --header", []string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", t.TempDir(), "--header", "X-Webhook-Token: " + pw + "=="}, 2},
		// The parser stops at the ? and quotes the rest of the password.
		{"--postgres with a ? in the password", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw + "/x?" + tail + "@127.0.0.1/db"}, 1},
		{"--postgres with an unclosed quote", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "host=127.0.0.1 password='" + pw + " " + tail + " dbname=db"}, 1},
		{"webhook_log with a ? in the password", []string{"read", "--config", e.config(map[string]any{"webhook_log": "postgres://u:" + pw + "/x?" + tail + "@127.0.0.1/db"}), "--catalog", e.catalog(true, "transactions")}, 1},
		{"webhook serve --log with a ? in the password", []string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", "postgres://u:" + pw + "/x?" + tail + "@127.0.0.1/db", "--header", "X-A=b"}, 1},
		// URLs written wrong, which pgx reads as neither a URL nor
		// key=value and quotes back whole.
		{"--postgres with a mistyped scheme", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "postgres:/u:" + pw + "@127.0.0.1:1/db"}, 1},
		{"--postgres without a scheme", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "u:" + pw + "@127.0.0.1:1/db"}, 1},
		{"--postgres in quotes", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", `"postgres://u:` + pw + `@127.0.0.1:1/db"`}, 1},
		{"--postgres with a third slash", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "postgres:///u:" + pw + "@127.0.0.1:1/db"}, 1},
		// A parameter named as a user may take for the password's:
		// pgx does not read it as one, and the message quoted it.
		{"--postgres with PGPASSWORD in the query", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "postgres://u@127.0.0.1:" + st.ClosedPort(t) + "/db?connect_timeout=5&PGPASSWORD=" + pw}, 1},
		{"--postgres with pwd=", []string{"read", "--config", e.config(nil), "--catalog", cat, "--no-records", "--postgres", "host=127.0.0.1 port=" + st.ClosedPort(t) + " user=u pwd=" + pw + " dbname=db"}, 1},
		{"webhook_log with a mistyped scheme", []string{"read", "--config", e.config(map[string]any{"webhook_log": "postgres:/u:" + pw + "@127.0.0.1:1/db"}), "--catalog", e.catalog(true, "transactions")}, 1},
		{"webhook serve --log with a mistyped scheme", []string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", "postgres//u:" + pw + "@127.0.0.1:1/db", "--header", "X-A=b"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := st.Exec(t, e.bin, c.args...)
			out := string(stdout) + string(stderr)
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, out)
			}
			if strings.Contains(out, pw) || strings.Contains(out, tail) {
				t.Errorf("the output shows the password or a piece of it:\n%s", out)
			}
			if !strings.Contains(out, "xxxxx") && !strings.Contains(out, "**********") && c.name != "curl-style --header" {
				t.Errorf("nothing says where the password was masked:\n%s", out)
			}
		})
	}
}

// TestSecretsEchoedInOtherSpellingsAreMasked: an API front end that
// answers the token request with its body echoed, re-encoded by another
// JSON library than Go's (JavaScript's leaves <, > and & alone, PHP's
// escapes / and non-ASCII, Python's escapes non-ASCII), in base64 or hex
// (a debugging front end's dump), or HTML-escaped (an error page quoting
// the value or the JSON body), does not get the client secret printed:
// the secrets are registered in those spellings too. A secret of letters and digits is spelt the same everywhere; these
// have the characters encoders disagree on.
func TestSecretsEchoedInOtherSpellingsAreMasked(t *testing.T) {
	bin := st.Build(t, "source-pluggy")
	styles := map[string]func(string) string{
		"JavaScript": jsonNoHTML,
		"PHP":        func(s string) string { return strings.ReplaceAll(asciiOnly(jsonNoHTML(s)), "/", `\/`) },
		"Python":     func(s string) string { return asciiOnly(jsonNoHTML(s)) },
		"base64":     func(s string) string { return `"` + base64.StdEncoding.EncodeToString([]byte(s)) + `"` },
		"hex":        func(s string) string { return `"` + hex.EncodeToString([]byte(s)) + `"` },
		// An HTML error page quoting the value, or the JSON body.
		"HTML": func(s string) string { return `"` + html.EscapeString(s) + `"` },
		"HTML of JSON": func(s string) string {
			j := jsonNoHTML(s)
			return `"` + html.EscapeString(j[1:len(j)-1]) + `"`
		},
	}
	for _, secret := range []string{`Xs3cr/t+"k‹é>&`, `gk"<x>0123`, "naïve/😀\\pw"} {
		for name, encode := range styles {
			t.Run(name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var body map[string]string
					_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnprocessableEntity)
					fmt.Fprintf(w, `{"clientId":%s,"clientSecret":%s}`, encode(body["clientId"]), encode(body["clientSecret"]))
				}))
				defer srv.Close()
				cfg := st.ConfigFile(t, map[string]any{"client_id": "11111111-2222-3333-4444-555555555555", "client_secret": secret,
					"item_ids": []string{"11111111-2222-3333-4444-555555555555"}, "base_url": srv.URL, "max_retries": 0}, nil)
				stdout, stderr, _ := st.Exec(t, bin, "check", "--config", cfg)
				out := decodedText(t, stdout) + string(stderr)
				if !strings.Contains(out, "422") {
					t.Fatalf("the echo was not reached:\n%s", out)
				}
				if spelt := strings.Trim(encode(secret), `"`); strings.Contains(out, spelt) {
					t.Errorf("the secret %q, spelt %s by %s, is in the output:\n%s", secret, spelt, name, out)
				}
			})
		}
	}
}

// jsonNoHTML is s as a JSON string with <, > and & as they are.
func jsonNoHTML(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

// asciiOnly rewrites every non-ASCII character of a JSON text as \u
// escapes (a surrogate pair above U+FFFF).
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
}

// decodedText is every string in the JSON lines of out, decoded: a
// message's text as a reader of the protocol sees it, not as JSON spells
// it on stdout.
func decodedText(t *testing.T, out []byte) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\n")
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var v any
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("not a JSON line: %s", line)
		}
		walk(v)
	}
	return b.String()
}

// TestBaseURLQueryIsNeverQuoted: a base_url with a query or a fragment,
// where an API key is put when a proxy in front of the API wants one, or
// with a user before an @ (a token given as the user, https://TOKEN@host),
// is refused without quoting them, also when the URL does not parse or
// has no host (a validation message and ParseBaseURL's last resort quoted
// the whole value, key included); the message still names the field.
func TestBaseURLQueryIsNeverQuoted(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	const key = "Qk3yInTheQuery"
	for _, u := range []string{
		"api.pluggy.ai/?token=" + key,
		"https://api.pluggy.ai:x/?api_key=" + key,
		"https://api.pluggy.ai/%zz?api_key=" + key,
		"http://[::1/x?key=" + key,
		"https://api.pluggy.ai /x#" + key,
		"https:/?key=" + key,
		"https://?key=" + key,
		"https://" + key + "@api.pluggy.ai:x/",
		"https://" + key + "@api.pluggy.ai /x",
		key + "@api.pluggy.ai",
	} {
		t.Run(u, func(t *testing.T) {
			for _, args := range [][]string{
				{"check", "--config", e.config(map[string]any{"base_url": u})},
				{"singer", "--config", e.config(map[string]any{"base_url": u}), "--discover"},
			} {
				stdout, stderr, _ := st.Exec(t, e.bin, args...)
				out := string(stdout) + string(stderr)
				if strings.Contains(out, key) {
					t.Errorf("%s: the output quotes the base_url's key:\n%s", args[0], out)
				}
				if !strings.Contains(out, "config.base_url") {
					t.Errorf("%s: the message does not name config.base_url:\n%s", args[0], out)
				}
			}
		})
	}
}

// TestStrayPasswordArgumentIsMasked: a key=value connection string given
// to --postgres without quotes (--postgres host=db password=s3cret
// dbname=bank) leaves its pieces as arguments of their own, and the usage
// error quoted the first, the password when it came first; a URL with a
// password as a stray argument is the same. Each is quoted with the
// password masked, and the message says to quote the connection string.
// A password with a space, unquoted, is split at the space, and the stray
// argument is the rest of it (postgres://u:Secr3t Tail@host/db): it was
// quoted in clear; it is not quoted, and the message names the flag.
func TestStrayPasswordArgumentIsMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	const pw = "Str4yPgPassw0rd"
	const tail = "T4ilOfTheP4ss"
	cat := e.catalog(true, "accounts")
	for _, c := range []struct {
		name string
		args []string
		hint string
	}{
		{"key=value after --postgres", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "host=127.0.0.1", "password=" + pw, "dbname=bank"}, "put it in quotes"},
		{"a URL as a stray argument", []string{"read", "--config", e.config(nil), "--catalog", cat, "postgres://u:" + pw + "@127.0.0.1/db"}, ""},
		{"the Singer tap", []string{"singer", "--config", e.config(nil), "password=" + pw}, ""},
		{"a URL password with a space, unquoted", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "postgres://u:" + pw, tail + "@127.0.0.1/db"}, "must be quoted"},
		{"a query password with a space, unquoted", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres=postgres://u@127.0.0.1/db?password=" + pw, tail}, "must be quoted"},
		{"a key=value password with a space", []string{"read", "--config", e.config(nil), "--catalog", cat, "--postgres", "host=127.0.0.1 password=" + pw, tail}, "must be quoted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := st.Exec(t, e.bin, c.args...)
			out := string(stdout) + string(stderr)
			if code != 2 || !strings.Contains(out, "unexpected argument") {
				t.Errorf("exit %d, want 2 with an unexpected argument:\n%s", code, out)
			}
			if strings.Contains(out, pw) || strings.Contains(out, tail) {
				t.Errorf("the output shows the password or a piece of it:\n%s", out)
			}
			if !strings.Contains(out, c.hint) {
				t.Errorf("nothing says to quote the connection string:\n%s", out)
			}
		})
	}
}

// TestBaseURLPathKeyIsMasked: a base_url whose path carries a key (a proxy
// in front of the API that takes it there, https://proxy.example/KEY/api)
// is quoted with the key masked in every message that names base_url, a
// check that cannot reach it and an API error that echoes the path, where
// the whole URL was printed; a path of names stays readable. The webhook
// receiver logs the path a request came to with such a key masked too.
func TestBaseURLPathKeyIsMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	const key = "pRx7Kq2ZtW9mLc4VbN"
	// echo is a proxy that refuses every call quoting the path it got.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"no such route `+r.URL.Path+`"}`, http.StatusForbidden)
	}))
	t.Cleanup(echo.Close)
	closed := "http://127.0.0.1:" + st.ClosedPort(t)
	for _, c := range []struct{ name, baseURL, shown string }{
		{"unreachable", closed + "/" + key + "/api", "/**********/api"},
		{"an API error echoing the path", echo.URL + "/" + key + "/api", "/**********/api"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"check", "--config", e.config(map[string]any{"base_url": c.baseURL})},
				{"singer", "--config", e.config(map[string]any{"base_url": c.baseURL}), "--discover"},
			} {
				stdout, stderr, _ := st.Exec(t, e.bin, args...)
				out := string(stdout) + string(stderr)
				if strings.Contains(out, key) {
					t.Errorf("%s: the output shows the key in base_url's path:\n%s", args[0], out)
				}
				if args[0] == "check" && !strings.Contains(out, c.shown) {
					t.Errorf("%s: the output does not show base_url's path with the key masked (%s):\n%s", args[0], c.shown, out)
				}
			}
		})
	}
	t.Run("a path of names is shown", func(t *testing.T) {
		stdout, stderr, _ := st.Exec(t, e.bin, "check", "--config", e.config(map[string]any{"base_url": closed + "/open-banking-proxy/v2"}))
		if out := string(stdout) + string(stderr); !strings.Contains(out, "/open-banking-proxy/v2") {
			t.Errorf("the output does not show base_url's path:\n%s", out)
		}
	})
	t.Run("the webhook receiver's path", func(t *testing.T) {
		r := startReceiver(t, t.TempDir())
		req, err := http.NewRequest(http.MethodPost, r.url+"/hooks/"+key, strings.NewReader("{}"))
		st.Must(t, err, "request")
		resp, err := http.DefaultClient.Do(req)
		st.Must(t, err, "POST")
		resp.Body.Close()
		r.stop(t, syscall.SIGTERM)
		if log := r.log(); strings.Contains(log, key) || !strings.Contains(log, `"path":"/hooks/**********"`) {
			t.Errorf("the receiver's log does not show the path with its key masked:\n%s", log)
		}
	})
}

// TestSwappedClientKeysAreMasked: a config with client_id and client_secret
// swapped sends the secret as clientId, and an answer that echoes a
// malformed clientId is quoted by check and read; the secret in it is
// masked there as client_secret is.
func TestSwappedClientKeysAreMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	const secretValue = "sEcr3tV4lueOfTheApp"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ClientID string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 400, "message": "clientId must be a UUID, got " + body.ClientID})
	}))
	t.Cleanup(echo.Close)
	cfg := e.config(map[string]any{"base_url": echo.URL, "client_id": secretValue, "client_secret": "0b5c1e0e-2f0a-4c55-9d1e-7d1c4e2a9f10"})
	for _, args := range [][]string{
		{"check", "--config", cfg},
		{"read", "--config", cfg, "--catalog", e.catalog(false, "accounts")},
	} {
		stdout, stderr, _ := st.Exec(t, e.bin, args...)
		out := string(stdout) + string(stderr)
		if strings.Contains(out, secretValue) {
			t.Errorf("%s printed the secret given as client_id:\n%s", args[0], out)
		}
		if !strings.Contains(out, "clientId must be a UUID") {
			t.Errorf("%s does not quote the answer:\n%s", args[0], out)
		}
	}
}

// TestWebhookServeLogMasksHeaderValues: the receiver's stderr log masks
// the values of its --header flags wherever a line quotes them, as every
// other output of the binary does. An authenticated request whose body
// carries the token in a field (a gateway that copies the request's
// headers into the body) was refused with a line quoting the field's
// value, the token in clear: the receiver logged straight to stderr,
// through no redactor.
func TestWebhookServeLogMasksHeaderValues(t *testing.T) {
	r := startReceiver(t, t.TempDir())
	body := `{"event":"item/updated","eventId":"e1","itemId":"` + hookSecret + `"}`
	if got := r.post(t, body, authHeader); got < 400 {
		t.Fatalf("status %d, want a refusal", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.log(), "refused a webhook body"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the refusal was not logged:\n%s", r.log())
		}
	}
	if strings.Contains(r.log(), hookSecret) || !strings.Contains(r.log(), "**********") {
		t.Fatalf("the receiver's log shows the header value, or nothing masked:\n%s", r.log())
	}
}

// TestWebhookServeLogMasksAQuotedHeaderValue: a token holding a quote or
// a backslash, quoted by Go in the refusal's error (%q) and that again
// escaped by the JSON log line, is masked too. Before, the redactor knew
// the value escaped once either way, not twice.
func TestWebhookServeLogMasksAQuotedHeaderValue(t *testing.T) {
	const token = `Zq"9\x/é<>&Tok-quoted-7c2`
	r := startReceiverArgs(t, t.TempDir(), "--header", "X-Hook-Token="+token)
	item, err := json.Marshal(token)
	st.Must(t, err, "marshal")
	body := `{"event":"item/updated","eventId":"e1","itemId":` + string(item) + `}`
	if got := r.post(t, body, map[string]string{"X-Hook-Token": token}); got < 400 {
		t.Fatalf("status %d, want a refusal", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.log(), "refused a webhook body"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the refusal was not logged:\n%s", r.log())
		}
	}
	if strings.Contains(r.log(), "Tok-quoted-7c2") || !strings.Contains(r.log(), "**********") {
		t.Fatalf("the receiver's log shows the header value, or nothing masked:\n%s", r.log())
	}
}

// TestWebhookServeLogMasksAHeaderValueItCuts: a value the receiver's log
// shows cut (an id a refusal quotes, its first 40 bytes; an ignored
// event's name or eventId, their first 256) is masked before it
// is cut. Cut first, a --header value in it longer than what was shown
// lost its end, the redactor found it no more, and its first bytes went
// to stderr in clear.
func TestWebhookServeLogMasksAHeaderValueItCuts(t *testing.T) {
	const token = "Tok-0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
	r := startReceiverArgs(t, t.TempDir(), "--header", "X-Hook-Token="+token)
	h := map[string]string{"X-Hook-Token": token}
	pad := strings.Repeat("e", 230)
	for _, body := range []string{
		`{"event":"item/updated","eventId":"e1","itemId":"` + token + `"}`,
		`{"event":"transactions/deleted","eventId":"e2","itemId":"` + uuidOf("i") + `","accountId":"` + uuidOf("a") + `","transactionIds":["` + token + `"]}`,
		`{"event":"connector/status_updated","eventId":"` + pad + token + `"}`,
		`{"event":"` + pad + token + `","eventId":"e3"}`,
	} {
		r.post(t, body, h)
	}
	for deadline := time.Now().Add(10 * time.Second); strings.Count(r.log(), "refused a webhook body") < 2 || strings.Count(r.log(), "does not act on") < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not every request was logged:\n%s", r.log())
		}
	}
	if strings.Contains(r.log(), token[:10]) {
		t.Fatalf("the receiver's log shows the start of the header value:\n%s", r.log())
	}
}
