package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// noCursorState is the state a full_refresh stream ends with: the protocol
// asks for a state in every mode, and this sentinel is ignored when it comes
// back (see loadState).
var noCursorState = json.RawMessage(`{"__ab_no_cursor_state_message":true}`)

// streamOutput is the Output of one stream in one read. It owns the stream's
// lifecycle statuses and its checkpoint rules, and hands rows and states to
// the head of the stream's sink chain (see Sink), whose last link writes
// them with the run's encoder:
//   - RUNNING before the first record (or before COMPLETE if none came);
//   - identical consecutive states are not emitted twice;
//   - in full_refresh the stream's checkpoints are ignored and one sentinel
//     state ends the stream.
//
// One mutex covers a record's way down the chain, so a STATE emitted by one
// worker never overtakes a record another worker has handed in before it,
// and the sinks see one call at a time.
type streamOutput struct {
	enc  Encoder
	name string
	mode protocol.SyncMode
	head StreamSink   // the sinks, then stdout
	log  *slog.Logger // the run's, with the stream's attribute
	// sinkFlags are the flags that turned the sinks on ("--parquet-dir"),
	// for the messages that speak of them: only the sinks in use.
	sinkFlags []string
	// endRun stops the read at a sink's error that ends the run (see
	// EndsRun); nil: nothing stops it.
	endRun context.CancelCauseFunc

	mu      sync.Mutex
	running bool
	warned  map[string]bool // WarnOnce keys already warned about
	// replaced is the text in which the HTTP client replaced invalid
	// UTF-8 in the run's answers, shared by its streams (see
	// replacedText). Not under mu: it has its own.
	replaced *replacedText
	// lastState is the SHA-256 of the last state handed down, for the
	// repeat check: a hash rather than the bytes, as a state with
	// per-account windows can weigh megabytes. Nil after an announcement.
	lastState []byte
	stated    bool // a state or announcement was handed down
	// rowEstimate is the stream's running row estimate (EstimateRows),
	// estimated whether one was sent; finished that finish has begun, after
	// which the stream sends nothing more of its own.
	rowEstimate int64
	estimated   bool
	finished    bool
}

var _ Output = (*streamOutput)(nil)

// newStreamOutput returns the output of one stream whose rows and states
// go through sinks (each opened in front of the next) and then to enc,
// without RECORD messages if skipRecords.
func newStreamOutput(enc Encoder, info StreamInfo, sinks []Sink, skipRecords bool) (*streamOutput, error) {
	name := info.Stream.Name()
	o := &streamOutput{enc: enc, name: name, mode: info.Mode,
		log: slog.New(NewLogHandler(enc)).With(StreamKey, name), replaced: &replacedText{}}
	info.Log = o.log
	var head StreamSink = &stdoutSink{enc: enc, name: name, skip: skipRecords}
	for i := len(sinks) - 1; i >= 0; i-- {
		info.NextKeepsRows = !skipRecords || i < len(sinks)-1
		next, err := sinks[i].OpenStream(info, head)
		if err != nil {
			return nil, err
		}
		head = next
	}
	o.head = head
	return o, nil
}

func (o *streamOutput) Record(row jsonrow.Row) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.running {
		o.running = true
		if err := o.enc.StreamStatus(o.name, protocol.Running); err != nil {
			return err
		}
	}
	if changes, route := o.replaced.changes(row); len(changes) > len(row.Changes) {
		row.Changes = changes
		// The answer may have been fetched while another stream read
		// (one call serving two streams, a list fetched once for
		// several), whose WARN this stream's users would not look for;
		// in the Singer mode the WARN is the only note there is.
		if !o.warned[invalidUTF8Key] {
			if o.warned == nil {
				o.warned = map[string]bool{}
			}
			o.warned[invalidUTF8Key] = true
			o.log.Warn(invalidUTF8Warning(o), "route", route)
		}
	}
	return o.ended(o.head.Record(row))
}

// ended passes a sink's err on, and stops the read at it first if it ends
// the run (see EndsRun).
func (o *streamOutput) ended(err error) error {
	if err != nil && o.endRun != nil && endsRun(err) {
		o.endRun(err)
	}
	return err
}

func (o *streamOutput) Checkpoint(state any) error { return o.emitState(state, false) }

// Announce hands an announcement down the chain. It always differs from
// the last state (it adds ids), so it is not hashed for the repeat check:
// a state weighing megabytes would cost a hash per account announced. The
// next checkpoint is compared with nothing instead.
func (o *streamOutput) Announce(state any) error { return o.emitState(state, true) }

func (o *streamOutput) emitState(state any, announce bool) error {
	if o.mode != protocol.Incremental {
		return nil
	}
	var st State
	if s, ok := state.(Snapshotter); ok {
		st = StateOfSnapshot(s.Snapshot())
	} else {
		b, err := encodeState(state)
		if err != nil {
			return fmt.Errorf("encoding %s state: %w", o.name, err)
		}
		st = StateOf(b)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if announce {
		o.lastState, o.stated = nil, true
		return o.ended(o.head.Announce(Announcement{State: st}))
	}
	return o.ended(o.stateLocked(st))
}

// encodeState marshals a checkpoint. A state that encodes itself (a
// json.Marshaler, like the transactions state with its id windows) is taken
// as it comes rather than through encoding/json, which would re-validate and
// copy megabytes at every checkpoint; it is only made compact if it spans
// lines, since a STATE must stay on one line.
func encodeState(state any) ([]byte, error) {
	m, ok := state.(json.Marshaler)
	if !ok {
		return json.Marshal(state)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return nil, err
		}
		b = c.Bytes()
	}
	return b, nil
}

// stateLocked hands a state down the chain unless it repeats the last one.
func (o *streamOutput) stateLocked(st State) error {
	sum, err := st.Sum()
	if err != nil {
		return fmt.Errorf("encoding %s state: %w", o.name, err)
	}
	if o.lastState != nil && bytes.Equal(sum[:], o.lastState) {
		return nil
	}
	o.lastState, o.stated = sum[:], true
	return o.head.State(st)
}

func (o *streamOutput) Logger() *slog.Logger { return o.log }

// finish ends the stream: on success the final state and COMPLETE; on
// failure INCOMPLETE and an ERROR trace. The sinks make durable what they
// hold either way, so states already emitted stand, and a failed stream's
// durable rows keep theirs: the next run must not read them again, nor skip
// what was not written.
//
// It returns the stream's outcome (readErr, or a sink's failure to finish),
// and an error only if stdout is gone.
func (o *streamOutput) finish(readErr error, input json.RawMessage) (outcome, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = true
	var notRead *NotReadError
	if errors.As(readErr, &notRead) {
		// The config turns the stream off: it ends as a read that
		// succeeded without records, except that the sinks are told it
		// failed, so that none replaces what it holds with the empty
		// snapshot of a stream nobody read.
		readErr = nil
		o.log.Warn(fmt.Sprintf("the stream is not read: %s. %sA destination that replaces the stream at every sync "+
			"(Airbyte's overwrite) would empty it: remove the stream from the catalog to keep it as it is", notRead.Why, o.sinksKeep()))
		if n, ok := o.enc.(notReadNotifier); ok {
			n.NotRead(o.name)
		}
	}
	if readErr == nil {
		// A full_refresh stream's checkpoints are ignored, so it always ends
		// with the sentinel. An incremental stream checkpoints itself; only
		// one that never did (no partitions at all) gets its input state back.
		var final []byte
		switch {
		case o.mode != protocol.Incremental:
			final = noCursorState
		case !o.stated:
			final = input
			if len(final) == 0 {
				final = []byte(`{}`)
			}
		}
		if final != nil {
			readErr = o.stateLocked(StateOf(final))
		}
	}
	endErr := readErr
	if readErr == nil && notRead != nil {
		endErr = notRead
	}
	if outcome = o.head.End(endErr); outcome != nil && (notRead == nil || !errors.Is(outcome, notRead)) {
		if err := o.enc.StreamStatus(o.name, protocol.Incomplete); err != nil {
			return outcome, err
		}
		return outcome, o.enc.Error(FailureTypeOf(outcome), o.name, userMessage(outcome), internalMessage(outcome))
	}
	if !o.running {
		if err := o.enc.StreamStatus(o.name, protocol.Running); err != nil {
			return nil, err
		}
	}
	return nil, o.enc.StreamStatus(o.name, protocol.Complete)
}

// sinksKeep says, for a stream the config turned off, that the run's sinks
// keep what they hold for it ("--parquet-dir and --postgres keep what they
// hold for it. "), or nothing when the run has none.
func (o *streamOutput) sinksKeep() string {
	switch len(o.sinkFlags) {
	case 0:
		return ""
	case 1:
		return o.sinkFlags[0] + " keeps what it holds for it. "
	}
	last := len(o.sinkFlags) - 1
	return strings.Join(o.sinkFlags[:last], ", ") + " and " + o.sinkFlags[last] + " keep what they hold for it. "
}

// notReadNotifier is an Encoder told of a stream the config turned off
// before its COMPLETE (the Singer encoder, which must not activate an
// empty version of it).
type notReadNotifier interface {
	NotRead(stream string)
}

// stdoutSink is the last link of every chain: the stream's messages on the
// run's encoder. It counts the records each state covers for the state's
// sourceStats, including those --no-records leaves off stdout.
type stdoutSink struct {
	enc   Encoder
	name  string
	skip  bool  // write no RECORD messages
	count int64 // records since the last state
}

func (s *stdoutSink) Record(row jsonrow.Row) error {
	s.count++
	if s.skip {
		return nil
	}
	return s.enc.Record(s.name, row)
}

func (s *stdoutSink) State(state State) error {
	if err := s.write(state, s.count); err != nil {
		return err
	}
	s.count = 0
	return nil
}

// stateStreamer is an Encoder that writes a STATE from a writer of its
// JSON, without the state's bytes (protocol.Writer does).
type stateStreamer interface {
	StateFrom(stream string, write func(io.Writer) error, recordCount int64) error
}

var _ stateStreamer = (*protocol.Writer)(nil)

// write writes a state with its record count: streamed where the encoder
// can take it so and the state is a snapshot that writes itself, else as
// bytes.
func (s *stdoutSink) write(state State, count int64) error {
	if ss, ok := s.enc.(stateStreamer); ok && state.streams() {
		return ss.StateFrom(s.name, state.WriteJSON, count)
	}
	b, err := state.JSON()
	if err != nil {
		return fmt.Errorf("encoding %s state: %w", s.name, err)
	}
	return s.enc.State(s.name, b, count)
}

// Announce prints the announcement at once: stdout has nothing to make
// durable, and the records after it follow it. A listing covers no
// records: with --no-records its count is 0 and the records go to the
// next state's, so that no STATE counts a record a sink may yet lose;
// records printed are counted by the state message after them, as the
// protocol has it.
func (s *stdoutSink) Announce(a Announcement) error {
	if a.Listing && s.skip {
		return s.write(a.State, 0)
	}
	return s.State(a.State)
}

func (s *stdoutSink) End(readErr error) error { return readErr }

type outputKey struct{}

// NotifyRateLimited tells the platform the stream read with ctx is waiting
// out a rate limit until resetAt: a RUNNING status with a RATE_LIMITED reason.
// HTTP clients call it from their retry loop; outside a read it does nothing.
func NotifyRateLimited(ctx context.Context, resetAt time.Time) {
	o, ok := ctx.Value(outputKey{}).(*streamOutput)
	if !ok {
		return
	}
	_ = o.enc.StreamStatus(o.name, protocol.Running, protocol.StatusReason{
		Type:        "RATE_LIMITED",
		RateLimited: &protocol.RateLimited{QuotaReset: resetAt.UnixMilli()},
	})
}

// EstimateRows adds rows to the row estimate of the stream read with ctx:
// a part of it (an item, an account) whose first page said how many rows
// it holds. The stream's ESTIMATE trace, the running sum of its parts', is
// sent at once when the sum changes, and for the first part even at 0
// (none expected is an estimate too), so a stream of many parts sends one
// per part at most and nothing per page or row. Once the stream has begun
// to finish nothing is sent: the platform closes a stream at its last
// status. A negative rows adds nothing; outside a read it does nothing.
//
// It goes to the run's encoder, past the sinks, as statuses do; so it is
// printed with --no-records too, whose STATEs still count the rows read in
// their sourceStats: an estimate is of the rows the read brings, wherever
// they go, and a wrapper watching a read into Parquet or PostgreSQL gets
// its progress the same way.
func EstimateRows(ctx context.Context, rows int64) {
	o, ok := ctx.Value(outputKey{}).(*streamOutput)
	if !ok || rows < 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finished || o.estimated && rows == 0 {
		return
	}
	if rows > math.MaxInt64-o.rowEstimate {
		rows = math.MaxInt64 - o.rowEstimate // a sum no int64 holds: the largest
	}
	o.rowEstimate += rows
	o.estimated = true
	// An error is stdout gone, which the stream's next record reports.
	_ = o.enc.Estimate(o.name, o.rowEstimate)
}

// SkipMeaning says what an account left for a later run (its daily quota
// spent) means to the stream being read in ctx: an incremental one
// completes and keeps the account's state, a full-refresh one (a snapshot,
// see SkippedPart) ends INCOMPLETE. Outside a stream's read it says both.
func SkipMeaning(ctx context.Context) string {
	if o, ok := ctx.Value(outputKey{}).(*streamOutput); ok {
		if o.mode == protocol.Incremental {
			return "the stream completes and keeps this account's state"
		}
		return "the stream, a full-refresh snapshot, ends INCOMPLETE"
	}
	return "an incremental stream completes and keeps this account's state, a full-refresh one ends INCOMPLETE"
}

// changelessEncoder is an Encoder whose records carry no note of their
// changes: the Singer encoder's, as a Singer RECORD has no meta.
type changelessEncoder interface {
	RecordsCarryNoChanges()
}

// invalidUTF8Warning is the WARN of an answer that held invalid UTF-8,
// read with o: nil outside a stream's read (connect's calls, say; check
// logs nothing). In a stream's read it says where the affected rows are
// noted, and in the Singer mode that they are not: it sent a tap's users
// looking for a meta.source_changes its RECORDs do not have. Outside one
// no row notes it and WarnOnce says it each time: it said both, of rows
// that were not a stream's and were noted nowhere.
func invalidUTF8Warning(o *streamOutput) string {
	const replaced = "the API answered text that is not valid UTF-8; every invalid byte sequence was replaced with U+FFFD (\uFFFD)"
	if o == nil {
		return replaced + " in what the command shows and writes"
	}
	where := "each such row notes the field in its changes (_changes in Parquet and PostgreSQL, meta." + protocol.MetaSourceChanges + " on stdout)"
	if _, ok := o.enc.(changelessEncoder); ok {
		where = "a Singer RECORD has no place to note which rows hold replaced text (read's RECORDs note each in meta." + protocol.MetaSourceChanges + ")"
	}
	return replaced + " in what is emitted and the rows were kept, so strict JSON readers can read them; " + where + " (this is said once per stream)"
}

// WarnOnce writes a WARN attributed to the stream being read with ctx the
// first time key comes up in that stream this run: for a condition met on
// every page (an API sending invalid UTF-8, say), one line tells the user
// as much as thousands. Outside a stream it warns every time.
func WarnOnce(ctx context.Context, key, msg string, args ...any) {
	if o, ok := ctx.Value(outputKey{}).(*streamOutput); ok {
		o.mu.Lock()
		first := !o.warned[key]
		if o.warned == nil {
			o.warned = map[string]bool{}
		}
		o.warned[key] = true
		o.mu.Unlock()
		if !first {
			return
		}
	}
	logOf(ctx).Warn(msg, args...)
}

// NoteInvalidUTF8 is the HTTP client's hook for a body that was not valid
// UTF-8 (see httpclient.Client.OnInvalidUTF8): the rows are kept with the
// bad bytes replaced, the stream warns once, and each row that holds
// replaced text says so in its changes, in whichever stream emits it (see
// replacedText).
func NoteInvalidUTF8(ctx context.Context, route string, body []byte, replaced []int) {
	o, _ := ctx.Value(outputKey{}).(*streamOutput)
	WarnOnce(ctx, invalidUTF8Key, invalidUTF8Warning(o), "route", route)
	if r := replacedOf(ctx); r != nil {
		r.add(replacedLiterals(body, replaced), route)
	}
}

// invalidUTF8Key is the WarnOnce key of invalidUTF8Warning: a stream
// says it once, whether its own call or another stream's fetched the text.
const invalidUTF8Key = "invalid-utf8"
