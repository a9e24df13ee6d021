package enablebanking

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Config is source-enablebanking's config, already validated against
// spec.json.
type Config struct {
	ApplicationID  string   `json:"application_id"`
	PrivateKey     string   `json:"private_key"`
	PrivateKeyPath string   `json:"private_key_path"`
	SessionIDs     []string `json:"session_ids"`
	// AccountUIDs restricts the read to these accounts (uid or
	// identification_hash).
	AccountUIDs    []string `json:"account_uids"`
	BaseURL        string   `json:"base_url"`
	StartDate      string   `json:"start_date"`
	LookbackDays   *int     `json:"lookback_days"`
	IncludePending bool     `json:"include_pending"`
	DailyLimit     *int     `json:"daily_limit"`
	Attended       bool     `json:"attended"`
	PSUIPAddress   string   `json:"psu_ip_address"`
	PSUUserAgent   string   `json:"psu_user_agent"`
	// HTTPTimeoutSeconds bounds one request attempt; 0: DefaultHTTPTimeout.
	HTTPTimeoutSeconds int `json:"http_timeout_seconds"`
}

// Defaults, also stated in spec.json.
const (
	DefaultBaseURL      = "https://api.enablebanking.com"
	DefaultLookbackDays = 7
	DefaultDailyLimit   = 4
	// DefaultStartDays is how far back a first sync reads without
	// start_date: what banks commonly give without a fresh consent.
	DefaultStartDays = 90
	// DefaultHTTPTimeout is the seconds one request attempt may take,
	// headers and body included.
	DefaultHTTPTimeout = 60
)

// settings is Config resolved: defaults applied, the key parsed.
type settings struct {
	Config
	base      *url.URL
	key       *rsa.PrivateKey
	startDate time.Time // zero: DefaultStartDays before the run
	lookback  int
	limit     int
	// only is AccountUIDs as a set; nil reads every account.
	only map[string]bool
}

func parseConfig(raw json.RawMessage, secrets *secret.Redactor) (*settings, error) {
	var c Config
	if err := source.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	s := &settings{Config: c, lookback: DefaultLookbackDays, limit: DefaultDailyLimit}
	if s.HTTPTimeoutSeconds == 0 {
		s.HTTPTimeoutSeconds = DefaultHTTPTimeout
	}
	s.ApplicationID = strings.ToLower(strings.TrimSpace(c.ApplicationID))
	if s.BaseURL == "" {
		s.BaseURL = DefaultBaseURL
	}
	base, err := source.ParseBaseURL(s.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	s.base = base
	if s.key, err = loadKey(c, secrets); err != nil {
		return nil, err
	}
	if s.StartDate != "" {
		if s.startDate, err = time.Parse(time.DateOnly, s.StartDate); err != nil {
			return nil, source.InvalidConfigf("config.start_date: %q is not a date; write it as YYYY-MM-DD, e.g. 2025-01-31", s.StartDate)
		}
	}
	if c.LookbackDays != nil {
		s.lookback = *c.LookbackDays
	}
	if c.DailyLimit != nil {
		s.limit = *c.DailyLimit
	}
	if c.Attended {
		if net.ParseIP(strings.TrimSpace(c.PSUIPAddress)) == nil {
			return nil, source.InvalidConfigf("config.psu_ip_address: attended is true, so the account holder's IP address must be given (got %q); or set attended to false for a scheduled run", c.PSUIPAddress)
		}
		if strings.TrimSpace(c.PSUUserAgent) == "" {
			return nil, source.InvalidConfigf("config.psu_user_agent: attended is true, so the account holder's browser user agent must be given; or set attended to false for a scheduled run")
		}
	}
	s.SessionIDs = source.UniqueIDs(s.SessionIDs)
	if ids := source.UniqueIDs(s.AccountUIDs); len(ids) > 0 {
		s.AccountUIDs = ids
		s.only = map[string]bool{}
		for _, id := range ids {
			s.only[id] = true
		}
	}
	return s, nil
}

// loadKey parses the application's private key from private_key or
// private_key_path. Messages never quote the key.
func loadKey(c Config, secrets *secret.Redactor) (*rsa.PrivateKey, error) {
	field, text := "config.private_key", c.PrivateKey
	switch {
	case c.PrivateKey != "" && c.PrivateKeyPath != "":
		return nil, source.InvalidConfigf("config.private_key and config.private_key_path are both set; keep one")
	case c.PrivateKey == "" && c.PrivateKeyPath == "":
		return nil, source.InvalidConfigf("config.private_key: no private key; put the application's PEM private key in private_key, or its file's path in private_key_path")
	case strings.Contains(c.PrivateKeyPath, "-----BEGIN") || strings.Contains(c.PrivateKeyPath, "PRIVATE KEY"):
		// The key pasted into the path field: never quoted back, not
		// even as the name of a file that cannot be read.
		secrets.Add(c.PrivateKeyPath)
		return nil, source.InvalidConfigf("config.private_key_path holds a PEM key itself, not a file's path: put the key in private_key instead (or the path of its file in private_key_path)")
	case c.PrivateKeyPath != "":
		field = "config.private_key_path"
		b, err := os.ReadFile(c.PrivateKeyPath)
		if err != nil {
			if wd, werr := os.Getwd(); werr == nil && !filepath.IsAbs(c.PrivateKeyPath) {
				// A relative path is the working directory's, not the
				// config file's: what a job started elsewhere (cron)
				// trips on.
				return nil, source.InvalidConfigf("config.private_key_path: cannot read the key file %s (%q is relative, so it is read from the working directory %s): %v; give its absolute path",
					filepath.Join(wd, c.PrivateKeyPath), c.PrivateKeyPath, wd, errors.Unwrap(err))
			}
			return nil, source.InvalidConfigf("config.private_key_path: cannot read the key file %s: %v", c.PrivateKeyPath, errors.Unwrap(err))
		}
		text = string(b)
		secrets.Add(text)
	}
	// A key pasted into a JSON field often has its newlines as "\n" text;
	// a file saved by Windows Notepad starts with a byte order mark, which
	// hides the armour's first line from the PEM decoder.
	text = strings.TrimSpace(strings.TrimPrefix(strings.ReplaceAll(text, `\n`, "\n"), "\uFEFF"))
	secrets.Add(text)
	block, err := privateKeyBlock(field, text)
	if err != nil {
		return nil, err
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(block)
	if err != nil && field == "config.private_key" && looksLikePath(text) {
		return nil, source.InvalidConfigf("config.private_key holds a file path, not a PEM key: give the path as private_key_path instead (and drop private_key), or paste the key itself into private_key")
	}
	if err != nil {
		why := "it is not a PEM-encoded RSA private key"
		if errors.Is(err, jwt.ErrNotRSAPrivateKey) {
			why = "it is a PEM key, but not an RSA private key (Enable Banking signs with RS256)"
		}
		return nil, source.InvalidConfigf("%s: %s; use the private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) of the application whose id is application_id", field, why)
	}
	return key, nil
}

// privateKeyBlock returns the private key's PEM block of text, which may
// hold other blocks around it (a certificate bundled before the key). A key
// encrypted with a passphrase, and a file holding only a public key or a
// certificate (the other halves Enable Banking's application page deals
// in), are config errors saying so and how to get the key connect can
// use: the generic "not a private key" sent users to the file they had.
// Text with no PEM block at all is returned whole, for the caller's own
// message.
func privateKeyBlock(field, text string) ([]byte, error) {
	rest := []byte(text)
	if b, _ := pem.Decode(rest); b == nil {
		if joined := rebreak(text); joined != nil {
			rest = joined
		}
	}
	var others []string
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, source.InvalidConfigf("%s: the private key is encrypted with a passphrase, which the connector cannot ask for; decrypt it once into a file only you can read (openssl pkey -in KEY.pem -out KEY-plain.pem) and use that one", field)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return pem.EncodeToMemory(b), nil
		default:
			others = append(others, "BEGIN "+b.Type)
		}
	}
	if len(others) > 0 {
		return nil, source.InvalidConfigf("%s holds no private key, only %s: that is the public half (or a certificate), which Enable Banking keeps; use the application's private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY), the .pem file downloaded when the application was registered", field, strings.Join(others, ", "))
	}
	return []byte(text), nil
}

// flatPEM is PEM armour whose line breaks were lost: a key put through a
// one-line field or variable (an .env file, docker run -e) keeps its
// armour lines and body with spaces between them, or with nothing.
var flatPEM = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]+)-----END ([A-Z0-9 ]+)-----`)

// rebreak returns the PEM blocks of text whose line breaks were lost,
// each given its own lines again, or nil when text has none. The body
// is base64, which spaces never belong to: dropping them is lossless.
func rebreak(text string) []byte {
	var out []byte
	for _, m := range flatPEM.FindAllStringSubmatch(text, -1) {
		if m[1] != m[3] {
			continue
		}
		body, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(m[2]), ""))
		if err != nil {
			continue
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: m[1], Bytes: body})...)
	}
	return out
}

// looksLikePath says whether a private_key value that is no PEM key is a
// file's path: one line without PEM armour that ends in a key file's
// extension or starts as a path does.
func looksLikePath(s string) bool {
	if strings.ContainsAny(s, "\n") || strings.Contains(s, "-----") {
		return false
	}
	switch strings.ToLower(filepath.Ext(s)) {
	case ".pem", ".key":
		return true
	}
	for _, p := range []string{"/", "~/", "./", "../", `.\`, `..\`} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return len(s) > 2 && s[1] == ':' && (s[2] == '\\' || s[2] == '/') // C:\keys\app.pem
}

// NormalizeConfig accepts session_ids and account_uids as one
// comma-separated string each.
func (Source) NormalizeConfig(cfg map[string]any) {
	source.SplitListField(cfg, "session_ids")
	source.SplitListField(cfg, "account_uids")
}
