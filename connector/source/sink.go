package source

import "github.com/source-pluggy/source-pluggy/connector/protocol"

// RecordSink receives a stream's records besides stdout, e.g. Parquet files.
//
// A STATE may only be emitted once every record it covers is durable, or a
// crash would leave the next run starting after records the files never got.
// The runtime therefore holds a stream's checkpoint back while the sink has
// uncommitted records, and emits it as soon as Write reports a commit (a file
// rotated) or the stream ends (Commit).
type RecordSink interface {
	// Write appends one record (a JSON object). committed reports that every
	// record written so far is now durable.
	Write(data []byte) (committed bool, err error)
	// Commit makes every record written so far durable.
	Commit() error
}

// Sinks opens one RecordSink per stream of a read.
type Sinks interface {
	OpenStream(s Stream, mode protocol.SyncMode) (RecordSink, error)
	// Close commits and closes every stream's sink.
	Close() error
}
