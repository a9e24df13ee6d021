// Package source is the protocol runtime every provider runs on: the Airbyte
// commands (spec, check, discover, read), config validation against the spec,
// the configured catalog, incoming state, the stream lifecycle and the rules
// for checkpoints.
//
// A provider is a Source that turns a validated config into a Conn; a Conn
// has Streams; a Stream reads one table into an Output. Everything a provider
// does not have to know about the protocol lives here, so Pluggy and
// GoCardless are only their own auth, paging and record shapes.
package source

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Source is a provider.
type Source interface {
	// Name is the binary's name, e.g. "source-pluggy".
	Name() string
	// Spec returns the connector specification; its ConnectionSpecification is
	// the JSON Schema every config is validated against before Open.
	Spec() protocol.Spec
	// Open binds the source to a config that already passed the spec. Errors
	// made with ConfigErrorf are the user's to fix.
	Open(ctx context.Context, config json.RawMessage, env Env) (Conn, error)
}

// ConfigNormalizer is implemented by sources that accept more than one
// spelling of a config value (a comma-separated string for a list, say). It
// runs before validation, on the decoded config object.
type ConfigNormalizer interface {
	NormalizeConfig(cfg map[string]any)
}

// Env is what the runtime lends a source.
type Env struct {
	// Log is the run's logger: its records become LOG messages (WARN for
	// things the user should see). A stream's reader logs through
	// Output.Logger instead, which names the stream.
	Log *slog.Logger
	// Secrets must be told about every credential obtained at run time (an
	// API key, a token) so no output can print it.
	Secrets *secret.Redactor
	// Version is the connector version.
	Version string
	// ConfigPath is the config file as the command line gave it (--config),
	// for the commands a message tells the user to run; empty outside a
	// command line.
	ConfigPath string
	// StatePath is the state file a read resumes from and keeps its state
	// in, as the command line gave it (--state-file, else a --state that is
	// a regular file), for the commands a message tells the user to run
	// (GoCardless's re-link moves the state in it); empty when the state is
	// elsewhere (PostgreSQL, a pipe) or the run has none. Airbyte's --state
	// is a regular file, named here with StateInput set.
	StatePath string
	// StateInput says StatePath is a --state: a file the read only reads,
	// which under Airbyte is the platform's copy of the connection's state,
	// written for the one sync, not a file the user keeps (--state-file).
	StateInput bool
	// Airbyte says the Airbyte platform started the run (see
	// UnderAirbyte): its --config and --state are then files it wrote for
	// the one sync, and what a message tells the user to do with them is
	// done in the platform's settings instead.
	Airbyte bool
}

// UnderAirbyte reports whether the Airbyte platform started this process:
// its launcher sets WORKER_JOB_ID (with WORKER_CONNECTOR_IMAGE and
// WORKER_JOB_ATTEMPT) in every connector container it starts, the Docker
// deployments' AirbyteIntegrationLauncher and the Kubernetes workload
// launcher alike, and a read run by hand, in the image or not, has none.
// A --state or --config path tells nothing: Airbyte's are under /airbyte,
// a path a user's docker run may mount too.
func UnderAirbyte() bool { return os.Getenv("WORKER_JOB_ID") != "" }

// ConfigArg is the value of --config in a command a message tells the
// user to run: the run's own config file, quoted for a shell when it needs
// to be, or CONFIG when the run has none.
func (e Env) ConfigArg() string { return shellArg(e.ConfigPath, "CONFIG") }

// StateArg is StatePath as ConfigArg gives ConfigPath, or STATE when the
// run has no state file.
func (e Env) StateArg() string { return shellArg(e.StatePath, "STATE") }

// shellArg is path quoted for a shell when it needs to be, or placeholder
// when path is empty.
func shellArg(path, placeholder string) string {
	if path == "" {
		return placeholder
	}
	if strings.IndexFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@=", r))
	}) < 0 {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}

// Conn is a source bound to one config.
type Conn interface {
	// Check proves the config works: credentials, ids, reachability. A
	// ConfigErrorf error becomes CONNECTION_STATUS FAILED with its message.
	Check(ctx context.Context) error
	// Streams lists the streams in discover order.
	Streams() []Stream
	Close() error
}

// Stream is one table.
type Stream interface {
	Name() string
	// Schema is the draft-07 JSON Schema of a record.
	Schema() json.RawMessage
	PrimaryKey() [][]string
	// CursorField is the source-defined cursor of an incremental stream; nil
	// means the stream only supports full_refresh.
	CursorField() []string
	// Read emits the stream's records into out. In incremental mode it
	// checkpoints with out.Checkpoint whenever resuming from there is safe.
	// It returns the joined errors of the parts (accounts, items) that failed
	// after letting the others finish.
	Read(ctx context.Context, req ReadRequest, out Output) error
}

// StateChecker is implemented by incremental streams so a malformed state is
// rejected before anything is read, never silently turned into a full re-read.
type StateChecker interface {
	CheckState(state json.RawMessage) error
}

// StateMerger is implemented by a stream that announces (Output.Announce),
// so that a sink that makes rows durable only now and then (Parquet commits
// files by size) need not do so at every announcement. Such a sink holds a
// state back until the rows before it are durable; but the rows after an
// announcement may reach a file before the state after them does, so the
// sink must first pass on a state that lists their ids. The held state
// lists them, but also claims progress the file in progress does not hold
// yet. MergeState gives the sink a state that lists them and claims none.
// Without it, the sink commits its file at every announcement, which cut a
// first sync of a hundred accounts into a file or more per account.
type StateMerger interface {
	// MergeState returns a state that resumes exactly where released
	// resumes (a state of this stream: one it emitted, or the run's input;
	// the zero State for none) and that lists, as ids a resuming run must
	// check, every id state (a later state of the stream) lists and
	// released does not; released itself when there is no such id. The
	// states are taken as values: a stream's own snapshot (State.Snapshot)
	// is merged without being encoded and parsed again, and so may the
	// result be (StateOfSnapshot), for the sink to encode only if it must.
	MergeState(released, state State) (State, error)
}

// ReadRequest says how to read a stream.
type ReadRequest struct {
	Mode protocol.SyncMode
	// State is the stream's previous state; nil on a first sync and always
	// nil in full_refresh.
	State json.RawMessage
}

// Output receives a stream's records and checkpoints. It is safe for
// concurrent use by the stream's workers; records of one worker stay in the
// order it emits them.
type Output interface {
	// Record emits one record: the API's JSON object, passed through
	// verbatim, with the fields the connector adds (join ids, tombstone
	// markers). row.Raw may be a slice of a page buffer: it is not kept
	// past the call, so the caller may reuse it afterwards.
	Record(row jsonrow.Row) error
	// Checkpoint emits the stream's whole state as a STREAM state. It covers
	// every record emitted before the call, so call it only once those
	// records are all out. Identical consecutive states are suppressed.
	Checkpoint(state any) error
	// Announce emits the stream's whole state ahead of records: a
	// checkpoint that also lists what the records about to be emitted
	// need the state to hold before any output has them (their ids, so
	// that a run killed before its next Checkpoint leaves the next run a
	// way to tell which of them were deleted since). Like Checkpoint it
	// covers every record emitted before it; unlike Checkpoint it reaches
	// every output before any record emitted after it: a sink that holds
	// states back makes the rows before it durable at once (Parquet
	// commits its file). Partitions.Announce calls it.
	Announce(state any) error
	// Logger is the stream's structured logger: it carries the stream's
	// attribute, and callers add theirs (item, account) rather than
	// formatting them into the message.
	Logger() *slog.Logger
}

// SyncModes lists what a stream supports, full_refresh first as the
// acceptance tests expect.
func SyncModes(s Stream) []protocol.SyncMode {
	if s.CursorField() != nil {
		return []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental}
	}
	return []protocol.SyncMode{protocol.FullRefresh}
}

// Describe turns a Stream into its catalog entry.
func Describe(s Stream) protocol.Stream {
	st := protocol.Stream{
		Name:                    s.Name(),
		JSONSchema:              s.Schema(),
		SupportedSyncModes:      SyncModes(s),
		SourceDefinedPrimaryKey: s.PrimaryKey(),
	}
	if c := s.CursorField(); c != nil {
		st.SourceDefinedCursor = true
		st.DefaultCursorField = c
		st.IsResumable = true
	}
	return st
}
