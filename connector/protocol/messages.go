// Package protocol holds the Airbyte protocol as plain Go structs and the one
// writer that owns stdout.
//
// The types mirror airbyte_protocol.yaml (v0.18.0). Optional string and object
// fields carry omitempty because the official schema rejects null for them;
// record data and stream state stay json.RawMessage so the bytes a provider
// produced reach stdout unchanged (money keeps its exact digits).
package protocol

import (
	"encoding/json"
	"strconv"
)

// Version is the Airbyte protocol version the connectors speak. Sent in SPEC.
const Version = "0.5.2"

// MessageType is the discriminator of an AirbyteMessage.
type MessageType string

// Message types.
const (
	TypeRecord           MessageType = "RECORD"
	TypeState            MessageType = "STATE"
	TypeLog              MessageType = "LOG"
	TypeSpec             MessageType = "SPEC"
	TypeConnectionStatus MessageType = "CONNECTION_STATUS"
	TypeCatalog          MessageType = "CATALOG"
	TypeTrace            MessageType = "TRACE"
)

// Message is the AirbyteMessage envelope: exactly one pointer matching Type is set.
type Message struct {
	Type             MessageType       `json:"type"`
	Log              *Log              `json:"log,omitempty"`
	Spec             *Spec             `json:"spec,omitempty"`
	ConnectionStatus *ConnectionStatus `json:"connectionStatus,omitempty"`
	Catalog          *Catalog          `json:"catalog,omitempty"`
	Record           *Record           `json:"record,omitempty"`
	State            *State            `json:"state,omitempty"`
	Trace            *Trace            `json:"trace,omitempty"`
}

// Record is one row of a stream. EmittedAt is epoch milliseconds.
type Record struct {
	Stream    string          `json:"stream"`
	Namespace string          `json:"namespace,omitempty"`
	Data      json.RawMessage `json:"data"`
	EmittedAt int64           `json:"emitted_at"`
	// Meta is the record's AirbyteRecordMessageMeta; set only on a row
	// with changes (see MetaSourceChanges).
	Meta json.RawMessage `json:"meta,omitempty"`
}

// MetaSourceChanges is the member of a RECORD's meta that lists what the
// connector did to the row's values before emitting it (jsonrow.Change:
// invalid UTF-8 replaced, say). Airbyte's own meta.changes allows only
// NULLED and TRUNCATED for the change, so these go beside it, in the same
// shape, where the protocol allows members of the connector's own.
const MetaSourceChanges = "source_changes"

// StateType says how a state message is scoped. This runtime emits STREAM
// only; LEGACY is accepted on input.
type StateType string

// State types.
const (
	StateStream StateType = "STREAM"
	StateGlobal StateType = "GLOBAL"
	StateLegacy StateType = "LEGACY"
)

// State is an AirbyteStateMessage.
type State struct {
	Type        StateType       `json:"type,omitempty"`
	Stream      *StreamState    `json:"stream,omitempty"`
	Global      *GlobalState    `json:"global,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	SourceStats *StateStats     `json:"sourceStats,omitempty"`
}

// StreamState is the state of one stream.
type StreamState struct {
	StreamDescriptor StreamDescriptor `json:"stream_descriptor"`
	StreamState      json.RawMessage  `json:"stream_state,omitempty"`
}

// GlobalState is accepted on input so a GLOBAL state file is understood, never emitted.
type GlobalState struct {
	SharedState  json.RawMessage `json:"shared_state,omitempty"`
	StreamStates []StreamState   `json:"stream_states"`
}

// StateStats carries the records emitted for a stream since its previous STATE.
type StateStats struct {
	RecordCount Count `json:"recordCount"`
}

// Count is a record count that serialises with a decimal point ("250.0"),
// as the protocol asks for its double-typed counters.
type Count float64

// MarshalJSON writes the count with one decimal place.
func (c Count) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(c), 'f', 1, 64), nil
}

// StreamDescriptor names a stream.
type StreamDescriptor struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Level is a LOG level.
type Level string

// Log levels.
const (
	LevelFatal Level = "FATAL"
	LevelError Level = "ERROR"
	LevelWarn  Level = "WARN"
	LevelInfo  Level = "INFO"
	LevelDebug Level = "DEBUG"
)

// Log is a human-readable log line.
type Log struct {
	Level      Level  `json:"level"`
	Message    string `json:"message"`
	StackTrace string `json:"stack_trace,omitempty"`
}

// Spec is the connector specification.
type Spec struct {
	DocumentationURL        string          `json:"documentationUrl,omitempty"`
	ChangelogURL            string          `json:"changelogUrl,omitempty"`
	ConnectionSpecification json.RawMessage `json:"connectionSpecification"`
	SupportsIncremental     bool            `json:"supportsIncremental,omitempty"`
	ProtocolVersion         string          `json:"protocol_version,omitempty"`
}

// Connection status values.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
)

// ConnectionStatus answers check.
type ConnectionStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// SyncMode is how a stream is read.
type SyncMode string

// Sync modes.
const (
	FullRefresh SyncMode = "full_refresh"
	Incremental SyncMode = "incremental"
)

// Catalog is what discover prints.
type Catalog struct {
	Streams []Stream `json:"streams"`
}

// Stream is an AirbyteStream.
type Stream struct {
	Name                    string          `json:"name"`
	Namespace               string          `json:"namespace,omitempty"`
	JSONSchema              json.RawMessage `json:"json_schema"`
	SupportedSyncModes      []SyncMode      `json:"supported_sync_modes"`
	SourceDefinedCursor     bool            `json:"source_defined_cursor,omitempty"`
	DefaultCursorField      []string        `json:"default_cursor_field,omitempty"`
	SourceDefinedPrimaryKey [][]string      `json:"source_defined_primary_key,omitempty"`
	IsResumable             bool            `json:"is_resumable,omitempty"`
}

// ConfiguredCatalog is the input of read.
type ConfiguredCatalog struct {
	Streams []ConfiguredStream `json:"streams"`
}

// ConfiguredStream is one stream the user selected, with its sync mode.
type ConfiguredStream struct {
	Stream              Stream     `json:"stream"`
	SyncMode            SyncMode   `json:"sync_mode"`
	DestinationSyncMode string     `json:"destination_sync_mode"`
	CursorField         []string   `json:"cursor_field,omitempty"`
	PrimaryKey          [][]string `json:"primary_key,omitempty"`
}

// TraceType is the kind of a TRACE message.
type TraceType string

// Trace types.
const (
	TraceError        TraceType = "ERROR"
	TraceEstimate     TraceType = "ESTIMATE"
	TraceStreamStatus TraceType = "STREAM_STATUS"
)

// Trace is a TRACE message. EmittedAt is epoch milliseconds.
type Trace struct {
	Type         TraceType     `json:"type"`
	EmittedAt    float64       `json:"emitted_at"`
	Error        *ErrorTrace   `json:"error,omitempty"`
	Estimate     *Estimate     `json:"estimate,omitempty"`
	StreamStatus *StreamStatus `json:"stream_status,omitempty"`
}

// FailureType tells the platform who must act on an error.
type FailureType string

// Failure types.
const (
	SystemError    FailureType = "system_error"
	ConfigError    FailureType = "config_error"
	TransientError FailureType = "transient_error"
)

// ErrorTrace reports a failure to the user.
type ErrorTrace struct {
	Message          string            `json:"message"`
	InternalMessage  string            `json:"internal_message,omitempty"`
	StackTrace       string            `json:"stack_trace,omitempty"`
	FailureType      FailureType       `json:"failure_type,omitempty"`
	StreamDescriptor *StreamDescriptor `json:"stream_descriptor,omitempty"`
}

// Estimate is an ESTIMATE trace's body: how many rows a stream (STREAM)
// or the whole sync (SYNC) will emit, for the platform's progress ("X of
// about Y records"). A later one for a stream replaces the earlier.
type Estimate struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Type      string `json:"type"`
	// RowEstimate has no omitempty: an estimate of 0 rows says the stream
	// brings none, where leaving it out would say nothing.
	RowEstimate  int64 `json:"row_estimate"`
	ByteEstimate int64 `json:"byte_estimate,omitempty"`
}

// Estimate types. This runtime sends STREAM only: the protocol prefers it
// and forbids mixing the two in one sync.
const (
	EstimateStream = "STREAM"
	EstimateSync   = "SYNC"
)

// Status is a stream's lifecycle status.
type Status string

// Stream statuses.
const (
	Started    Status = "STARTED"
	Running    Status = "RUNNING"
	Complete   Status = "COMPLETE"
	Incomplete Status = "INCOMPLETE"
)

// StreamStatus is a STREAM_STATUS trace.
type StreamStatus struct {
	StreamDescriptor StreamDescriptor `json:"stream_descriptor"`
	Status           Status           `json:"status"`
	Reasons          []StatusReason   `json:"reasons,omitempty"`
}

// StatusReason explains a RUNNING status; this runtime only sends RATE_LIMITED.
type StatusReason struct {
	Type        string       `json:"type"`
	RateLimited *RateLimited `json:"rate_limited,omitempty"`
}

// RateLimited carries when the quota resets, in epoch milliseconds.
type RateLimited struct {
	QuotaReset int64 `json:"quota_reset,omitempty"`
}
