package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"

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

// Exit codes of a failed read or discover with --detailed-exit-codes, from
// sysexits.h, for a scheduler to act on without parsing the ERROR trace: a
// Kubernetes Job's podFailurePolicy, a cron wrapper, systemd's
// RestartPreventExitStatus. Without the flag every failure exits ExitFail,
// as the protocol says.
const (
	// ExitTempFail (EX_TEMPFAIL): the run failed with a transient_error
	// (a timeout, 5xx or 429 after retries, a lock another run holds):
	// the same command later may succeed, resuming from its last STATE.
	ExitTempFail = 75
	// ExitConfig (EX_CONFIG): it failed with a config_error (rejected
	// keys, a revoked consent, an invalid config, catalog or state): run
	// as it is, it fails again until someone fixes that.
	ExitConfig = 78
)

// DetailedExitCode is code, a run's exit code, made detailed by last, the
// failure type of the run's last ERROR trace, which sums up the run's
// failure (summaryType): ExitFail becomes ExitTempFail or ExitConfig, and
// stays ExitFail for a system_error (a bug, or an answer the connector does
// not understand: retrying rarely helps, someone should look) or when no
// ERROR trace was sent. Other codes pass unchanged.
func DetailedExitCode(code int, last protocol.FailureType) int {
	if code != ExitFail {
		return code
	}
	switch last {
	case protocol.TransientError:
		return ExitTempFail
	case protocol.ConfigError:
		return ExitConfig
	}
	return code
}

// detailedExit is a command's exit code under --detailed-exit-codes when
// detailed is set: made detailed by w's last ERROR trace, unless stdout is
// gone (exit 1 then, as without the flag: nothing more reached it).
func detailedExit(detailed bool, w *protocol.Writer, code int) int {
	if !detailed || w.Err() != nil {
		return code
	}
	return DetailedExitCode(code, w.LastFailure())
}

// DetailedExitCodesFlag names the flag that turns DetailedExitCode on, in
// both the Airbyte and the Singer mode.
const DetailedExitCodesFlag = "detailed-exit-codes"

// DetailedExitCodesUsage is its help text.
const DetailedExitCodesUsage = "on a failure exit 75 for a transient_error (retry later) or 78 for a config_error (fix first) instead of 1, as sysexits.h numbers them; 1 stays for a system_error"

// Command is an extra subcommand a binary adds next to the protocol ones
// (source-pluggy's connect and webhook, say).
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
	// Elsewhere are config keys another mode of the binary reads, each
	// with what reads it ("the Singer tap tap-pluggy"): a mode that does
	// not read one says so, rather than calling it no setting at all.
	Elsewhere map[string]string
	// Sinks are the outputs besides stdout that read offers on its command
	// line (Parquet files, say); each is opened when its flags select it.
	// They stay out of binaries and tests that do not list them.
	Sinks []SinkFlags
}

// SinkFlags is a sink as read's command line offers it.
type SinkFlags interface {
	// Flag is the flag that turns the sink on, without dashes
	// ("parquet-dir"); --no-records needs one of them.
	Flag() string
	// AddFlags registers the sink's flags on read's flag set.
	AddFlags(fs *pflag.FlagSet)
	// Open returns the sink the parsed flags select for a read of streams,
	// or nil when they select none. A flag set wrong is a ConfigErrorf.
	Open(streams []Stream) (Sink, error)
}

// StateKeeper is a SinkFlags whose sink is a StateStore: --no-states may
// go without --state-file when its flag is given.
type StateKeeper interface {
	SinkFlags
	KeepsStates()
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
	// Not --postgres's: its sink masks its password as xxxxx, and the
	// redactor would mask one that is also a word ("postgres", many
	// servers' default) in every message of every run.
	AddURLSecrets(secrets, withoutFlagValue(args, "postgres")...)
	w := protocol.NewWriter(stdout, secrets)
	defer recoverCrash(r.Source.Name(), w, secrets, &code)
	defer func() {
		// Once stdout is gone every message, the closing ERROR trace
		// included, is lost with it: say why the run stopped on stderr.
		if err := w.Err(); err != nil && code != ExitOK {
			fmt.Fprintf(stderr, "%s: writing to stdout: %s; its reader went away, so the run stopped before it finished\n", r.Source.Name(), secrets.String(err.Error()))
		}
	}()
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
		if _, code, ok := r.flags(cmd, "Print the connector's name and version.", rest, stdout, stderr, nil); !ok {
			return code
		}
		fmt.Fprintf(stdout, "%s %s\n", r.Source.Name(), Version)
		return ExitOK
	case "help", "-h", "--help":
		r.usage(stdout)
		return ExitOK
	}
	for _, c := range r.Extra {
		if c.Name != "" && c.Name == cmd {
			_ = w.Flush()
			return c.Run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", r.Source.Name(), secrets.String(cmd))
	if hint := r.flagsFirstHint(args); hint != "" {
		fmt.Fprintln(stderr, secrets.String(hint))
	}
	fmt.Fprintln(stderr)
	r.usage(stderr)
	return ExitUsage
}

// protocolCommands are the protocol commands Run takes first.
var protocolCommands = []string{"spec", "check", "discover", "read"}

// flagsFirstHint says what a command line that begins with a flag was
// meant to be: a protocol command typed after its flags, to be put first,
// or else the Singer tap's command line (--config FILE --discover, as
// Meltano runs the executable it is given), which runs under the tap's
// name or after the command that runs it. It quotes the first flag's name
// only: a value may hold a password (a URL). Without it the binary
// answered a Meltano run pointed at it with "unknown command "--config""
// alone. "" when args do not begin with a flag ("-" and "--" are none).
func (r *Runner) flagsFirstHint(args []string) string {
	flag, ok := flagName(args[0])
	if !ok {
		return ""
	}
	name := r.Source.Name()
	commands := slices.Clone(protocolCommands)
	for _, c := range r.Extra {
		if c.Name != "" {
			commands = append(commands, c.Name)
		}
	}
	for _, a := range args[1:] {
		if slices.Contains(commands, a) {
			return fmt.Sprintf("The command comes first, its flags after it: %s %s %s ...", name, a, flag)
		}
	}
	for _, c := range r.Extra {
		if c.Name != "" && c.Program != "" {
			return fmt.Sprintf("%s ... is the Singer tap's command line: run it under the tap's name, %s (ln -s %s %s; Meltano's executable is that link), or as %s %s %s ...",
				flag, c.Program, name, c.Program, name, c.Name, flag)
		}
	}
	return ""
}

// flagName returns the name of the flag arg begins, cut at the first "="
// or blank: a flag and its value given as one argument ("--postgres
// postgres://u:PASSWORD@h/db", quoted in a config) must not be quoted
// whole. ok is false for an arg that is no flag, "-" and "--" included.
func flagName(arg string) (name string, ok bool) {
	name, _, _ = strings.Cut(arg, "=")
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		name = name[:i]
	}
	bare := strings.TrimLeft(name, "-")
	return name, strings.HasPrefix(name, "-") && bare != "" && len(name)-len(bare) <= 2
}

// recoverCrash, deferred, turns a panic into an ERROR trace and exit 1, and
// flushes the writer either way.
func recoverCrash(name string, w Encoder, secrets *secret.Redactor, code *int) {
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
		if c.Name == "" {
			continue // runs only under its Program name
		}
		fmt.Fprintf(out, "  %s %-8s %s\n", name, c.Name, c.Summary)
	}
	fmt.Fprintf(out, "\nRun '%s COMMAND --help' for a command's flags. stdout carries only protocol messages.\n", name)
}

// UnexpectedArgument says that fs was left with arguments, quoting the
// first with any password in it masked: a key=value connection string
// given to --postgres without quotes (--postgres host=db password=s3cret
// dbname=bank) leaves its pieces as arguments of their own, the password
// among them, and a URL with a password may stray there too. When
// --postgres was given and the argument is such a piece, it says to quote
// the connection string.
//
// When a flag's value ends inside a password (--postgres
// postgres://u:Secr3t Tail@host/db, unquoted: the shell splits it at the
// space), the argument is the rest of the password, and it is not quoted:
// the message names the flag instead.
func UnexpectedArgument(fs *pflag.FlagSet) string {
	arg := fs.Arg(0)
	cut := ""
	fs.Visit(func(f *pflag.Flag) {
		if cut == "" && secret.EndsInPassword(f.Value.String()) {
			cut = f.Name
		}
	})
	if cut != "" {
		return fmt.Sprintf("unexpected argument after --%s, not shown: the value of --%s ends inside a password, and this may be the rest of it; a value with a space in it must be quoted (--%s '…'), or the space percent-encoded (%%20) in a URL", cut, cut, cut)
	}
	msg := fmt.Sprintf("unexpected argument %q", secret.MaskURL(arg, "xxxxx"))
	if pg := fs.Lookup("postgres"); pg != nil && pg.Changed && strings.Contains(arg, "=") && !strings.Contains(arg, "://") {
		msg += "; a key=value connection string (--postgres 'host=… user=… password=… dbname=…') is one argument: put it in quotes"
	}
	return msg
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
	if err := ParseOnce(fs, args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			usage(stdout)
			return fs, ExitOK, false
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", r.Source.Name(), cmd, err)
		usage(stderr)
		return fs, ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s %s: %s\n", r.Source.Name(), cmd, UnexpectedArgument(fs))
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

// ParseOnce parses args into fs, refusing a flag that takes one value
// given twice: pflag keeps the last, so "--state a ... --state b" (a
// script that appends its own) read from b without a word, where the
// user may have meant a. A flag that takes a list (--header) or a switch
// may repeat. The values are not quoted: a --postgres URL holds a
// password. Every command line of the binaries is parsed with it: the
// protocol commands, connect, webhook's and the Singer tap's.
func ParseOnce(fs *pflag.FlagSet, args []string) error {
	seen := map[string]bool{}
	return fs.ParseAll(args, func(f *pflag.Flag, value string) error {
		_, list := f.Value.(pflag.SliceValue)
		if seen[f.Name] && !list && f.Value.Type() != "bool" {
			return fmt.Errorf("--%s is given twice; give it once", f.Name)
		}
		seen[f.Name] = true
		return fs.Set(f.Name, value)
	})
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
// source. With logs, warnings about unknown config keys go out as WARN
// logs, and so does what the source logs; without (check and discover,
// which print exactly one message), the source's logs are dropped and the
// warnings returned, for check's message.
func (r *Runner) open(ctx context.Context, path string, state stateRef, enc Encoder, secrets *secret.Redactor, logs bool, own ...string) (Conn, *slog.Logger, []string, error) {
	cfg, warnings, err := loadConfig(r.Source, path, secrets, configKeys{own: own, elsewhere: r.Elsewhere})
	if err != nil {
		return nil, nil, nil, err
	}
	log := discard
	if logs {
		log = slog.New(NewLogHandler(enc))
		for _, msg := range warnings {
			log.Warn(msg)
		}
		warnings = nil
	}
	conn, err := r.Source.Open(ctx, cfg, Env{Log: log, Secrets: secrets, Version: Version, ConfigPath: path, StatePath: state.path, StateInput: state.input, Airbyte: UnderAirbyte()})
	if err != nil {
		return nil, nil, nil, err
	}
	return conn, log, warnings, nil
}

func (r *Runner) check(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) int {
	var config string
	if _, code, ok := r.flags("check", "Check that the config can reach the API: credentials, the ids it reads, base_url. Prints one CONNECTION_STATUS and exits 0 either way.", args, stdout, stderr, func(fs *pflag.FlagSet) {
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
	// check prints exactly one message, so config warnings (a key the
	// spec does not know, often a typo) join a SUCCEEDED status's message
	// rather than a log; a FAILED one says what failed.
	conn, _, warnings, err := r.open(ctx, config, stateRef{}, w, secrets, false)
	if err != nil {
		return status(err)
	}
	defer conn.Close()
	err = conn.Check(withLog(ctx, discard))
	if notice := strings.Join(warnings, "; "); notice != "" {
		var adv *Advisory
		switch {
		case err == nil:
			err = &Advisory{Msg: "the connection works, but " + notice}
		case errors.As(err, &adv):
			err = &Advisory{Msg: adv.Msg + "; " + notice}
		}
	}
	return status(err)
}

func (r *Runner) discover(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) (code int) {
	var config string
	var detailed bool
	if _, code, ok := r.flags("discover", "Print the catalog of streams (schemas, sync modes, keys, cursors) as one CATALOG message.", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
		fs.BoolVar(&detailed, DetailedExitCodesFlag, false, DetailedExitCodesUsage)
	}, "config"); !ok {
		return code
	}
	defer func() { code = detailedExit(detailed, w, code) }()
	streams, code := r.Discover(ctx, config, secrets, w)
	if code != ExitOK {
		return code
	}
	if err := w.Send(&protocol.Message{Type: protocol.TypeCatalog, Catalog: &protocol.Catalog{Streams: streams}}); err != nil {
		return ExitFail
	}
	return ExitOK
}

// Discover opens config and describes the source's streams, in discover
// order. A failure is reported through enc as an ERROR trace, and its exit
// code returned. The Singer mode prints the same streams as its catalog.
func (r *Runner) Discover(ctx context.Context, config string, secrets *secret.Redactor, enc Encoder) ([]protocol.Stream, int) {
	conn, _, _, err := r.open(ctx, config, stateRef{}, enc, secrets, false)
	if err != nil {
		return nil, fail(enc, err)
	}
	defer conn.Close()
	var streams []protocol.Stream
	for _, s := range conn.Streams() {
		streams = append(streams, Describe(s))
	}
	return streams, ExitOK
}

// fail reports a fatal error as an ERROR trace and returns the exit code.
func fail(w Encoder, err error) int {
	_ = w.Error(FailureTypeOf(err), "", userMessage(err), internalMessage(err))
	return ExitFail
}

func (r *Runner) read(ctx context.Context, args []string, w *protocol.Writer, secrets *secret.Redactor, stdout, stderr io.Writer) (code int) {
	var config, catalog, state, statePath string
	var noRecords, noStates, detailed bool
	fs, code, ok := r.flags("read", "Read the configured streams: RECORD, STATE, TRACE and LOG messages on stdout.", args, stdout, stderr, func(fs *pflag.FlagSet) {
		fs.StringVar(&config, "config", "", "config JSON file")
		fs.StringVar(&catalog, "catalog", "", "configured catalog JSON file (see catalogs/)")
		fs.StringVar(&state, "state", "", "state file: the previous run's STATE messages (its output, its STATE lines, or an array of them), a --state-file file, or a Singer state; see docs/incremental.md")
		fs.StringVar(&statePath, "state-file", "", "keep the state in `PATH`: read it at the start (absent: a first sync) and replace it atomically at every checkpoint, for cron jobs")
		fs.BoolVar(&noStates, "no-states", false, "print no STATE messages on stdout, for a log that stays readable (needs --state-file"+r.stateStoreFlags()+", which keeps the state)")
		for _, s := range r.Sinks {
			s.AddFlags(fs)
		}
		if len(r.Sinks) > 0 {
			fs.BoolVar(&noRecords, "no-records", false, "print no RECORD messages on stdout, only STATE, TRACE and LOG (needs --"+r.sinkFlagNames(" or --")+")")
		}
		fs.BoolVar(&detailed, DetailedExitCodesFlag, false, DetailedExitCodesUsage)
	}, "config", "catalog")
	if !ok {
		return code
	}
	defer func() { code = detailedExit(detailed, w, code) }()
	// An empty --state or --state-file ("$STATE" with the variable unset)
	// read as none: a first sync, from start_date, spending a bank's daily
	// calls on history already read, and with --state-file keeping no
	// state for the next run either, without a word.
	if fs.Changed("state") && state == "" {
		return fail(w, ConfigErrorf("--state is empty: give the path of the state file, or leave --state out to read from start_date, as a first sync"))
	}
	if fs.Changed("state-file") && statePath == "" {
		return fail(w, ConfigErrorf("--state-file is empty: give the path of the file that keeps the state (an absent file is a first sync), or leave --state-file out"))
	}
	var enc Encoder = w
	if noStates {
		enc = quietStates{w}
	}
	var sf *stateFile
	if statePath != "" {
		sf = &stateFile{path: statePath}
		enc = &stateFileEncoder{Encoder: enc, file: sf}
	}
	given := state != ""
	if fi, err := os.Stat(statePath); statePath != "" && err == nil && fi.Size() > 0 {
		given = true // a --state-file a run wrote before
	}
	return r.readStreams(ctx, enc, secrets, config, stateFileArg(state, statePath), func(streams []Stream) ([]Selection, map[string]json.RawMessage, error) {
		sel, err := loadCatalog(catalog, streams)
		if err != nil {
			return nil, nil, err
		}
		if sf != nil {
			states, err := sf.load(streams)
			if err != nil {
				return nil, nil, err
			}
			if state == "" {
				return sel, states, nil
			}
		}
		states, reset, err := loadState(state, streams)
		MarkReset(sel, reset)
		return sel, states, err
	}, func(streams []Stream) ([]Sink, []string, bool, error) {
		var sinks []Sink
		var flags []string
		for _, s := range r.Sinks {
			sink, err := s.Open(streams)
			if err != nil {
				for _, o := range sinks {
					_ = o.Close()
				}
				return nil, nil, false, err
			}
			if sink != nil {
				sinks = append(sinks, sink)
				flags = append(flags, "--"+s.Flag())
			}
		}
		if noRecords && len(sinks) == 0 {
			return nil, nil, false, ConfigErrorf("--no-records needs --%s: without another output the records would go nowhere", r.sinkFlagNames(" or --"))
		}
		if noStates && sf == nil && !slices.ContainsFunc(sinks, isStateStore) {
			for _, o := range sinks {
				_ = o.Close()
			}
			return nil, nil, false, ConfigErrorf("--no-states needs --state-file PATH%s: without one the state is kept nowhere and every run would be a first sync", r.stateStoreFlags())
		}
		return sinks, flags, noRecords, nil
	}, state == "", given)
}

// stateRef is the state file a read's messages name (Env.StatePath and
// Env.StateInput); the zero value for none.
type stateRef struct {
	path  string
	input bool // path is a --state, which the read only reads
}

// stateFileArg is the state file a read's messages name: the --state-file,
// where the read keeps its state, else a --state that is a regular file
// (an input: Airbyte's is a file it writes for the one sync); none for a
// pipe (--state <(...)), which a later command cannot open again, or no
// state.
func stateFileArg(state, stateFile string) stateRef {
	if stateFile != "" {
		return stateRef{path: stateFile}
	}
	if fi, err := os.Stat(state); state != "" && err == nil && fi.Mode().IsRegular() {
		return stateRef{path: state, input: true}
	}
	return stateRef{}
}

// sdkBookmark reports a stream state in the Meltano SDK's shape
// ({"replication_key": ..., "replication_key_value": ...}, or its
// partitions), which users write with `meltano state set` to start an SDK
// tap from a date: this connector's own states never hold those members.
func sdkBookmark(st json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(st, &m) != nil {
		return false
	}
	for _, k := range []string{"replication_key_value", "replication_key", "starting_replication_value", "progress_markers", "partitions"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// failedStreams are the streams of a read that failed with one message:
// the summary says a message once, with every stream it ended (wrong keys
// fail them all alike).
type failedStreams struct {
	msg     string
	streams []string
}

// addFailed adds stream, which failed with msg, to the summary's list.
func addFailed(list []failedStreams, stream, msg string) []failedStreams {
	for i := range list {
		if list[i].msg == msg {
			list[i].streams = append(list[i].streams, stream)
			return list
		}
	}
	return append(list, failedStreams{msg: msg, streams: []string{stream}})
}

// stateStoreFlags names, for --no-states, the flags besides --state-file
// whose sinks keep the state (" or --postgres"), or "".
func (r *Runner) stateStoreFlags() string {
	var b strings.Builder
	for _, s := range r.Sinks {
		if _, ok := s.(StateKeeper); ok {
			fmt.Fprintf(&b, " or --%s", s.Flag())
		}
	}
	return b.String()
}

func isStateStore(s Sink) bool {
	_, ok := s.(StateStore)
	return ok
}

func (r *Runner) sinkFlagNames(sep string) string {
	names := make([]string, len(r.Sinks))
	for i, s := range r.Sinks {
		names[i] = s.Flag()
	}
	return strings.Join(names, sep)
}

// Selection is one stream a read is configured to read, and how.
type Selection struct {
	Stream Stream
	Mode   protocol.SyncMode
	// Notes are what the read ignores of the stream's configuration (a
	// cursor_field where the source defines the cursor), for a WARN each
	// as the read starts.
	Notes []string
	// Reset says the input state gave the stream a null state (MarkReset):
	// it starts from scratch, which the read says in an INFO rather than
	// warning of a state that lacks it.
	Reset bool
}

// MarkReset marks the selections of the streams named in reset, which the
// input state resets (ParseStateResets).
func MarkReset(sel []Selection, reset []string) {
	for i := range sel {
		if slices.Contains(reset, sel[i].Stream.Name()) {
			sel[i].Reset = true
		}
	}
}

// ReadInput is a read whose catalog, state and output format do not come
// from read's command line. The Singer mode builds them from its own
// catalog and bookmarks and writes Singer messages, through the same path
// as `read`, so both modes read, checkpoint and fail alike.
type ReadInput struct {
	// Config is the config file's path.
	Config string
	// Secrets is the run's redactor, which Encoder masks its texts with;
	// the config's secrets are added to it.
	Secrets *secret.Redactor
	// Encoder writes the run's messages.
	Encoder Encoder
	// Prepare is given the source's streams once the config is open and
	// returns the streams to read and each one's input state (what
	// --catalog and --state hold; ParseState decodes a state file).
	Prepare func(streams []Stream) ([]Selection, map[string]json.RawMessage, error)
	// Own are config keys the caller reads itself (Singer's
	// emit_activate_version_messages): not warned about as unknown.
	Own []string
	// StateGiven says the caller was given a state (a --state file): a
	// stream it holds no state for is then worth a WARN, not an INFO.
	StateGiven bool
}

// Read runs a read from in and returns the exit code. The caller flushes
// in.Encoder.
func (r *Runner) Read(ctx context.Context, in ReadInput) (code int) {
	defer recoverCrash(r.Source.Name(), in.Encoder, in.Secrets, &code)
	return r.readStreams(ctx, in.Encoder, in.Secrets, in.Config, stateRef{}, in.Prepare, nil, false, in.StateGiven, in.Own...)
}

// readStreams is a read once its inputs are known: prepare turns the
// source's streams into the configured streams and their input states, and
// openSinks (nil for none) opens the outputs besides enc, with the flag
// that turned each on (what messages about them name), and says whether
// enc is to get no records.
func (r *Runner) readStreams(ctx context.Context, enc Encoder, secrets *secret.Redactor, config string, state stateRef,
	prepare func(streams []Stream) ([]Selection, map[string]json.RawMessage, error), openSinks func([]Stream) ([]Sink, []string, bool, error),
	storedStates, stateGiven bool, own ...string) int {
	conn, log, _, err := r.open(ctx, config, state, enc, secrets, true, own...)
	if err != nil {
		return fail(enc, err)
	}
	defer conn.Close()
	sel, states, err := prepare(conn.Streams())
	if err != nil {
		return fail(enc, err)
	}
	if p, ok := conn.(ReadPlanner); ok {
		names := make([]string, len(sel))
		for i, s := range sel {
			names[i] = s.Stream.Name()
		}
		p.PlanRead(names)
	}
	var sinks []Sink
	var sinkFlags []string
	skipRecords := false
	if openSinks != nil {
		chosen := make([]Stream, len(sel))
		for i, s := range sel {
			chosen[i] = s.Stream
		}
		if sinks, sinkFlags, skipRecords, err = openSinks(chosen); err != nil {
			return fail(enc, err)
		}
	}
	closeSinks := func() error {
		var errs []error
		for _, s := range sinks {
			errs = append(errs, s.Close())
		}
		sinks = nil
		return errors.Join(errs...)
	}
	defer func() { _ = closeSinks() }() // on the way out of a failure; the success path closes and checks
	// store is where the states came from, if a sink.
	var store StateStore
	if storedStates {
		// Without --state, a sink that keeps the states with its rows is
		// where the run resumes: its states match what it holds exactly.
		for _, sink := range sinks {
			if st, ok := sink.(StateStore); ok {
				store, states = st, st.States()
				if len(states) == 0 {
					// "resuming from ... streams=0" read as a resume from
					// nothing; the first sync into it is worth saying so.
					log.Info("no state stored yet in the sink, which keeps the state from this run on", "sink", store.StateSource())
				} else {
					log.Info("resuming from the states the sink stored", "sink", store.StateSource(), "streams", len(states))
				}
				break
			}
		}
	}
	for _, s := range sel {
		if s.Mode != protocol.Incremental {
			continue
		}
		if c, ok := s.Stream.(StateChecker); ok && states[s.Stream.Name()] != nil {
			if err := c.CheckState(states[s.Stream.Name()]); err != nil {
				name := s.Stream.Name()
				switch {
				case store != nil:
					// No file of the user's holds it: say where it is.
					fix := "delete its row there"
					if d, ok := store.(StateDropper); ok {
						fix = d.DropStateHint(name)
					}
					err = AsConfigError(err, fmt.Sprintf("state for stream %q stored in %s is not one this connector wrote; fix or delete it (%s; deleting it re-reads from start_date), or pass --state FILE to start from another", name, store.StateSource(), fix))
				case sdkBookmark(states[name]):
					// What the decoder says of it (version 0) would not help.
					err = ConfigErrorf("state for stream %q is a Meltano SDK bookmark (replication_key_value), which this connector does not take: its states are its own, kept per account (docs/incremental.md); to start from a date, set start_date in the config and give the stream a null state (meltano state set JOB '{\"singer_state\": {\"bookmarks\": {\"%s\": null}}}'), or pass the state a run of this connector printed", name, name)
				default:
					err = AsConfigError(err, fmt.Sprintf("state for stream %q is not one this connector wrote; fix or delete it (deleting it re-reads from start_date)", name))
				}
				return fail(enc, err)
			}
		}
	}
	// After the check: a state that fails it reads nothing, so saying
	// which streams will be read from start_date would mislead.
	logStateless(log, sel, states, stateGiven)
	for _, s := range sel {
		for _, note := range s.Notes {
			log.Warn(note, StreamKey, s.Stream.Name())
		}
	}
	ctx = withLog(ctx, log)
	if p, ok := conn.(RequestPlanner); ok {
		reqs := make(map[string]ReadRequest, len(sel))
		for _, s := range sel {
			req := ReadRequest{Mode: s.Mode}
			if s.Mode == protocol.Incremental {
				req.State = states[s.Stream.Name()]
			}
			reqs[s.Stream.Name()] = req
		}
		p.PlanRequests(reqs)
	}

	// A sink's error that ends the run (see EndsRun) stops every stream
	// through this context, its cause.
	ctx, endRun := context.WithCancelCause(ctx)
	defer endRun(nil)
	// The streams that failed and their errors, for the closing summary.
	var failedNames []string
	var outcomes []error
	// The text replaced in any stream's answers, noted in every stream
	// that emits it (see replacedText).
	replaced := &replacedText{}
	for _, s := range sel {
		name := s.Stream.Name()
		req := ReadRequest{Mode: s.Mode}
		if s.Mode == protocol.Incremental {
			req.State = states[name]
		}
		out, err := newStreamOutput(enc, StreamInfo{Stream: s.Stream, Mode: s.Mode, State: req.State, RunLog: log}, sinks, skipRecords)
		if err != nil {
			return fail(enc, err)
		}
		out.sinkFlags = sinkFlags
		out.endRun = endRun
		out.replaced = replaced
		if err := enc.StreamStatus(name, protocol.Started); err != nil {
			return ExitFail
		}
		readErr := s.Stream.Read(withLog(context.WithValue(ctx, outputKey{}, out), out.log), req, out)
		if cause := context.Cause(ctx); endsRun(cause) {
			// The sink's error, once: not again for every account the
			// stream had begun, each then stopped.
			readErr = cause
		} else if ctx.Err() != nil {
			// Stopped by a signal: every worker returned "context canceled".
			// Say it once, as worth retrying; the states already emitted
			// are where the next run resumes.
			readErr = &Error{Type: protocol.TransientError, Quoted: true, Err: readErr,
				Msg: "interrupted (" + ctx.Err().Error() + ") before the stream finished; the next run resumes from the last STATE it emitted"}
		}
		outcome, err := out.finish(readErr, req.State)
		if err != nil {
			return ExitFail // stdout is gone; nothing more can be said
		}
		if outcome != nil {
			failedNames, outcomes = append(failedNames, name), append(outcomes, outcome)
			if endsRun(outcome) {
				endRun(outcome) // a sink's failure to finish the stream
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	// The streams' messages say a note they share (what to do under
	// Airbyte, met by every failing account) once, at the summary's end.
	msgs, notes := userMessages(outcomes)
	var failed []failedStreams
	var failures []protocol.FailureType
	for i, name := range failedNames {
		failed = addFailed(failed, name, msgs[i])
		failures = append(failures, FailureTypeOf(outcomes[i]))
	}
	if err := closeSinks(); err != nil {
		failed = addFailed(failed, "closing sinks", err.Error())
		failures = append(failures, FailureTypeOf(err))
	}
	if ctx.Err() != nil && !endsRun(context.Cause(ctx)) {
		_ = enc.Error(protocol.TransientError, "", "The read was interrupted ("+ctx.Err().Error()+"); the last STATE emitted is where the next run resumes.", "")
		return ExitFail
	}
	if len(failed) > 0 {
		parts := make([]string, len(failed))
		for i, f := range failed {
			parts[i] = fmt.Sprintf("%s (%s)", strings.Join(f.streams, ", "), f.msg)
		}
		_ = enc.Error(summaryType(failures), "", "During the sync, the following streams did not sync successfully: "+strings.Join(parts, "; ")+notes, "")
		return ExitFail
	}
	return ExitOK
}

// summaryType is the failure type of the run's closing ERROR, from its
// streams' own: a connector bug (system_error) if any stream had one, else
// what the user must fix (config_error) if any stream needs that, else
// worth retrying (transient_error). A platform acts on this one trace: it
// was system_error whatever the streams said, which called a wrong secret
// a bug.
func summaryType(failures []protocol.FailureType) protocol.FailureType {
	switch {
	case slices.Contains(failures, protocol.SystemError):
		return protocol.SystemError
	case slices.Contains(failures, protocol.ConfigError):
		return protocol.ConfigError
	case slices.Contains(failures, protocol.TransientError):
		return protocol.TransientError
	}
	return protocol.SystemError
}

// registerSecrets adds the value of every airbyte_secret property of the
// config to the redactor, before anything can print them.
func registerSecrets(spec json.RawMessage, c map[string]any, secrets *secret.Redactor) {
	var s struct {
		Properties map[string]struct {
			Secret bool `json:"airbyte_secret"`
			// SecretPart "url-password" marks a field the platforms
			// must store as a secret because it may hold a URL with a
			// password (a PostgreSQL webhook_log), though most of it is
			// a path or a host worth naming in messages: only the URL's
			// password is masked (below), not the whole value.
			SecretPart string `json:"x-secret-part"`
		} `json:"properties"`
	}
	if json.Unmarshal(spec, &s) != nil {
		return
	}
	for name, p := range s.Properties {
		if p.Secret && p.SecretPart != "url-password" {
			// A secret pasted into the wrong shape (["s3cret"]) is
			// still a secret, whatever the validation error says.
			eachString(c[name], secrets.Add)
		}
	}
	// The password of every URL in the config (a base_url with
	// user:password@, a PostgreSQL webhook_log), found in the text even
	// where the URL does not parse: validation quotes a value it refuses.
	eachString(c, func(s string) {
		for _, pw := range secret.URLSecrets(s) {
			secrets.Add(pw)
		}
	})
	// A PEM private key in any field: Enable Banking's pasted into
	// application_id (beside private_key in a form) or a list of ids,
	// whose validation messages quote the value they refuse.
	eachString(c, func(s string) {
		for _, k := range secret.PEMSecrets(s) {
			secrets.Add(k)
		}
	})
	// A segment of base_url's path that looks like a key, not a name
	// (https://proxy.example/KEY/api: a proxy that takes its key in the
	// path): base_url is named in every message about reaching the API,
	// which then shows it as https://proxy.example/**********/api. Only
	// base_url: other paths in the config (a webhook_log directory) are
	// names the user needs to read.
	eachString(c["base_url"], func(s string) {
		for _, tok := range secret.PathTokens(s) {
			secrets.Add(tok)
		}
	})
}

// AddURLSecrets registers the password of every URL among texts, command
// line arguments (see secret.URLSecrets): a PostgreSQL URL given to another
// flag than --postgres (--state-file, --config, a Singer tap's --state) is
// quoted back by the message that refuses it, as a path that does not
// exist; the password was printed with it.
func AddURLSecrets(secrets *secret.Redactor, texts ...string) {
	for _, t := range texts {
		for _, pw := range secret.URLSecrets(t) {
			secrets.Add(pw)
		}
	}
}

// withoutFlagValue is args without the value of --name (--name V or
// --name=V).
func withoutFlagValue(args []string, name string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--"+name:
			i++ // and its value
		case strings.HasPrefix(args[i], "--"+name+"="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// eachString calls fn with v if it is a string, and with every string
// inside it if it is a list or an object, at any depth.
func eachString(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			eachString(e, fn)
		}
	case map[string]any:
		for _, e := range v {
			eachString(e, fn)
		}
	}
}
