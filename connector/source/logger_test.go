package source

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// TestLogHandler: a slog record becomes one redacted LOG message, the
// stream's attribute in front and the others after as key=value, each key
// once.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	secrets := &secret.Redactor{}
	secrets.Add("s3cret-key")
	w := protocol.NewWriter(&buf, secrets)
	log := slog.New(NewLogHandler(w)).With(StreamKey, "transactions")
	log.Warn("account skipped", "account", "a-1", "reason", "quota spent", "key", "s3cret-key")
	log.WithGroup("http").Debug("retrying", slog.Int("attempt", 2))
	// A partition's logger names the account, and so does the call site.
	log.With("account", "a-1").Warn("spent", "account", "a-1", "requisition", "r-1")
	slog.New(NewLogHandler(w)).Info("plain", "n", 1)
	_ = w.Flush()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m protocol.Message
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.Log == nil {
			t.Fatalf("not a LOG: %s", line)
		}
		got = append(got, string(m.Log.Level)+" "+m.Log.Message)
	}
	want := []string{
		`WARN transactions: account skipped account=a-1 reason="quota spent" key=**********`,
		`DEBUG transactions: retrying http.attempt=2`,
		`WARN transactions: spent account=a-1 requisition=r-1`,
		`INFO plain n=1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
