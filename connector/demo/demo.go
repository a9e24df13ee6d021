// Package demo is the scaffolding of the fakes' demo command (`go run
// ./cmd/fake-pluggy demo` and its likes): a complete run of a connector's
// own runtime, in-process, against its fake API, with no credentials. It
// lives with the fakes, not in the connector binaries, so that no product
// binary links a fake.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/fakeserver"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Demo is one run of a demo: a complete run against an in-process fake
// API, with no credentials, writing the files a user would pass by hand
// (config.json, catalog.json, state.json and each read's output,
// run1.jsonl, run2.jsonl, …) and printing what each read found. The reads
// go through Runner, the connector binary's own runtime (its read command,
// output flags and sinks), exactly as the binary would run them. The fake's
// demo supplies the fake, the config and what to change between reads.
type Demo struct {
	Runner *source.Runner
	// Dir holds the demo's files.
	Dir            string
	Stdout, Stderr io.Writer
	// ReadFlags are passed to every read (--read-flag).
	ReadFlags []string
}

// Command makes the demo command of a fake binary, reading with r (the
// connector binary's runner, see cli.Binary.Runner): it parses --out and
// --read-flag, plus the flags define adds (nil for none), makes the
// directory and calls run.
func Command(r *source.Runner, summary string, define func(fs *pflag.FlagSet), run func(ctx context.Context, d *Demo) error) fakeserver.Command {
	return fakeserver.Command{
		Name:    "demo",
		Summary: summary,
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
			fs.SetOutput(stderr)
			out := fs.String("out", "", "directory for the demo's config, catalog, state and output files (default: a new temporary directory)")
			extra := fs.StringArray("read-flag", nil, "extra flag passed to every read, e.g. --read-flag=--parquet-dir=/tmp/pq (repeatable)")
			if define != nil {
				define(fs)
			}
			if err := fs.Parse(args); err != nil {
				if errors.Is(err, pflag.ErrHelp) {
					return source.ExitOK
				}
				return source.ExitUsage
			}
			if fs.NArg() > 0 {
				fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
				return source.ExitUsage
			}
			d := &Demo{Runner: r, Dir: *out, Stdout: stdout, Stderr: stderr, ReadFlags: *extra}
			err := d.makeDir()
			if err == nil {
				err = run(ctx, d)
			}
			if err != nil {
				fmt.Fprintf(stderr, "demo: %v\n", err)
				return source.ExitFail
			}
			return source.ExitOK
		},
	}
}

func (d *Demo) makeDir() error {
	if d.Dir == "" {
		dir, err := os.MkdirTemp("", d.Runner.Source.Name()+"-demo-")
		d.Dir = dir
		return err
	}
	return os.MkdirAll(d.Dir, 0o700)
}

// Path is the path of a file of the demo.
func (d *Demo) Path(name string) string { return filepath.Join(d.Dir, name) }

// Serve serves h (the fake API) on a loopback port and returns its base URL
// and a function that stops it.
func (d *Demo) Serve(h http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the fake API: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ErrServerClosed once the demo is done
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// Setup writes config.json and catalog.json: every stream, incremental
// where it can be.
func (d *Demo) Setup(ctx context.Context, cfg map[string]any) error {
	if err := writeIndented(d.Path("config.json"), cfg); err != nil {
		return err
	}
	norm := map[string]any{}
	for k, v := range cfg {
		norm[k] = v
	}
	if n, ok := d.Runner.Source.(source.ConfigNormalizer); ok {
		n.NormalizeConfig(norm)
	}
	raw, _ := json.Marshal(norm)
	conn, err := d.Runner.Source.Open(ctx, raw, source.Env{})
	if err != nil {
		return err
	}
	defer conn.Close()
	return writeIndented(d.Path("catalog.json"), source.Configure(conn.Streams(), true))
}

// ReadCommand is the command line of read n, as the user would type it.
func (d *Demo) ReadCommand(n int) string {
	s := fmt.Sprintf("%s read --config %s --catalog %s", d.Runner.Source.Name(), d.Path("config.json"), d.Path("catalog.json"))
	if n > 1 {
		s += " --state " + d.Path("state.json")
	}
	return fmt.Sprintf("%s > %s", s, d.Path(fmt.Sprintf("run%d.jsonl", n)))
}

// Read runs read n (the first without state, later ones from state.json),
// keeps its output in run<n>.jsonl, prints how many records each stream had
// and the warnings, and saves the state for the next read (a failed read's
// too, as the platform commits it). fn, if not nil, sees every record. A
// read that exits non-zero is an error, returned with its summary.
func (d *Demo) Read(ctx context.Context, n int, fn func(stream string, data json.RawMessage)) (*source.Summary, error) {
	args := []string{"read", "--config", d.Path("config.json"), "--catalog", d.Path("catalog.json")}
	if n > 1 {
		args = append(args, "--state", d.Path("state.json"))
	}
	args = append(args, d.ReadFlags...)
	var buf bytes.Buffer
	code := d.Runner.Run(ctx, args, &buf, d.Stderr)
	if err := os.WriteFile(d.Path(fmt.Sprintf("run%d.jsonl", n)), buf.Bytes(), 0o600); err != nil {
		return nil, err
	}
	s, err := source.Summarize(bytes.NewReader(buf.Bytes()), fn)
	if err != nil {
		return nil, err
	}
	for _, name := range s.Order {
		fmt.Fprintf(d.Stdout, "   %-24s %6d records\n", name, s.Records[name])
	}
	for _, msg := range s.Warnings {
		fmt.Fprintf(d.Stdout, "   WARN %s\n", msg)
	}
	st, err := s.StateFile()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.Path("state.json"), st, 0o600); err != nil {
		return nil, err
	}
	if code != source.ExitOK {
		return s, fmt.Errorf("read exited %d: %s", code, strings.Join(s.Errors, "; "))
	}
	return s, nil
}

// TolerateSkippedSnapshot is for a demo's read (s and err from Read) in
// which an account's daily limit is spent on purpose: a read that failed
// only because pending_transactions, a full-refresh stream, ended
// INCOMPLETE without that account (see source.SkippedPart) is said so and not an
// error. Any other failure is returned.
func (d *Demo) TolerateSkippedSnapshot(s *source.Summary, err error) error {
	if err == nil || s == nil || !slices.Equal(s.Incomplete, []string{"pending_transactions"}) {
		return err
	}
	fmt.Fprintln(d.Stdout, "   pending_transactions ends INCOMPLETE and the read exits 1: a full-refresh snapshot without the skipped account would empty its pending rows in an overwrite destination")
	return nil
}

// Expect prints whether every id in want was among got, and reports it.
func (d *Demo) Expect(what string, want []string, got map[string]bool) bool {
	n := 0
	for _, id := range want {
		if got[id] {
			n++
		}
	}
	mark := "ok"
	if n != len(want) {
		mark = "MISSING"
	}
	fmt.Fprintf(d.Stdout, "   %-40s %d of %d found  %s\n", what, n, len(want), mark)
	return n == len(want)
}

func writeIndented(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// DecimalSum adds decimal strings exactly, to show that amounts never went
// through a float on their way out.
type DecimalSum struct {
	sum big.Rat
	// Count is the number of amounts added; Bad the strings that were not
	// decimals.
	Count, Bad int
}

// Add adds one decimal string such as "-5.50".
func (s *DecimalSum) Add(dec string) {
	v, ok := new(big.Rat).SetString(dec)
	if !ok || strings.ContainsAny(dec, "/eE") {
		s.Bad++
		return
	}
	s.sum.Add(&s.sum, v)
	s.Count++
}

// String is the sum with two decimals.
func (s *DecimalSum) String() string { return s.sum.FloatString(2) }
