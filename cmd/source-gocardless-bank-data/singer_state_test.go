package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestMeltanoMergedSentinelResumes: Meltano merges the STATE values of a
// run that failed into the last complete state at depth, so a stream read
// FULL_TABLE in that run (its bookmark the no-cursor sentinel) keeps its
// incremental bookmark with the sentinel inside. The next run resumes from
// that bookmark, where every incremental stream's state was refused as not
// one this connector wrote, at every run until the user edited it.
func TestMeltanoMergedSentinelResumes(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1})
	tap := st.TapLink(t, e.bin, "tap-gocardless-bank-data")
	config := e.config(nil)
	out, stderr, code := st.Exec(t, tap, "--config", config)
	if code != 0 {
		t.Fatalf("first sync exited %d: %s", code, stderr)
	}
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte(`{"type":"STATE"`)) {
			last = append(last[:0], sc.Bytes()...)
		}
	}
	var msg struct {
		Value struct {
			Bookmarks map[string]map[string]any `json:"bookmarks"`
		} `json:"value"`
	}
	st.Must(t, json.Unmarshal(last, &msg), "last STATE")
	merged := 0
	for name, bm := range msg.Value.Bookmarks {
		if _, sentinel := bm["__ab_no_cursor_state_message"]; !sentinel {
			bm["__ab_no_cursor_state_message"] = true // what Meltano's merge makes of it
			merged++
		}
		msg.Value.Bookmarks[name] = bm
	}
	if merged == 0 {
		t.Fatalf("no incremental bookmark in %s", last)
	}
	state := st.WriteFile(t, "state.json", map[string]any{"singer_state": msg.Value})
	_, stderr, code = st.Exec(t, tap, "--config", config, "--state", state)
	if code != 0 || strings.Contains(string(stderr), "not one this connector wrote") {
		t.Errorf("from the merged state: exit %d\n%s", code, stderr)
	}
}
