package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectWriteKeepsAByteOrderMark: a config saved with a UTF-8 byte
// order mark (Windows Notepad) is read by check, read and connect; connect
// --write added the requisition to it too, where it linked the bank and
// then failed with "not a JSON object", the link left for the user to add
// by hand. The mark and the other fields are kept.
func TestConnectWriteKeepsAByteOrderMark(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	plain, err := os.ReadFile(e.configFile())
	st.Must(t, err, "config")
	cfg := st.WriteFile(t, "bom.json", append([]byte("\uFEFF"), plain...))
	p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--institution", "LHV_LHVBEE22", "--write")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"action": {"approve"}, "account": {"0", "1"}})
	st.Must(t, err, "consent at the bank")
	resp.Body.Close()
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect --write of a config with a byte order mark exited %d: %s", code, p.Stderr())
	}
	r := parseResult(t, p)
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	if !bytes.HasPrefix(raw, []byte("\uFEFF")) {
		t.Errorf("--write dropped the byte order mark:\n%q", raw)
	}
	var before, after map[string]any
	st.Must(t, json.Unmarshal(plain, &before), "config before")
	st.Must(t, json.Unmarshal(bytes.TrimPrefix(raw, []byte("\uFEFF")), &after), "config after --write")
	ids, _ := after["requisition_ids"].([]any)
	if len(ids) == 0 || ids[len(ids)-1] != r.RequisitionID || len(after) != len(before) || after["secret_key"] != before["secret_key"] {
		t.Errorf("config after --write:\n%s", raw)
	}
}
