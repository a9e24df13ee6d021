package singer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// testSource is a provider with no network: "widgets" is incremental on
// "updated" and checkpoints after every second record; "colors" is full
// refresh only. Config {"fail": "colors"} makes that stream fail, with the
// api_key in the error so redaction is exercised.
type testSource struct {
	widgets []string // raw widget records, in cursor order
}

var testSpec = json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","title":"Test API","type":"object",
"required":["api_key"],"properties":{
 "api_key":{"type":"string","airbyte_secret":true,"description":"The key.","order":0},
 "fail":{"type":"string","description":"A stream to fail.","order":1}}}`)

func (testSource) Name() string { return "source-test" }
func (testSource) Spec() protocol.Spec {
	return protocol.Spec{ConnectionSpecification: testSpec}
}

func (s testSource) Open(_ context.Context, raw json.RawMessage, env source.Env) (source.Conn, error) {
	var cfg struct {
		APIKey string `json:"api_key"`
		Fail   string `json:"fail"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	return &testConn{src: s, key: cfg.APIKey, fail: cfg.Fail}, nil
}

type testConn struct {
	src  testSource
	key  string
	fail string
}

func (c *testConn) Check(context.Context) error { return nil }
func (c *testConn) Close() error                { return nil }
func (c *testConn) Streams() []source.Stream {
	return []source.Stream{&widgets{c}, &colors{c}}
}

type widgets struct{ c *testConn }

func (*widgets) Name() string { return "widgets" }
func (*widgets) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","required":["id","name"],"properties":{
 "id":{"type":"integer"},"updated":{"type":"string"},"name":{"type":["string","null"]},
 "price":{"type":["number","null"]},
 "made":{"type":["string","null"],"format":"date-time"},"day":{"type":["string","null"],"format":"date"},
 "meta":{"type":["object","null"],"required":["b"],"properties":{"a":{"type":"string"},"b":{"type":"string"}}}}}`)
}
func (*widgets) PrimaryKey() [][]string { return [][]string{{"id"}} }
func (*widgets) CursorField() []string  { return []string{"updated"} }

type widgetState struct {
	Updated string `json:"updated"`
}

func (w *widgets) CheckState(raw json.RawMessage) error {
	var st widgetState
	if err := json.Unmarshal(raw, &st); err != nil || st.Updated == "" {
		return fmt.Errorf("widgets state needs \"updated\"")
	}
	return nil
}

func (w *widgets) Read(_ context.Context, req source.ReadRequest, out source.Output) error {
	var st widgetState
	if req.State != nil {
		_ = json.Unmarshal(req.State, &st)
	}
	n := 0
	for _, raw := range w.c.src.widgets {
		var r struct {
			Updated json.RawMessage `json:"updated"`
		}
		_ = json.Unmarshal([]byte(raw), &r)
		// A cursor of another type (a number) counts by its text.
		updated := strings.Trim(string(r.Updated), `"`)
		if updated <= st.Updated {
			continue
		}
		if err := out.Record(jsonrow.Of([]byte(raw))); err != nil {
			return err
		}
		st.Updated = updated
		if n++; n%2 == 0 {
			if err := out.Checkpoint(st); err != nil {
				return err
			}
		}
	}
	if st.Updated == "" {
		st.Updated = "0"
	}
	return out.Checkpoint(st)
}

type colors struct{ c *testConn }

func (*colors) Name() string { return "colors" }
func (*colors) Schema() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"hex":{"type":"string"}}}`)
}
func (*colors) PrimaryKey() [][]string { return [][]string{{"id"}} }
func (*colors) CursorField() []string  { return nil }
func (c *colors) Read(_ context.Context, _ source.ReadRequest, out source.Output) error {
	for _, r := range []string{`{"id":"red","hex":"#f00"}`, `{"id":"green","hex":"#0f0"}`} {
		if err := out.Record(jsonrow.Of([]byte(r))); err != nil {
			return err
		}
	}
	if c.c.fail == "colors" {
		return source.TransientErrorf("colors API down (key %s)", c.c.key)
	}
	return nil
}

const testKey = "sekret-key-123"

func newTestRunner(widgets ...string) *source.Runner {
	if widgets == nil {
		widgets = defaultWidgets
	}
	r := &source.Runner{Source: testSource{widgets: widgets}}
	r.Extra = []source.Command{Command(r, "tap-test")}
	return r
}

var defaultWidgets = []string{
	`{"id":1,"updated":"2024-01-01","name":"one","price":10.10,"meta":{"a":"x","b":"y"}}`,
	`{"id":2,"updated":"2024-01-02","name":"two <&>","price":0.30,"meta":null}`,
	`{"id":3,"updated":"2024-01-03","name":null,"price":1e2,"meta":{"b":"only b"}}`,
	`{"id":4,"updated":"2024-01-04","name":"four","price":null}`,
	`{"id":5,"updated":"2024-01-05","name":"five","price":-7.25,"meta":{"a":"á","b":"ü"}}`,
}

func writeFile(t *testing.T, name string, v any) string {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		if s, isStr := v.(string); isStr {
			b = []byte(s)
		} else {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(t *testing.T, extra map[string]any) string {
	c := map[string]any{"api_key": testKey}
	for k, v := range extra {
		c[k] = v
	}
	return writeFile(t, "config.json", c)
}
