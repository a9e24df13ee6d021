package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Writer is the single owner of stdout. It is safe for concurrent use: each
// message is written whole under one lock, so records of concurrent workers
// never interleave within a line, and a STATE is written after every record
// that was handed to the Writer before it.
//
// Records are buffered; every other message flushes, so a STATE reaches the
// platform as soon as it is emitted and a crash after it loses nothing the
// STATE covers.
//
// Messages are appended to a buffer under mu; a full buffer is swapped for
// a spare and written out under ioMu only, so workers keep appending while
// stdout (a pipe the platform may drain slowly) takes the previous one.
// ioMu is taken before mu is released, so buffers go out in the order they
// were cut, and at most one more fills while one is being written.
type Writer struct {
	mu      sync.Mutex // guards everything below but out
	buf     []byte     // messages not yet handed to out
	spare   []byte     // a written buffer, for reuse
	err     error      // the first write error; sticky
	redact  *secret.Redactor
	now     func() time.Time
	scratch bytes.Buffer
	// recStream and recPrefix cache a RECORD's opening up to its data for
	// the stream last written: streams are read one at a time.
	recStream string
	recPrefix []byte
	enc       *json.Encoder
	// lastFailure is the failure type of the last ERROR trace sent.
	lastFailure FailureType

	ioMu sync.Mutex // held while writing to out
	out  io.Writer
}

// bufSize is the size at which records are handed to stdout.
const bufSize = 256 << 10

// NewWriter returns a Writer on w that masks the redactor's secrets in every
// LOG and TRACE text.
func NewWriter(w io.Writer, redact *secret.Redactor) *Writer {
	growPipe(w)
	pw := &Writer{out: w, buf: make([]byte, 0, bufSize+4<<10), redact: redact, now: time.Now}
	pw.enc = json.NewEncoder(&pw.scratch)
	pw.enc.SetEscapeHTML(false)
	return pw
}

// Now returns the writer's clock in epoch milliseconds.
func (w *Writer) Now() time.Time { return w.now() }

// Record writes one RECORD whose data is row laid out by jsonrow: the
// connector's fields in front of the API's bytes, copied verbatim (compacted
// first if they span lines), so numbers keep their exact digits.
func (w *Writer) Record(stream string, row jsonrow.Row) error {
	ms := w.now().UnixMilli()
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	if stream != w.recStream || w.recPrefix == nil {
		w.recStream = stream
		w.recPrefix = jsonrow.AppendString(append(w.recPrefix[:0], `{"type":"RECORD","record":{"stream":`...), stream)
		w.recPrefix = append(w.recPrefix, `,"data":`...)
	}
	b := append(w.buf, w.recPrefix...)
	b = row.AppendTo(b)
	b = append(b, `,"emitted_at":`...)
	b = strconv.AppendInt(b, ms, 10)
	if len(row.Changes) > 0 {
		b = append(b, `,"meta":{"`+MetaSourceChanges+`":[`...)
		for i, c := range row.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.AppendTo(b)
		}
		b = append(b, "]}"...)
	}
	w.buf = append(b, "}}\n"...)
	return w.release(false)
}

// State writes one STREAM state with its sourceStats.recordCount and
// flushes: a STATE reaches the platform as soon as it is emitted.
func (w *Writer) State(stream string, state json.RawMessage, recordCount int64) error {
	return w.Send(&Message{Type: TypeState, State: &State{
		Type:        StateStream,
		Stream:      &StreamState{StreamDescriptor: StreamDescriptor{Name: stream}, StreamState: state},
		SourceStats: &StateStats{RecordCount: Count(recordCount)},
	}})
}

// release unlocks mu, which the caller holds. With flush, or once the
// buffer is full, it first hands the buffer to stdout, then the extra
// parts, and returns once they and every buffer cut before them are
// written, with the first write error.
func (w *Writer) release(flush bool, extra ...[]byte) error {
	if len(extra) == 0 {
		return w.releaseWith(flush, nil)
	}
	return w.releaseWith(flush, func(out io.Writer) error {
		for _, p := range extra {
			if _, err := out.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// releaseWith is release with what follows the buffer written by more
// (nil for nothing), under ioMu.
func (w *Writer) releaseWith(flush bool, more func(io.Writer) error) error {
	if !flush && len(w.buf) < bufSize {
		w.mu.Unlock()
		return nil
	}
	full := w.buf
	if len(full) > 0 {
		w.buf, w.spare = w.spare, nil
		if w.buf == nil {
			w.buf = make([]byte, 0, bufSize+4<<10)
		}
	}
	w.ioMu.Lock() // before mu is released: buffers go out in order
	w.mu.Unlock()
	var err error
	if len(full) > 0 {
		_, err = w.out.Write(full)
	}
	if err == nil && more != nil {
		err = more(w.out)
	}
	w.ioMu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil && w.err == nil {
		w.err = err
	}
	if len(full) > 0 && w.spare == nil && cap(full) <= 2*bufSize { // a state can make one huge
		w.spare = full[:0]
	}
	return w.err
}

// Err is the first error writing to the output, which every later write
// returns too: once stdout's reader is gone, nothing more reaches it.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// StateFrom is State for a state that write writes (compact JSON on one
// line, as State takes it), streamed to stdout after the buffered records
// in 64 KiB pieces rather than copied whole: the transactions state weighs
// megabytes. write must fail only when its writer does (a cut line then
// fails the Writer, as any failed write does).
func (w *Writer) StateFrom(stream string, write func(io.Writer) error, recordCount int64) error {
	st := &State{Type: StateStream, Stream: &StreamState{StreamDescriptor: StreamDescriptor{Name: stream}},
		SourceStats: &StateStats{RecordCount: Count(recordCount)}}
	if !plainASCII(stream) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		return w.State(stream, b.Bytes(), recordCount)
	}
	tail := appendStreamStateTail(nil, st)
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	w.buf = appendStreamStateHead(w.buf, st)
	return w.releaseWith(true, func(out io.Writer) error {
		bw := bufio.NewWriterSize(out, 64<<10)
		if err := write(bw); err != nil {
			return err
		}
		if _, err := bw.Write(tail); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// Send writes any message and flushes. LOG and TRACE texts are redacted.
func (w *Writer) Send(m *Message) error {
	w.scrub(m)
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	if raw, ok := streamState(m); ok {
		if len(raw) > bufSize/4 {
			// A large state goes out from where it is, after the
			// buffered records, instead of being copied into the buffer.
			w.buf = appendStreamStateHead(w.buf, m.State)
			return w.release(true, raw, appendStreamStateTail(nil, m.State))
		}
		w.buf = appendStreamStateTail(append(appendStreamStateHead(w.buf, m.State), raw...), m.State)
	} else {
		w.scratch.Reset()
		if err := w.enc.Encode(m); err != nil {
			w.mu.Unlock()
			return fmt.Errorf("encoding %s message: %w", m.Type, err)
		}
		w.buf = append(w.buf, w.scratch.Bytes()...)
	}
	return w.release(true)
}

// Flush writes out buffered records.
func (w *Writer) Flush() error {
	w.mu.Lock()
	if w.err != nil {
		defer w.mu.Unlock()
		return w.err
	}
	return w.release(true)
}

// Log sends a LOG message.
func (w *Writer) Log(level Level, msg string) error {
	return w.Send(&Message{Type: TypeLog, Log: &Log{Level: level, Message: msg}})
}

// Trace sends a TRACE message stamped with the current time.
func (w *Writer) Trace(t *Trace) error {
	t.EmittedAt = float64(w.now().UnixMilli())
	return w.Send(&Message{Type: TypeTrace, Trace: t})
}

// StreamStatus sends a STREAM_STATUS trace.
func (w *Writer) StreamStatus(stream string, status Status, reasons ...StatusReason) error {
	return w.Trace(&Trace{Type: TraceStreamStatus, StreamStatus: &StreamStatus{
		StreamDescriptor: StreamDescriptor{Name: stream}, Status: status, Reasons: reasons,
	}})
}

// Estimate sends a STREAM ESTIMATE trace: stream will emit about rows
// records in this sync.
func (w *Writer) Estimate(stream string, rows int64) error {
	return w.Trace(&Trace{Type: TraceEstimate, Estimate: &Estimate{Name: stream, Type: EstimateStream, RowEstimate: rows}})
}

// Error sends an ERROR trace. stream may be empty.
func (w *Writer) Error(ft FailureType, stream, msg, internal string) error {
	e := &ErrorTrace{Message: msg, InternalMessage: internal, FailureType: ft}
	if stream != "" {
		e.StreamDescriptor = &StreamDescriptor{Name: stream}
	}
	if err := w.Trace(&Trace{Type: TraceError, Error: e}); err != nil {
		return err
	}
	w.mu.Lock()
	w.lastFailure = ft
	w.mu.Unlock()
	return nil
}

// LastFailure is the failure type of the last ERROR trace sent, or "" if
// none was: a run's closing trace sums up its failure, so it is the run's.
func (w *Writer) LastFailure() FailureType {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastFailure
}

// streamState reports whether m is a STREAM state message the writer
// encodes itself (appendStreamStateHead), and returns its state. It leaves
// out other messages, and states spanning lines, which encoding/json must
// compact.
func streamState(m *Message) (json.RawMessage, bool) {
	st := m.State
	if m.Type != TypeState || st == nil || st.Type != StateStream || st.Stream == nil || st.Global != nil || st.Data != nil ||
		m.Log != nil || m.Spec != nil || m.ConnectionStatus != nil || m.Catalog != nil || m.Record != nil || m.Trace != nil {
		return nil, false
	}
	ss := st.Stream
	raw := bytes.TrimSpace(ss.StreamState)
	if ss.StreamDescriptor.Namespace != "" || len(raw) == 0 || bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 || !plainASCII(ss.StreamDescriptor.Name) {
		return nil, false
	}
	return raw, true
}

// appendStreamStateHead and appendStreamStateTail write what comes before
// and after the state of a STREAM state message, as encoding/json would
// (byte for byte when the state is compact, as json.Marshal writes it), but
// without reflection and without validating and compacting the state again:
// a stream's state can be megabytes (ids by account), checkpointed after
// every account. States come from json.Marshal or from a parsed state file,
// so they are valid JSON.
func appendStreamStateHead(b []byte, st *State) []byte {
	b = append(b, `{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"`...)
	b = append(b, st.Stream.StreamDescriptor.Name...)
	return append(b, `"},"stream_state":`...)
}

// appendStreamStateTail writes what follows the state (see
// appendStreamStateHead).
func appendStreamStateTail(b []byte, st *State) []byte {
	b = append(b, '}')
	if st.SourceStats != nil {
		b = append(b, `,"sourceStats":{"recordCount":`...)
		b = strconv.AppendFloat(b, float64(st.SourceStats.RecordCount), 'f', 1, 64)
		b = append(b, '}')
	}
	return append(b, "}}\n"...)
}

// plainASCII reports whether s encodes as a JSON string unchanged (and
// without encoding/json's HTML escapes).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (w *Writer) scrub(m *Message) {
	if w.redact == nil {
		return
	}
	if m.Log != nil {
		m.Log.Message = w.redact.String(m.Log.Message)
		m.Log.StackTrace = w.redact.String(m.Log.StackTrace)
	}
	if m.Trace != nil && m.Trace.Error != nil {
		e := m.Trace.Error
		e.Message = w.redact.String(e.Message)
		e.InternalMessage = w.redact.String(e.InternalMessage)
		e.StackTrace = w.redact.String(e.StackTrace)
	}
	if m.ConnectionStatus != nil {
		m.ConnectionStatus.Message = w.redact.String(m.ConnectionStatus.Message)
	}
}
