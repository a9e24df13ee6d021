package pluggy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// DemoCommand is `source-pluggy demo`: a complete run against the embedded
// fake Pluggy API, with no credentials. It does a first incremental read of
// every stream, makes the fake change the way Pluggy does (new rows,
// back-dated rows, pending rows re-posted under new ids, in-place updates),
// reads again from the saved state, and prints what each read found. The
// files it writes are the ones a user would pass by hand.
func DemoCommand(r *source.Runner) source.Command {
	return source.Command{
		Name:    "demo",
		Summary: "run a complete demo against an embedded fake Pluggy API (no credentials)",
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return runDemo(ctx, r, args, stdout, stderr)
		},
	}
}

func runDemo(ctx context.Context, r *source.Runner, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the demo's config, catalog, state and output files (default: a new temporary directory)")
	items := fs.Int("items", 2, "items the fake serves")
	txns := fs.Int("transactions", 120, "transactions per account")
	extra := fs.StringArray("read-flag", nil, "extra flag passed to both reads, e.g. --read-flag=--parquet-dir=/tmp/pq (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return source.ExitOK
		}
		return source.ExitUsage
	}
	if err := demo(ctx, r, *out, *items, *txns, *extra, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return source.ExitFail
	}
	return source.ExitOK
}

func demo(ctx context.Context, r *source.Runner, dir string, items, txns int, extra []string, stdout, stderr io.Writer) error {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "source-pluggy-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f := fake.New(fake.Options{Items: items, TransactionsPerAccount: txns, ItemStatuses: []string{"UPDATED", "OUTDATED"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the fake Pluggy API: %w", err)
	}
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	cfg := map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(),
		"item_ids": strings.Join(f.ItemIDs(), ","), "base_url": base,
		"lookback_days": 7, "requests_per_minute": 0,
	}
	files := map[string]string{
		"config": filepath.Join(dir, "config.json"), "catalog": filepath.Join(dir, "catalog.json"),
		"state": filepath.Join(dir, "state.json"), "run1": filepath.Join(dir, "run1.jsonl"), "run2": filepath.Join(dir, "run2.jsonl"),
	}
	if err := writeJSON(files["config"], cfg); err != nil {
		return err
	}
	// The file keeps item_ids as one comma-separated string, as Actual Budget
	// users have them; Open takes the normalised list the runtime would pass.
	openCfg := map[string]any{"client_id": "demo", "client_secret": "demo", "item_ids": f.ItemIDs()}
	conn, err := Source{}.Open(ctx, mustJSON(openCfg), source.Env{})
	if err != nil {
		return err
	}
	if err := writeJSON(files["catalog"], source.Configure(conn.Streams(), true)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "source-pluggy demo: a fake Pluggy API on %s serves %d items (one OUTDATED); files in %s\n\n", base, items, dir)

	read := func(outFile string, withState bool) (*source.Summary, error) {
		args := []string{"read", "--config", files["config"], "--catalog", files["catalog"]}
		if withState {
			args = append(args, "--state", files["state"])
		}
		args = append(args, extra...)
		var buf bytes.Buffer
		code := r.Run(ctx, args, &buf, stderr)
		if err := os.WriteFile(outFile, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		var sum amountSum
		s, err := source.Summarize(bytes.NewReader(buf.Bytes()), sum.add)
		if err != nil {
			return nil, err
		}
		if code != source.ExitOK {
			return s, fmt.Errorf("read exited %d: %s", code, strings.Join(s.Errors, "; "))
		}
		printSummary(stdout, s, &sum)
		st, err := s.StateFile()
		if err != nil {
			return nil, err
		}
		return s, os.WriteFile(files["state"], st, 0o644)
	}

	fmt.Fprintf(stdout, "1. First sync (incremental, from start_date):\n   source-pluggy read --config %s --catalog %s > %s\n", files["config"], files["catalog"], files["run1"])
	if _, err := read(files["run1"], false); err != nil {
		return err
	}
	added := f.AddNew(3)
	backdated := f.AddBackdated(2, 40*24*time.Hour)
	oldIDs, newIDs := f.PostPending(2)
	updated := f.UpdateInPlace(2)
	fmt.Fprintf(stdout, "\n   Meanwhile Pluggy changes: %d new rows, %d rows back-dated 40 days, %d pending rows re-posted under new ids (old: %s), %d rows updated in place.\n\n",
		len(added), len(backdated), len(newIDs), strings.Join(short(oldIDs), ", "), len(updated))

	fmt.Fprintf(stdout, "2. Next sync from the saved state:\n   source-pluggy read --config %s --catalog %s --state %s > %s\n", files["config"], files["catalog"], files["state"], files["run2"])
	if _, err := read(files["run2"], true); err != nil {
		return err
	}
	got := map[string]bool{}
	_, _ = source.Summarize(mustOpen(files["run2"]), func(stream string, data json.RawMessage) {
		if stream == "transactions" {
			var k txKeys
			_ = json.Unmarshal(data, &k)
			got[k.ID] = true
		}
	})
	check := func(what string, ids []string) {
		n := 0
		for _, id := range ids {
			if got[id] {
				n++
			}
		}
		mark := "ok"
		if n != len(ids) {
			mark = "MISSING"
		}
		fmt.Fprintf(stdout, "   %-32s %d of %d found  %s\n", what, n, len(ids), mark)
	}
	fmt.Fprintln(stdout, "\n   What the second sync caught:")
	check("new rows", added)
	check("back-dated rows", backdated)
	check("re-posted pending rows (new ids)", newIDs)
	check("rows updated in place", updated)
	fmt.Fprintf(stdout, "\nNext: `source-pluggy discover --config %s`, or point the config at https://api.pluggy.ai with your own keys.\n", files["config"])
	return nil
}

// amountSum adds transaction amounts in exact cents, to show that nothing
// went through a float on the way.
type amountSum struct {
	cents   int64
	inexact int
}

func (a *amountSum) add(stream string, data json.RawMessage) {
	if stream != "transactions" {
		return
	}
	var row struct {
		Amount json.Number `json:"amount"`
	}
	if json.Unmarshal(data, &row) != nil || row.Amount == "" {
		return
	}
	c, ok := cents(string(row.Amount))
	if !ok {
		a.inexact++
		return
	}
	a.cents += c
}

// cents parses a decimal with at most two fraction digits exactly.
func cents(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 || whole == "" {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	var v int64
	for _, ch := range whole + frac {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + int64(ch-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func printSummary(w io.Writer, s *source.Summary, sum *amountSum) {
	for _, name := range s.Order {
		fmt.Fprintf(w, "   %-14s %6d records\n", name, s.Records[name])
	}
	if s.Records["transactions"] > 0 {
		sign := ""
		c := sum.cents
		if c < 0 {
			sign, c = "-", -c
		}
		fmt.Fprintf(w, "   sum of the amounts of the transactions read: %s%d.%02d (exact decimal arithmetic)\n", sign, c/100, c%100)
	}
	for _, msg := range s.Warnings {
		fmt.Fprintf(w, "   WARN %s\n", msg)
	}
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(8, len(id))] + "…"
	}
	return out
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func mustOpen(path string) io.Reader {
	b, _ := os.ReadFile(path)
	return bytes.NewReader(b)
}
