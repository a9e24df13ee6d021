package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Version is the connectors' version, set at build time with
// -ldflags "-X github.com/source-pluggy/source-pluggy/connector/source.Version=1.2.3".
var Version = "0.1.0"

// Exit codes, as the Airbyte Python CDK uses them.
const (
	ExitOK    = 0 // success, including a check that cleanly reports FAILED
	ExitFail  = 1 // a failure, after an ERROR trace
	ExitUsage = 2 // the command line is wrong
)

// Command is an extra subcommand a binary adds next to the protocol ones
// (source-pluggy's demo, say).
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	// Program, when set, is a program name that runs this command with the
	// whole command line (see Main): a symlink or copy of source-pluggy
	// named tap-pluggy is the Singer tap.
	Program string
}

// Runner runs a Source's command line. Tests drive it directly; main only
// sets up signals and exits with what Run returns.
type Runner struct {
	Source Source
	Extra  []Command
	// SinkFlags, when set, registers read's sink flags and returns the sinks
	// they select (nil when none). It keeps the Parquet dependency out of
	// binaries and tests that do not want it.
	SinkFlags func(fs *pflag.FlagSet) func(streams []Stream) (Sinks, bool, error)
}

// Main runs the command line of a binary invoked as prog, the base name of
// os.Args[0]: an Extra command whose Program is prog gets every argument,
// any other name is Run.
func (r *Runner) Main(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	prog = strings.TrimSuffix(prog, ".exe")
	for _, c := range r.Extra {
		if c.Program != "" && c.Program == prog {
			return c.Run(ctx, args, stdout, stderr)
		}
	}
	return r.Run(ctx, args, stdout, stderr)
}

// Run executes args (without the program name) and returns the exit code.
func (r *Runner) Run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	secrets := &secret.Redactor{}
	w := protocol.NewWriter(stdout, secrets)
	defer recoverCrash(r.Source.Name(), w, secrets, &code)
	if len(args) == 0 {
		r.usage(stderr)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "spec":
		return r.spec(rest, w, stdout, stderr)
	case "check":
		return r.check(ctx, rest, w, secrets, stdout, stderr)
	case "discover":
		return r.discover(ctx, rest, w, secrets, stdout, stderr)
	case "read":
		return r.read(ctx, rest, w, secrets, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "%s %s\n", r.Source.Name(), Version)
		return ExitOK
	case "help", "-h", "--help":
		r.usage(stdout)
		return ExitOK
	}
	for _, c := range r.Extra {
		if c.Name == cmd {
			_ = w.Flush()
			return c.Run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", r.Source.Name(), cmd)
	r.usage(stderr)
	return ExitUsage
}

// recoverCrash, deferred, turns a panic into an ERROR trace and exit 1, and
// flushes the writer either way.
func recoverCrash(name string, w *protocol.Writer, secrets *secret.Redactor, code *int) {
	if p := recover(); p != nil {
		msg := secrets.String(fmt.Sprint(p))
		_ = w.Error(protocol.SystemError, "", name+" crashed: "+msg, secrets.String(string(debug.Stack())))
		*code = ExitFail
	}
	_ = w.Flush()
}

func (r *Runner) usage(out io.Writer) {
	name := r.Source.Name()
	fmt.Fprintf(out, "%s %s: an Airbyte-protocol source.\n\nUsage:\n", name, Version)
	fmt.Fprintf(out, "  %s spec\n", name)
	fmt.Fprintf(out, "  %s check    --config FILE\n", name)
	fmt.Fprintf(out, "  %s discover --config FILE\n", name)
	fmt.Fprintf(out, "  %s read     --config FILE --catalog FILE [--state FILE]\n", name)
	fmt.Fprintf(out, "  %s version\n", name)
	for _, c := range r.Extra {
		fmt.Fprintf(out, "  %s %-8s %s\n", name, c.Name, c.Summary)
	}
	fmt.Fprintf(out, "\nRun '%s COMMAND --help' for a command's flags. stdout carries only protocol messages.\n", name)
}

// flags parses a subcommand's flags. It returns ok=false with the exit code
// when parsing ended the command (--help, or a usage error).
func (r *Runner) flags(cmd, summary string, args []string, stdout, stderr io.Writer, define func(*pflag.FlagSet), required ...string) (fs *pflag.FlagSet, code int, ok bool) {
	fs = pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	if define != nil {
		define(fs)
	}
	usage := func(out io.Writer) {
		fmt.Fprintf(out, "Usage: %s %s %s\n\n%s\n", r.Source.Name(), cmd, flagSynopsis(fs, required), summary)
		if fs.HasFlags() {
			fmt.Fprintf(out, "\nFlags:\n%s", fs.FlagUsages())
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			usage(stdout)
			return fs, ExitOK, false
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", r.Source.Name(), cmd, err)
		usage(stderr)
		return fs, ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s %s: unexpected argument %q\n", r.Source.Name(), cmd, fs.Arg(0))
		usage(stderr)
		return fs, ExitUsage, false
	}
	for _, name := range required {
		if !fs.Changed(name) {
			fmt.Fprintf(stderr, "%s %s: --%s is required\n", r.Source.Name(), cmd, name)
			usage(stderr)
			return fs, ExitUsage, false
		}
	}
	return fs, 0, true
}

func flagSynopsis(fs *pflag.FlagSet, required []string) string {
	var parts []string
	req := map[string]bool{}
	for _, n := range required {
		req[n] = true
	}
	fs.VisitAll(func(f *pflag.Flag) {
		s := "--" + f.Name
		if f.Value.Type() != "bool" {
			s += " " + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		}
		if !req[f.Name] {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	})
	return strings.Join(parts, " ")
}

func (r *Runner) spec(args []string, w *protocol.Writer, stdout, stderr io.Writer) int {
	if _, code, ok := r.flags("spec", "Print the connector specification (the config's JSON Schema) as one SPEC message.", args, stdout, stderr, nil); !ok {
		return code
	}
	spec := r.Source.Spec()
	spec.ProtocolVersion = protocol.Version
	if err := w.Send(&protocol.Message{Type: protocol.TypeSpec, Spec: &spec}); err != nil {
		return ExitFail
	}
	return ExitOK
}

// open loads and validates the config, registers its secrets and opens the
// source. Warnings about unknown config keys go out as WARN logs.
func (r *Runner) open(ctx context.Context, path string, w *protocol.Writer, secrets *secret.Redactor, logWarnings bool) (Conn, *Logger, error) {
	cfg, warnings, err := loadConfig(r.Source, path, secrets)
	if err != nil {
		return nil, nil, err
	}
	log := &Logger{w: w}
	if logWarnings {
		for _, msg := range warnings {
			log.Warnf("%s", msg)
		}
	}
	conn, err := r.Source.Open(ctx, cfg, Env{Log: log, Secrets: secrets, Version: Version})
	if err != nil {
		return nil, nil, err
	}
	return conn, log, nil
}

func (r *Runner) check(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) int {
	var config string
	if _, code, ok := r.flags("check", "Check that the config can reach the API: credentials, item ids, base_url. Prints one CONNECTION_STATUS and exits 0 either way.", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
	}, "config"); !ok {
		return code
	}
	status := func(err error) int {
		cs := &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}
		var adv *Advisory
		if errors.As(err, &adv) {
			cs.Message = adv.Msg
		} else if err != nil {
			cs = &protocol.ConnectionStatus{Status: protocol.StatusFailed, Message: userMessage(err)}
		}
		if werr := w.Send(&protocol.Message{Type: protocol.TypeConnectionStatus, ConnectionStatus: cs}); werr != nil {
			return ExitFail
		}
		return ExitOK
	}
	// check prints exactly one message, so config warnings are not logged.
	conn, _, err := r.open(ctx, config, w, secrets, false)
	if err != nil {
		return status(err)
	}
	defer conn.Close()
	return status(conn.Check(withLogger(ctx, nil)))
}

func (r *Runner) discover(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) int {
	var config string
	if _, code, ok := r.flags("discover", "Print the catalog of streams (schemas, sync modes, keys, cursors) as one CATALOG message.", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
	}, "config"); !ok {
		return code
	}
	conn, _, err := r.open(ctx, config, w, secrets, false)
	if err != nil {
		return fail(w, err)
	}
	defer conn.Close()
	cat := &protocol.Catalog{}
	for _, s := range conn.Streams() {
		cat.Streams = append(cat.Streams, Describe(s))
	}
	if err := w.Send(&protocol.Message{Type: protocol.TypeCatalog, Catalog: cat}); err != nil {
		return ExitFail
	}
	return ExitOK
}

// fail reports a fatal error as an ERROR trace and returns the exit code.
func fail(w *protocol.Writer, err error) int {
	_ = w.Error(FailureTypeOf(err), "", userMessage(err), err.Error())
	return ExitFail
}

func (r *Runner) read(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) int {
	var config, catalog, state string
	var openSinks func([]Stream) (Sinks, bool, error)
	if _, code, ok := r.flags("read", "Read the configured streams: RECORD, STATE, TRACE and LOG messages on stdout.", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
		fs.StringVar(&catalog, "catalog", "", "configured catalog JSON file (see catalogs/)")
		fs.StringVar(&state, "state", "", "state JSON file: the STATE messages of the previous run, as an array")
		if r.SinkFlags != nil {
			openSinks = r.SinkFlags(fs)
		}
	}, "config", "catalog"); !ok {
		return code
	}
	return r.readStreams(ctx, w, secrets, config, func(streams []Stream) ([]selected, map[string]json.RawMessage, error) {
		sel, err := loadCatalog(catalog, streams)
		if err != nil {
			return nil, nil, err
		}
		states, err := loadState(state, streams)
		return sel, states, err
	}, openSinks)
}

// ReadInput is a read whose catalog and state do not come from --catalog and
// --state files. The Singer mode builds them from its own catalog and
// bookmarks, then reads through the same path as `read`, so both modes read,
// checkpoint and fail alike.
type ReadInput struct {
	// Config is the config file's path.
	Config string
	// Prepare is given the source's streams once the config is open and
	// returns the configured catalog and each stream's input state (what
	// --catalog and --state hold; ParseState decodes a state file).
	Prepare func(streams []Stream) (protocol.ConfiguredCatalog, map[string]json.RawMessage, error)
}

// Read runs a read from in, writing its Airbyte messages to stdout, and
// returns the exit code.
func (r *Runner) Read(ctx context.Context, in ReadInput, stdout io.Writer) (code int) {
	secrets := &secret.Redactor{}
	w := protocol.NewWriter(stdout, secrets)
	defer recoverCrash(r.Source.Name(), w, secrets, &code)
	return r.readStreams(ctx, w, secrets, in.Config, func(streams []Stream) ([]selected, map[string]json.RawMessage, error) {
		cat, states, err := in.Prepare(streams)
		if err != nil {
			return nil, nil, err
		}
		raw, err := json.Marshal(cat)
		if err != nil {
			return nil, nil, SystemErrorf("encoding the configured catalog: %v", err)
		}
		sel, err := parseCatalog("(built from the caller's catalog)", raw, streams)
		return sel, states, err
	}, nil)
}

// readStreams is a read once its inputs are known: prepare turns the
// source's streams into the configured streams and their input states.
func (r *Runner) readStreams(ctx context.Context, w *protocol.Writer, secrets *secret.Redactor, config string,
	prepare func(streams []Stream) ([]selected, map[string]json.RawMessage, error), openSinks func([]Stream) (Sinks, bool, error)) int {
	conn, log, err := r.open(ctx, config, w, secrets, true)
	if err != nil {
		return fail(w, err)
	}
	defer conn.Close()
	sel, states, err := prepare(conn.Streams())
	if err != nil {
		return fail(w, err)
	}
	for _, s := range sel {
		if s.mode != protocol.Incremental {
			continue
		}
		if c, ok := s.stream.(StateChecker); ok && states[s.stream.Name()] != nil {
			if err := c.CheckState(states[s.stream.Name()]); err != nil {
				return fail(w, AsConfigError(err, fmt.Sprintf("state for stream %q is not one this connector wrote; fix or delete it (deleting it re-reads from start_date)", s.stream.Name())))
			}
		}
	}
	var sinks Sinks
	skipRecords := false
	if openSinks != nil {
		chosen := make([]Stream, len(sel))
		for i, s := range sel {
			chosen[i] = s.stream
		}
		sinks, skipRecords, err = openSinks(chosen)
		if err != nil {
			return fail(w, err)
		}
	}
	ctx = withLogger(ctx, log)

	var failed []string
	for _, s := range sel {
		name := s.stream.Name()
		out := &streamOutput{w: w, name: name, mode: s.mode, skip: skipRecords}
		if sinks != nil {
			if out.sink, err = sinks.OpenStream(s.stream, s.mode); err != nil {
				return fail(w, err)
			}
		}
		if err := w.StreamStatus(name, protocol.Started); err != nil {
			return ExitFail
		}
		req := ReadRequest{Mode: s.mode}
		if s.mode == protocol.Incremental {
			req.State = states[name]
		}
		readErr := s.stream.Read(context.WithValue(ctx, outputKey{}, out), req, out)
		if ctx.Err() != nil {
			// Stopped by a signal: every worker returned "context canceled".
			// Say it once, as worth retrying; the states already emitted
			// are where the next run resumes.
			readErr = &Error{Type: protocol.TransientError, Quoted: true, Err: readErr,
				Msg: "interrupted (" + ctx.Err().Error() + ") before the stream finished; the next run resumes from the last STATE it emitted"}
		}
		if err := out.finish(readErr, req.State); err != nil {
			return ExitFail // stdout is gone; nothing more can be said
		}
		if readErr != nil {
			failed = append(failed, fmt.Sprintf("%s (%s)", name, userMessage(readErr)))
		}
		if ctx.Err() != nil {
			break
		}
	}
	if sinks != nil {
		if err := sinks.Close(); err != nil {
			failed = append(failed, "closing sinks: "+err.Error())
		}
	}
	if ctx.Err() != nil {
		_ = w.Error(protocol.TransientError, "", "The read was interrupted ("+ctx.Err().Error()+"); the last STATE emitted is where the next run resumes.", "")
		return ExitFail
	}
	if len(failed) > 0 {
		_ = w.Error(protocol.SystemError, "", "During the sync, the following streams did not sync successfully: "+strings.Join(failed, "; "), "")
		return ExitFail
	}
	return ExitOK
}

func withLogger(ctx context.Context, l *Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// registerSecrets adds the value of every airbyte_secret property of the
// config to the redactor, before anything can print them.
func registerSecrets(spec json.RawMessage, c map[string]any, secrets *secret.Redactor) {
	var s struct {
		Properties map[string]struct {
			Secret bool `json:"airbyte_secret"`
		} `json:"properties"`
	}
	if json.Unmarshal(spec, &s) != nil {
		return
	}
	for name, p := range s.Properties {
		if p.Secret {
			addSecretStrings(c[name], secrets)
		}
	}
}

// addSecretStrings registers v if it is a string, and every string inside it
// if it is a list or an object: a secret pasted into the wrong shape
// (["s3cret"]) is still a secret, whatever the validation error says.
func addSecretStrings(v any, secrets *secret.Redactor) {
	switch v := v.(type) {
	case string:
		secrets.Add(v)
	case []any:
		for _, e := range v {
			addSecretStrings(e, secrets)
		}
	case map[string]any:
		for _, e := range v {
			addSecretStrings(e, secrets)
		}
	}
}
