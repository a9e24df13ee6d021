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
type Writer struct {
	mu      sync.Mutex
	buf     *bufio.Writer
	redact  *secret.Redactor
	now     func() time.Time
	err     error
	scratch bytes.Buffer
	enc     *json.Encoder
}

// NewWriter returns a Writer on w that masks the redactor's secrets in every
// LOG and TRACE text.
func NewWriter(w io.Writer, redact *secret.Redactor) *Writer {
	pw := &Writer{buf: bufio.NewWriterSize(w, 256<<10), redact: redact, now: time.Now}
	pw.enc = json.NewEncoder(&pw.scratch)
	pw.enc.SetEscapeHTML(false)
	return pw
}

// Now returns the writer's clock in epoch milliseconds.
func (w *Writer) Now() time.Time { return w.now() }

// Record writes one RECORD. data must be a single JSON object; it is copied
// to stdout verbatim (compacted first if it spans lines), so numbers keep
// their exact digits.
func (w *Writer) Record(stream string, data []byte) error {
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			return fmt.Errorf("record of stream %s is not valid JSON: %w", stream, err)
		}
		data = c.Bytes()
	}
	ms := w.now().UnixMilli()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	b := w.buf
	b.WriteString(`{"type":"RECORD","record":{"stream":`)
	writeJSONString(b, stream)
	b.WriteString(`,"data":`)
	b.Write(data)
	b.WriteString(`,"emitted_at":`)
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], ms, 10))
	_, err := b.WriteString("}}\n")
	if err != nil {
		w.err = err
	}
	return err
}

// Send writes any message and flushes. LOG and TRACE texts are redacted.
func (w *Writer) Send(m *Message) error {
	w.scrub(m)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.scratch.Reset()
	if err := w.enc.Encode(m); err != nil {
		return fmt.Errorf("encoding %s message: %w", m.Type, err)
	}
	if _, err := w.buf.Write(w.scratch.Bytes()); err != nil {
		w.err = err
		return err
	}
	if err := w.buf.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Flush writes out buffered records.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.buf.Flush(); err != nil {
		w.err = err
	}
	return w.err
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

// Error sends an ERROR trace. stream may be empty.
func (w *Writer) Error(ft FailureType, stream, msg, internal string) error {
	e := &ErrorTrace{Message: msg, InternalMessage: internal, FailureType: ft}
	if stream != "" {
		e.StreamDescriptor = &StreamDescriptor{Name: stream}
	}
	return w.Trace(&Trace{Type: TraceError, Error: e})
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

// writeJSONString writes s as a JSON string. Stream names are plain ASCII
// identifiers, but escape anyway rather than trust that.
func writeJSONString(b *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}
