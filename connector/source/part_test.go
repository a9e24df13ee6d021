package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPartIsTakenOnce(t *testing.T) {
	p := NewPart([]int{1, 2}, true)
	v, err := p.Take()
	if err != nil || !slices.Equal(v, []int{1, 2}) {
		t.Fatalf("first Take: %v, %v", v, err)
	}
	if p.v != nil {
		t.Error("the part still holds its value after it was taken")
	}
	if v, err := p.Take(); !errors.Is(err, ErrPartGone) || v != nil {
		t.Fatalf("second Take: %v, %v; want ErrPartGone", v, err)
	}
	dropped := NewPart([]int{3}, false)
	if dropped.v != nil {
		t.Error("a part no stream reads holds its value")
	}
	if _, err := dropped.Take(); !errors.Is(err, ErrPartGone) {
		t.Fatalf("Take of a dropped part: %v; want ErrPartGone", err)
	}
}

// planSource's conn records the plan the runtime tells it.
type planSource struct {
	fuzzSource
	conn *planConn
}

func (s planSource) Open(context.Context, json.RawMessage, Env) (Conn, error) { return s.conn, nil }

type planConn struct {
	Plan
	told [][]string
}

func (c *planConn) PlanRead(streams []string) {
	c.told = append(c.told, slices.Clone(streams))
	c.Plan.PlanRead(streams)
}
func (c *planConn) Check(context.Context) error { return nil }
func (c *planConn) Close() error                { return nil }
func (c *planConn) Streams() []Stream {
	return []Stream{emptyStream("a"), emptyStream("b"), emptyStream("c")}
}

type emptyStream string

func (s emptyStream) Name() string                                    { return string(s) }
func (s emptyStream) Schema() json.RawMessage                         { return json.RawMessage(`{"type":"object"}`) }
func (s emptyStream) PrimaryKey() [][]string                          { return nil }
func (s emptyStream) CursorField() []string                           { return nil }
func (s emptyStream) Read(context.Context, ReadRequest, Output) error { return nil }

// A read tells a ReadPlanner the catalog's streams, in the catalog's
// order, before it reads any of them.
func TestReadTellsThePlan(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	catalog := filepath.Join(dir, "catalog.json")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(config, []byte(`{"token":"t","ids":["x"]}`), 0o600))
	stream := func(name string) string {
		return `{"stream":{"name":"` + name + `","json_schema":{"type":"object"},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}`
	}
	must(os.WriteFile(catalog, []byte(`{"streams":[`+stream("c")+`,`+stream("a")+`]}`), 0o600))
	conn := &planConn{}
	var stdout, stderr bytes.Buffer
	if code := (&Runner{Source: planSource{conn: conn}}).Run(context.Background(), []string{"read", "--config", config, "--catalog", catalog}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("read exited %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if len(conn.told) != 1 || !slices.Equal(conn.told[0], []string{"c", "a"}) {
		t.Fatalf("the conn was told %q, want once [c a]", conn.told)
	}
	if !conn.Reads("a") || conn.Reads("b") || !conn.Reads("c") {
		t.Error("Plan.Reads does not follow the plan")
	}
	if !(&Plan{}).Reads("b") {
		t.Error("a Plan never told must read every stream")
	}
}
