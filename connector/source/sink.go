package source

import (
	"encoding/json"
	"log/slog"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// A read's outputs are a chain of StreamSinks per stream. The runtime hands
// the head of the chain every row and every checkpoint of the stream, in
// order; each sink keeps what it keeps and passes everything on to the next
// one; the last one writes the stream's messages to stdout (records unless
// --no-records, states always). Parquet files and a database are links of
// that chain; a provider never knows which outputs exist.
//
// A state is a promise to the platform: the next run resumes after every
// row the state covers. So a STATE may reach stdout only once every sink
// holds those rows durably. Each sink is therefore a barrier for states: it
// passes a state on only when the rows before it are durable in that sink
// (at once, for a sink that commits per state; later, for one that commits
// by file), and never passes on a state whose rows it lost. Rows pass
// through at once: a row on stdout before it is durable in a file is
// harmless, since no state covering it has gone out yet.

// Sink is an output of a read besides stdout: Parquet files, a database.
type Sink interface {
	// OpenStream returns the sink of one stream, the link in front of
	// next. It is called once per stream, before the stream is read, in
	// catalog order; a stream is read to its end before the next one opens.
	OpenStream(info StreamInfo, next StreamSink) (StreamSink, error)
	// Close is called once after the last stream has ended, whatever
	// happened; it releases what the sink holds. The error is reported
	// after the streams' own.
	Close() error
}

// StreamInfo is what a sink knows about the stream it is opened for.
type StreamInfo struct {
	Stream Stream
	// State is the state the stream's read resumes from (nil on a first
	// sync and in full_refresh): what a sink that holds states back has
	// passed on before its first state of this run.
	State json.RawMessage
	// NextKeepsRows says whether a link after this one keeps rows: a sink,
	// or stdout printing records. An announcement must reach it before
	// the rows after it.
	NextKeepsRows bool
	// Mode is the configured sync mode. In full_refresh the stream's rows
	// are its whole table: a sink that keeps tables replaces the table's
	// rows with this read's at End (and only if the read succeeded).
	Mode protocol.SyncMode
	// Log is the stream's logger (its records carry the stream's name),
	// for what a sink tells the user without failing: a WARN for a value
	// kept in its leftovers. Nil discards.
	Log *slog.Logger
	// RunLog is the run's logger, whose records name no stream, for what
	// a sink says of the whole run from whichever stream opens first (the
	// Parquet files' stamp): under Log it would read as that stream's.
	// Nil discards.
	RunLog *slog.Logger
}

// StreamSink is one stream's link of the chain. The runtime calls it from
// one goroutine at a time (the stream's workers are serialised by the
// stream's lock), in the order rows and states were emitted.
type StreamSink interface {
	// Record takes one row: the API's JSON object plus the connector's
	// fields (see jsonrow.Row; Row.Tombstone marks a deleted row). row.Raw
	// is only valid during the call: a sink that keeps it must copy it.
	// The sink passes the row to next. An error fails the stream; states
	// the sink has not passed on yet are then never emitted.
	Record(row jsonrow.Row) error
	// State takes a checkpoint of the stream: its whole state (its JSON
	// made when a link asks for it, see State), covering every row passed
	// to Record before it. The sink passes it to next once those rows are
	// durable in the sink: in the same call if it can make them durable
	// together with the state (a database commits the rows and the state in
	// one transaction), or later, from a Record or from End, once they are
	// (Parquet publishes a file). A sink that holds a state back and
	// receives a newer one may drop the older: only the latest durable
	// state matters.
	State(state State) error
	// Announce takes an announcement (Output.Announce): a state, like
	// those State takes, that must reach next before any row after it
	// does. A sink makes the rows before it durable at once (Parquet
	// commits its file) and passes it on. A sink with nothing after it
	// that keeps rows (StreamInfo.NextKeepsRows false) may instead hold
	// it like a state, if before making any row after it durable it
	// passes on a state that lists those rows (StateMerger). A sink that
	// commits rows and states together may take a.State as a State,
	// committed with the rows before it and passed on later: its own
	// store then never holds a row its committed state neither covers nor
	// lists, though stdout gets the rows after it first.
	Announce(a Announcement) error
	// End ends the stream. readErr is nil when the stream was read to the
	// end, else why it stopped. The sink makes what it has durable (even
	// on failure, so rows already read are not read again), passes on the
	// states that covers, then calls next.End with readErr, or with its
	// own error if readErr is nil and it could not finish; it returns what
	// next.End returned. That error is the stream's outcome.
	End(readErr error) error
}

// Announcement is an announcement on its way down a stream's chain.
type Announcement struct {
	// State is the stream's whole state, listing the ids of the rows about
	// to be emitted; like a checkpoint, it covers every row before it.
	State State
	// Listing says State is a sink's StateMerger state: it lists ids and
	// claims no progress beyond the last state passed on, so it covers
	// none of the rows before it. With --no-records stdout counts those in
	// the next state's sourceStats instead of this one's.
	Listing bool
}

// Encoder writes a run's messages in one output format: Airbyte messages
// (protocol.Writer) or Singer ones. It is the last link of every stream's
// chain and also carries the run's logs, traces and statuses. Safe for
// concurrent use; every message but a RECORD is written out at once.
type Encoder interface {
	// Record writes one RECORD of stream.
	Record(stream string, row jsonrow.Row) error
	// State writes a checkpoint or an announcement of stream, with the
	// number of records written for it since its previous state.
	State(stream string, state json.RawMessage, recordCount int64) error
	Log(level protocol.Level, msg string) error
	// StreamStatus reports a stream's lifecycle (STARTED, RUNNING with or
	// without a reason, COMPLETE, INCOMPLETE).
	StreamStatus(stream string, status protocol.Status, reasons ...protocol.StatusReason) error
	// Estimate reports how many rows stream will emit in this read, all
	// told (an ESTIMATE trace of type STREAM; each replaces the last). It
	// goes to the encoder, not down the sink chain: Parquet and PostgreSQL
	// have no place for it; Singer has none either, and its encoder
	// ignores it.
	Estimate(stream string, rows int64) error
	// Error reports a failure; stream may be empty.
	Error(ft protocol.FailureType, stream, msg, internal string) error
	// Flush writes out buffered records.
	Flush() error
}

var _ Encoder = (*protocol.Writer)(nil)
