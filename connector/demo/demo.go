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
	// Name is the command that runs the demo, "fake-pluggy demo": its
	// banner and messages say it, not the connector's name, as the
	// connector binary has no demo to run.
	Name string
	// Dir holds the demo's files.
	Dir            string
	Stdout, Stderr io.Writer
	// ReadFlags are passed to every read (--read-flag).
	ReadFlags []string
}

// Command makes the demo command of a fake binary, reading with r (the
// connector binary's runner, see cli.Binary.Runner): it parses --out and
// --read-flag, plus the flags define adds (nil for none), makes the
// directory and calls run. Its usage errors are reported as the connector
// binaries report theirs: the command and the error on stderr, then the
// usage, exit 2; --help prints the usage on stdout and exits 0.
func Command(r *source.Runner, summary string, define func(fs *pflag.FlagSet), run func(ctx context.Context, d *Demo) error) fakeserver.Command {
	// The fake is named after the connector, as cli.Binary's demo
	// pointer names it: source-pluggy's is fake-pluggy.
	name := "fake-" + strings.TrimPrefix(r.Source.Name(), "source-") + " demo"
	return fakeserver.Command{
		Name:    "demo",
		Summary: summary,
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
			// pflag prints nothing of its own with ContinueOnError but its
			// default usage on --help; the usage below replaces both.
			fs.SetOutput(io.Discard)
			out := fs.String("out", "", "directory for the demo's config, catalog, state and output files (default: a new temporary directory)")
			extra := fs.StringArray("read-flag", nil, "extra flag passed to every read, e.g. --read-flag=--parquet-dir=/tmp/pq (repeatable)")
			if define != nil {
				define(fs)
			}
			usage := func(w io.Writer) {
				fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n\nFlags:\n%s", name, summary, fs.FlagUsages())
			}
			if err := fs.Parse(args); err != nil {
				if errors.Is(err, pflag.ErrHelp) {
					usage(stdout)
					return source.ExitOK
				}
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				usage(stderr)
				return source.ExitUsage
			}
			if fs.NArg() > 0 {
				fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
				usage(stderr)
				return source.ExitUsage
			}
			d := &Demo{Runner: r, Name: name, Dir: *out, Stdout: stdout, Stderr: stderr, ReadFlags: *extra}
			err := d.makeDir()
			if err == nil {
				err = run(ctx, d)
			}
			var usageErr UsageError
			switch {
			case errors.As(err, &usageErr):
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				usage(stderr)
				return source.ExitUsage
			case err != nil:
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				return source.ExitFail
			}
			return source.ExitOK
		},
	}
}

// UsageError is an error of a demo's run that is a bad flag value of its
// own (--sessions 0, say), which pflag could not tell: the demo exits 2
// with its usage, as for a flag pflag refused, not 1 as for a failed read.
type UsageError struct{ error }

// UsageErrorf is a UsageError, formatted as fmt.Errorf does.
func UsageErrorf(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

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

// readArgs are the arguments of read n: the first without state, later
// ones from state.json, each with the --read-flag values.
func (d *Demo) readArgs(n int) []string {
	args := []string{"read", "--config", d.Path("config.json"), "--catalog", d.Path("catalog.json")}
	if n > 1 {
		args = append(args, "--state", d.Path("state.json"))
	}
	return append(args, d.ReadFlags...)
}

// ReadCommand is the command line of read n, as the user would type it:
// the arguments Read runs with (the --read-flag values too), quoted for a
// shell where they need it, so that it can be copied and run.
func (d *Demo) ReadCommand(n int) string {
	words := []string{d.Runner.Source.Name()}
	for _, a := range d.readArgs(n) {
		words = append(words, shellQuote(a))
	}
	return fmt.Sprintf("%s > %s", strings.Join(words, " "), shellQuote(d.Path(fmt.Sprintf("run%d.jsonl", n))))
}

// shellQuote is s as a POSIX shell word: as it is when no character of it
// is special to the shell, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Read runs read n (the first without state, later ones from state.json),
// keeps its output in run<n>.jsonl, prints how many records each stream had
// and the warnings, and saves the state for the next read (a failed read's
// too, as the platform commits it). fn, if not nil, sees every record. A
// read that exits non-zero is an error, returned with its summary; one that
// exits 2 refused its command line, which is the demo's but for the
// --read-flag values, so the error says to check those.
func (d *Demo) Read(ctx context.Context, n int, fn func(stream string, data json.RawMessage)) (*source.Summary, error) {
	args := d.readArgs(n)
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
	switch {
	case code == source.ExitUsage && len(d.ReadFlags) > 0:
		return s, fmt.Errorf("read %d exited %d, a usage error (%s read's message is above): check the --read-flag values %q", n, code, d.Runner.Source.Name(), d.ReadFlags)
	case code != source.ExitOK:
		return s, fmt.Errorf("read %d exited %d: %s", n, code, strings.Join(s.Errors, "; "))
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

// Count is n and the noun, in the plural unless n is 1: "1 item", "2
// items", for the banners of demos that serve one of a thing.
func Count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
