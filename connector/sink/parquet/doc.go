// Package parquet is the Parquet sink of a read: with --parquet-dir DIR every
// record of every configured stream is also written, typed and columnar, to
// DIR/<stream>/part-<run start, yyyyMMddTHHmmssZ>-<seq>.parquet, while stdout
// keeps carrying the protocol messages. The run's start is the clock's,
// unless a stream folder already holds a file stamped at or after it: then
// just after that file's, so that names and source_pluggy.run_started_at
// always order runs as they were written (see runStamp).
//
// # Columns
//
// The columns come from the stream's JSON Schema, property by property, in
// declaration order:
//
//	JSON Schema                                  Parquet (Arrow) column
//	"string"                                     STRING (utf8)
//	"string", "format": "date-time"              TIMESTAMP(MICROS, UTC)
//	"string", "format": "date"                   DATE
//	"string", "x-lenient-time": true             STRING, verbatim, plus <name>_parsed TIMESTAMP(MICROS, UTC), null when unparseable
//	"string", "x-decimal-string": true           DECIMAL(38, x-decimal-scale or 4)
//	"number"                                     DECIMAL(38, 4): money
//	"number", "x-decimal-scale": N               DECIMAL(38, N)
//	"integer"                                    INT64
//	"boolean"                                    BOOLEAN
//	"object" with properties                     STRUCT of its properties
//	"array" of objects with properties           LIST<STRUCT>
//	object without properties, other arrays,     STRING holding the value's JSON text
//	  no "type", or several non-null types
//
// A column is nullable unless the property is required, its type excludes
// null and its parent can never be null. Properties a record has but the
// schema lacks are not written to Parquet (they stay in the JSON output).
//
// # Exactness
//
// Values are never rounded, truncated or guessed. Money is DECIMAL(38,4)
// rather than DECIMAL(18,2) because Open Finance amounts can carry four
// places (56.8248); a value with more places than its column keeps, one
// over 38 digits, a timestamp that is not RFC 3339 or has digits below the
// microsecond, or a missing required value fails the write with a
// *FieldError naming the stream, field and value. Decimals are parsed from
// the JSON text, never through float64. Timestamps keep their instant; the
// offset they were written with is not kept (the columns are UTC). A number
// or boolean where the schema says string is stored as its JSON text.
//
// # Files and state
//
// Rows are buffered as Parquet column data (each leaf column's definition
// and repetition levels and values, appended straight from the record's
// JSON; no Arrow arrays in between) and written a row group (65,536 rows or
// 4 MiB of column data) at a time into a hidden temporary, .part-…parquet.tmp, in the same
// directory. A file is committed after RowsPerFile rows (250,000) and at
// the end of the stream: footer written, file fsynced, hard-linked to its
// final name (never replacing a file), directory fsynced. Only then does
// Write or Commit report it, and only then does the runtime emit the STATE
// covering its records (see source.RecordSink), so every STATE printed
// covers records that are in visible, complete files. A crash leaves at most
// a hidden temporary, removed by the next run's Open if older than its
// start (a regular file of the user's of a temporary's name only; see
// removeStale). A failed write deletes the file in progress; its records are not
// covered by any emitted state and are read again next run.
//
// A full-refresh stream's files are its snapshot: they are finished under
// their temporary names and published together when the stream is read to
// its end, or removed when it is not, so the newest run's files are always
// a whole snapshot (Writer.PublishSnapshot, Writer.DiscardSnapshot).
//
// Every file's key-value metadata records source_pluggy.stream,
// source_pluggy.sync_mode, source_pluggy.connector_version,
// source_pluggy.run_started_at and source_pluggy.json_schema.
package parquet
