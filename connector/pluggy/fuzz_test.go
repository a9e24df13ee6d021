package pluggy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// These fuzz targets feed what Pluggy may answer (v2 transactions pages,
// page envelopes, next links) and what a user may hand in (the config, a
// transactions state) through the connector's own code. None may panic or
// loop; each either yields well-formed rows or fails with a classified error.
// Seeds live in testdata/fuzz/<target>/; CI runs each target briefly.

type roundTrip func(*http.Request) *http.Response

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r), nil }

func answer(status int, body []byte) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

// offlineClient is a Client whose transport answers POST /auth with a key
// and every other request with serve, without a network or retries.
func offlineClient(serve func(r *http.Request) []byte) *Client {
	hc := httpclient.New(&secret.Redactor{})
	hc.MaxRetries, hc.MaxRateLimitRetries = 0, 0
	hc.HTTP = &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
		if r.URL.Path == "/auth" {
			return answer(200, []byte(`{"apiKey":"offline-key"}`))
		}
		return answer(200, serve(r))
	})}
	base, _ := url.Parse("http://127.0.0.1:9")
	return NewClient(base, "client-id", "client-secret", hc, hc.Secrets)
}

// strictPage decodes a v2 page the way no reading could disagree on: valid
// UTF-8, exactly the keys results (and a null next), rows that are objects
// with distinct keys, a plain string id, and string createdAt/date if any,
// with no key that differs from those only in case. ok is false for
// anything else; the connector may then accept or refuse, but not panic.
func strictPage(b []byte) (ids []string, ok bool) {
	if !utf8.Valid(b) || !json.Valid(b) {
		return nil, false
	}
	top, ok := objectMembers(b)
	if !ok || top["results"] == nil || len(top) > 2 {
		return nil, false
	}
	if next, has := top["next"]; has && string(next) != "null" {
		return nil, false
	}
	if len(top) == 2 && top["next"] == nil {
		return nil, false
	}
	var rows []json.RawMessage
	if json.Unmarshal(top["results"], &rows) != nil || bytes.TrimSpace(top["results"])[0] != '[' {
		return nil, false
	}
	for _, row := range rows {
		m, ok := objectMembers(row)
		if !ok {
			return nil, false
		}
		for k := range m {
			for _, special := range []string{"id", "createdAt", "date"} {
				if k != special && strings.EqualFold(k, special) {
					return nil, false
				}
			}
		}
		id := m["id"]
		if len(id) < 3 || id[0] != '"' || bytes.IndexByte(id, '\\') >= 0 {
			return nil, false
		}
		for _, k := range []string{"createdAt", "date"} {
			if v, has := m[k]; has && v[0] != '"' {
				return nil, false
			}
		}
		ids = append(ids, string(id[1:len(id)-1]))
	}
	return ids, true
}

// objectMembers returns the members of a JSON object, trimmed, or false if
// b is not an object or repeats a key.
func objectMembers(b []byte) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false
		}
		out[k] = bytes.TrimSpace(v)
	}
	return out, true
}

func FuzzTransactionsPage(f *testing.F) {
	for _, s := range []string{
		`{"results":[{"id":"a","createdAt":"2025-01-01T00:00:00.000Z","date":"2025-01-01T00:00:00.000Z","amount":-1.50}],"next":null}`,
		`{"results":[{"id":"a"},{"id":"b","extra":{"id":"nested"}}],"next":"?accountId=x&after=MjAyNXxh"}`,
		`{"results":[],"next":null}`, `{"results":[{"ID":"a"}],"next":null}`, `{"results":[{"id":7}]}`,
		`{"results":[1,null,"x"]}`, `{"next":null}`, `{"results":{}}`, `[]`, `<html>502</html>`, `{"results":[{"id":"a"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := offlineClient(func(r *http.Request) []byte {
			if r.URL.Query().Get("after") != "" {
				return []byte(`{"results":[],"next":null}`)
			}
			return body
		})
		var got []string
		err := c.eachTransaction(context.Background(), url.Values{"accountId": {"x"}}, func(raw []byte, k txKeys) error {
			trimmed := bytes.TrimSpace(raw)
			if k.ID == "" || len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(raw) {
				t.Fatalf("row %q handed on with id %q", raw, k.ID)
			}
			got = append(got, k.ID)
			return nil
		})
		if err != nil {
			if ft := source.FailureTypeOf(err); ft != protocol.SystemError && ft != protocol.TransientError {
				t.Fatalf("page %q: %s error %v", body, ft, err)
			}
		}
		if want, ok := strictPage(body); ok {
			if err != nil {
				t.Fatalf("page %q refused: %v", body, err)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("page %q gave ids %q, want %q", body, got, want)
			}
		}
	})
}

func FuzzPageEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"page":1,"total":2,"totalPages":1,"results":[{"id":"a"},{"id":"b"}]}`,
		`[{"id":"05000000","description":"Income","parentId":null}]`,
		`{"results":[{"id":"a"}],"totalPages":99999999}`, `{"results":null}`, `{"totalPages":"1"}`, `null`, ``,
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(50))
	}
	f.Fuzz(func(t *testing.T, body []byte, pageSize uint8) {
		requests := 0
		c := offlineClient(func(*http.Request) []byte { requests++; return body })
		n := 0
		err := c.eachPage(context.Background(), "GET /investments", "/investments", nil, int(pageSize), func(raw json.RawMessage) error {
			if !json.Valid(raw) {
				t.Fatalf("row %q is not JSON", raw)
			}
			n++
			return nil
		})
		if err != nil && source.FailureTypeOf(err) == protocol.ConfigError {
			t.Fatalf("page %q: config error %v", body, err)
		}
		// The same page served for every page number stops at the first repeat.
		if requests > 2 {
			t.Fatalf("%d requests for a server that always answers %q", requests, body)
		}
	})
}

func FuzzAfterParam(f *testing.F) {
	for _, s := range []string{
		"?accountId=562b&after=MjAyMC0xMC0xNVQwMDowMDowMC4wMDBafGE4NTM0Yzg1%3D%3D",
		"?after=MjAy+/MC0x==&dateFrom=2025-01-01", "https://api.pluggy.ai/v2/transactions?after=abc", "after=abc", "?after=", "?after=%zz", "?a&&after&after=x",
	} {
		f.Add(s, "2025-01-01T00:00:00.000Z|a8534c85-0000-4000-8000-000000000000")
	}
	f.Fuzz(func(t *testing.T, next, cursorText string) {
		if v, err := afterParam(next); err == nil && v == "" {
			t.Fatalf("afterParam(%q) = empty cursor, no error", next)
		}
		// A base64 cursor (with + / =) comes back whole however it travels.
		cursor := base64.StdEncoding.EncodeToString([]byte(cursorText))
		if cursor == "" {
			return
		}
		for _, link := range []string{
			"?accountId=x&after=" + url.QueryEscape(cursor) + "&dateFrom=2025-01-01",
			"?accountId=x&after=" + cursor,
			"http://127.0.0.1/v2/transactions?after=" + url.PathEscape(cursor),
		} {
			if v, err := afterParam(link); err != nil || v != cursor {
				t.Fatalf("afterParam(%q) = %q, %v; want %q", link, v, err, cursor)
			}
		}
	})
}

func FuzzTransactionsState(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"accounts":{"a":{"created_at":"2026-05-21T03:00:00.000Z","synced_at":"2026-11-21T14:00:00Z"}}}`,
		`{"version":1,"accounts":{"a":null}}`, `{"version":1,"accounts":[]}`, `{"version":2}`, `{}`, `[]`, `"x"`,
		`{"version":1,"accounts":{"a":{"created_at":"2026-13-45T99:00:00Z"}}}`,
	} {
		f.Add([]byte(s))
	}
	s := &transactionsStream{}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = s.CheckState(raw) // must not panic; errors become config_error in the runner
	})
}

// FuzzDiscoverConfig runs `discover` (no network) on any config file: the
// runner must answer with protocol messages only, never crash, and never
// print the config's client_secret.
func FuzzDiscoverConfig(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"id","client_secret":"s3cret-value","item_ids":["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"]}`,
		`{"client_id":"id","client_secret":"s3cret-value","item_ids":"d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5, x"}`,
		`{"client_id":"id","client_secret":"s3cret-value","item_ids":["x"],"base_url":"https://u:s3cret-value@h"}`,
		`{"client_id":"id","client_secret":["s3cret-value"],"item_ids":[],"lookback_days":1e400}`,
		`{"client_id":"id","client_secret":"s3cret-value","item_ids":["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"],"start_date":"2025-02-30","max_retries":-1}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	r := &source.Runner{Source: Source{}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		file, err := os.CreateTemp(dir, "config-*.json")
		if err != nil {
			t.Fatal(err)
		}
		path := file.Name()
		defer os.Remove(path)
		_, _ = file.Write(raw)
		file.Close()
		var stdout, stderr bytes.Buffer
		code := r.Run(context.Background(), []string{"discover", "--config", path}, &stdout, &stderr)
		if code != source.ExitOK && code != source.ExitFail {
			t.Fatalf("exit %d for %q", code, raw)
		}
		// Every text the connector writes; the CATALOG is its own schemas
		// (a secret spelled like a stream name would be found there).
		out := stderr.String()
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			var m protocol.Message
			if json.Unmarshal([]byte(line), &m) != nil || m.Type == "" {
				t.Fatalf("not a protocol message: %q (config %q)", line, raw)
			}
			if m.Type != protocol.TypeCatalog {
				out += line + "\n"
			}
		}
		if strings.Contains(out, "crashed") {
			t.Fatalf("crash on %q:\n%s", raw, out)
		}
		var obj map[string]any
		if json.Unmarshal(raw, &obj) == nil {
			if s, ok := obj["client_secret"].(string); ok && len(s) >= 6 && !strings.Contains(secret.Mask, s) && strings.Contains(out, s) {
				t.Fatalf("client_secret %q printed:\n%s", s, out)
			}
		}
	})
}

// The corpora must be where `go test -fuzz` looks for them.
func TestFuzzCorporaPresent(t *testing.T) {
	for _, target := range []string{"FuzzTransactionsPage", "FuzzPageEnvelope", "FuzzAfterParam", "FuzzTransactionsState", "FuzzDiscoverConfig"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		if err != nil || len(entries) == 0 {
			t.Errorf("no seed corpus for %s: %v", target, err)
		}
	}
}
