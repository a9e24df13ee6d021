package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// ReadTimeout bounds reading one request, headers and body: Pluggy wants
// its answer within 5 s, and its bodies are a few KB.
const ReadTimeout = 10 * time.Second

// MaxHeaderBytes bounds a request's line and headers: Pluggy's are a few
// hundred bytes (the URL registered, its custom headers), and anyone may
// send them, unauthenticated, up to net/http's default of 1 MB.
const MaxHeaderBytes = 64 << 10

// logShown is how much of a request's path or method a log line shows.
const logShown = 256

// DefaultMaxBody bounds one webhook body. A transactions/updated event
// carries at most 400 ids (~16 KB); anything near this is not Pluggy's.
const DefaultMaxBody = 1 << 20

// Header is one custom header every request must carry, as registered on
// the Pluggy webhook. Its Value is a secret.
type Header struct {
	Name  string
	Value string
}

// ParseHeader reads NAME=VALUE (the --header flag).
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || value == "" {
		return Header{}, errors.New("--header wants NAME=VALUE with both parts non-empty, e.g. --header X-Webhook-Token=$(openssl rand -hex 32)")
	}
	for i, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			// Only the part before the bad character is quoted: in
			// "X-Token: s3cret=" (curl's spelling) what follows is the
			// secret.
			return Header{}, fmt.Errorf("--header name %q… is not a valid HTTP header name: it has %q at byte %d; write --header NAME=VALUE (not NAME: VALUE)", name[:i], c, i)
		}
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	value, err := HeaderValue("--header "+name, value)
	if err != nil {
		return Header{}, err
	}
	return Header{Name: name, Value: value}, nil
}

// HeaderValue is a header's value as HTTP carries it: without leading or
// trailing white space, which servers drop from what they receive, so a
// value kept with its line break (a Kubernetes Secret made from a file)
// would never match. A line break or other control character inside it,
// which no header can carry, is an error naming flag; the value, a
// secret, is never quoted.
func HeaderValue(flag, value string) (string, error) {
	value = strings.Trim(value, " \t\r\n")
	if value == "" {
		return "", fmt.Errorf("%s: the value is empty or only white space", flag)
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("%s: the value holds a line break or another control character, which no HTTP header can carry (the value is not shown: it is a secret)", flag)
		}
	}
	return value, nil
}

// Receiver is the webhook endpoint: POST (any path) appends an event,
// GET /healthz reports whether the log is writable.
type Receiver struct {
	Log     Log
	Headers []Header
	MaxBody int64
	Logger  *slog.Logger
	Now     func() time.Time
	// Secrets are masked in what a log line shows cut (a path, an
	// ignored event's name and eventId, an id a refusal quotes) before
	// it is cut: cut first, a secret longer than what is shown lost its
	// end, the stderr redactor no longer found it, and its start was
	// printed in clear. Nil masks nothing.
	Secrets *secret.Redactor

	// failure is set, and failed closed, once an append's commit
	// panicked (eventlog.PanicError): the log takes no more events, and
	// Serve stops the receiver.
	mu      sync.Mutex
	failure error
	failed  chan struct{}
}

// failedC returns the channel closed once the log failed for good.
func (rc *Receiver) failedC() chan struct{} {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.failed == nil {
		rc.failed = make(chan struct{})
	}
	return rc.failed
}

// fail records that the log's commit panicked, and logs the panic once,
// with its stack: a bug, which the receiver's log must show.
func (rc *Receiver) fail(err *eventlog.PanicError) {
	c := rc.failedC()
	rc.mu.Lock()
	first := rc.failure == nil
	if first {
		rc.failure = err
		close(c)
	}
	rc.mu.Unlock()
	if first {
		rc.Logger.Error("an append to the event log panicked (a bug): every delivery is answered 503, so Pluggy retries, and the receiver stops to be started again", "panic", fmt.Sprint(err.Value), "stack", string(err.Stack))
	}
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if err := rc.Log.Healthy(r.Context()); err != nil {
			// The probe carries no header, so anyone may ask: the reason
			// (the database's host, port, user and name, or the log's
			// path) goes to the receiver's log, not to the caller.
			rc.Logger.Warn("/healthz: the event log is not writable", "remote", r.RemoteAddr, "error", err)
			reply(w, http.StatusServiceUnavailable, "unhealthy", "the event log is not writable; the receiver's log (stderr) says why")
			return
		}
		reply(w, http.StatusOK, "ok", "")
		return
	}
	if r.Method != http.MethodPost {
		rc.Logger.Warn("refused a webhook request that is not a POST", append(rc.requestAttrs(r), "method", rc.shown(r.Method))...)
		w.Header().Set("Allow", "POST")
		reply(w, http.StatusMethodNotAllowed, "refused", "webhooks are POSTed")
		return
	}
	log := rc.Logger.With(rc.requestAttrs(r)...)
	if match := rc.authentic(r.Header); !match.ok() {
		reply(w, http.StatusUnauthorized, "refused", "missing or wrong authentication header")
		// The log names the headers (never a value): a webhook
		// registered under another header name than the receiver's
		// --header is "missing", one registered with an old value
		// "differs", and each has its own fix.
		missing, differs := match.names(rc.Headers, r.Header)
		log.Warn("refused an unauthenticated webhook request (a configured header is missing or differs)", "missing", missing, "differs", differs)
		return
	}
	limit := rc.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("refused a webhook body over the size limit", "limit_bytes", limit)
			reply(w, http.StatusRequestEntityTooLarge, "refused", fmt.Sprintf("body over %d bytes", limit))
			return
		}
		log.Warn("could not read a webhook body", "error", err)
		reply(w, http.StatusBadRequest, "refused", "could not read the body")
		return
	}
	ev, err := Parse(body)
	if errors.Is(err, ErrUnused) {
		// Its name and id are the sender's, bounded by nothing but the
		// body's size: cut as a path is.
		log.Info("acknowledged a webhook event source-pluggy does not act on; not appended", "event", rc.shown(ev.Event), "eventId", rc.shown(ev.EventID))
		reply(w, http.StatusOK, "ignored", "")
		return
	}
	if err == nil {
		err = checkIDs(ev, rc.Secrets.String)
	}
	if err != nil {
		var se *ShapeError
		status := http.StatusBadRequest
		if errors.As(err, &se) {
			status = http.StatusUnprocessableEntity
		}
		log.Warn("refused a webhook body", "error", err, "bytes", len(body))
		reply(w, status, "refused", err.Error())
		return
	}
	log = log.With("event", ev.Event, "eventId", ev.EventID)
	pos, err := rc.Log.Append(r.Context(), ev, rc.Now().UTC())
	switch {
	case errors.Is(err, eventlog.ErrDuplicate):
		log.Info("acknowledged a redelivered webhook event (already in the log)")
		reply(w, http.StatusOK, "duplicate", "")
	case err != nil:
		// Not acknowledged: Pluggy retries later.
		var pe *eventlog.PanicError
		if errors.As(err, &pe) {
			rc.fail(pe)
		}
		log.Error("could not append a webhook event; answered 503 so Pluggy retries", "error", err)
		reply(w, http.StatusServiceUnavailable, "unavailable", "the event log is not writable")
	default:
		log.Info("appended a webhook event", "position", pos, "transactions", len(ev.TransactionIDs))
		reply(w, http.StatusOK, "appended", "")
	}
}

// requestAttrs are what a log line says of a request: the remote address
// and the path, with a segment that looks like a key masked (the URL
// registered with Pluggy may carry one, https://hooks.example/KEY, checked
// by the ingress in front, which passes it on), then cut to its first
// logShown bytes, and how long it was if it was cut: anyone may send a
// path of up to MaxHeaderBytes, and every refusal is logged, so a 900 KB
// path made a 900 KB line, which log shippers split or drop.
func (rc *Receiver) requestAttrs(r *http.Request) []any {
	path := rc.Secrets.String(secret.MaskPathTokens(r.URL.Path))
	attrs := []any{"remote", r.RemoteAddr, "path", shown(path)}
	if len(path) > logShown {
		attrs = append(attrs, "path_bytes", len(path))
	}
	return attrs
}

// shown is s with rc's secrets masked (Secrets says why first), as shown
// below.
func (rc *Receiver) shown(s string) string { return shown(rc.Secrets.String(s)) }

// shown is s cut to its first logShown bytes (whole characters), marked
// with "…" where it was cut.
func shown(s string) string {
	if len(s) <= logShown {
		return s
	}
	cut := logShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// authentic compares every configured header in constant time (over
// SHA-256 sums, so not even a value's length leaks) and only then decides.
func (rc *Receiver) authentic(h http.Header) headerMatch {
	m := make(headerMatch, len(rc.Headers))
	for i, want := range rc.Headers {
		got := sha256.Sum256([]byte(h.Get(want.Name)))
		exp := sha256.Sum256([]byte(want.Value))
		m[i] = subtle.ConstantTimeCompare(got[:], exp[:])
	}
	return m
}

// headerMatch holds, per configured header, 1 if the request carried its
// value.
type headerMatch []int

func (m headerMatch) ok() bool {
	ok := 1
	for _, v := range m {
		ok &= v
	}
	return ok == 1 && len(m) > 0
}

// names lists the configured headers the request lacks and those whose
// value differs, by name: what a refusal's log says, once answered.
func (m headerMatch) names(want []Header, h http.Header) (missing, differs []string) {
	missing, differs = []string{}, []string{}
	for i, w := range want {
		switch {
		case len(h.Values(w.Name)) == 0:
			missing = append(missing, w.Name)
		case m[i] != 1:
			differs = append(differs, w.Name)
		}
	}
	return missing, differs
}

func reply(w http.ResponseWriter, status int, result, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Result string `json:"result"`
		Error  string `json:"error,omitempty"`
	}{result, msg})
	_, _ = w.Write(append(b, '\n'))
}

// Serve runs rc on ln until ctx ends, then stops taking requests, waits for
// those in flight (each one's event is already appended or refused) and
// returns. It does not close the log.
//
// If an append's commit panics, the log takes no more events
// (eventlog.Group says why): Serve stops the receiver the same way, every
// request in flight answered 503, and returns an error, so that the
// process exits 1 and its supervisor (systemd's Restart=, a Deployment)
// starts it again, as after a crash; /healthz answers 503 meanwhile. A
// commit that panics while Serve finishes the requests in flight after ctx
// ended (SIGTERM) fails it the same way.
func Serve(ctx context.Context, ln net.Listener, rc *Receiver) error {
	srv := &http.Server{
		Handler:           rc,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		// Pluggy wants a 2xx within 5 s: a request not read by ReadTimeout
		// is no delivery it waits for, but a stalled client (a slowloris,
		// a dead proxy connection), and it would hold a SIGTERM's shutdown
		// for as long as this allows.
		ReadTimeout:  ReadTimeout,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(rc.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	case <-rc.failedC():
	}
	rc.Logger.Info("shutting down: finishing requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutting down the webhook receiver: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Looked at once every request has ended, not only when it stopped
	// the receiver: a commit of the appends in flight at SIGTERM that
	// panicked during the shutdown left the log as unknown, and the
	// receiver exited 0, which a supervisor restarting on failure
	// (systemd's Restart=on-failure) took for a clean stop.
	rc.mu.Lock()
	failure := rc.failure
	rc.mu.Unlock()
	if failure != nil {
		return fmt.Errorf("the event log failed; start the receiver again: %w", failure)
	}
	return nil
}

// Log is where the receiver appends events: a directory (dirLog) or a
// PostgreSQL table (pgLog). Append returns once the event is durable, with
// its position, or eventlog.ErrDuplicate for an eventId already there.
type Log interface {
	Append(ctx context.Context, ev Event, receivedAt time.Time) (position string, err error)
	// Healthy reports whether Append can still work.
	Healthy(ctx context.Context) error
	// Len is how many events the log holds, for the lines that log it: a
	// directory's keys, a table's rows as it opened (counted, or
	// estimated past pgCountUpTo) with what was appended and pruned since.
	Len() int
	// Prune removes the oldest events, those received before cutoff that
	// can go without a reader that has read since cutoff losing its place
	// (eventlog.Writer.Prune, pgLog.Prune); a reader whose place they
	// held finds it gone, and reconciles.
	Prune(ctx context.Context, cutoff time.Time) (Pruned, error)
	// Stats is what the log did since it was opened.
	Stats() Stats
	Close() error
}

// Stats counts a log's appends since it was opened.
type Stats struct {
	// Appended is how many events were appended.
	Appended int64
	// Commits is how many fsyncs (a directory log) or transaction commits
	// (a PostgreSQL log) made them durable: one for the events of
	// deliveries that came together (eventlog.Group), so fewer than the
	// events in a burst.
	Commits int64
}

// Pruned is what a Prune removed.
type Pruned struct {
	// Events is how many rows a PostgreSQL log deleted.
	Events int64
	// Segments and Bytes are the segments a directory log removed, and
	// their size (their lines are not counted: a receiver opening the log
	// removes them unread).
	Segments []string
	Bytes    int64
}

// Open opens (or creates) the log at location: a directory, or a
// PostgreSQL URL. With a positive retain, a directory's log first prunes
// what was received more than retain ago (Log.Prune), before its lines
// are read, and returns what went; a PostgreSQL log only checks that its
// role may prune, and is pruned by KeepPruning, the first time at once,
// while the receiver serves.
//
// The directory's prune is left here, before the receiver answers
// /healthz, because it is what bounds the start: it removes whole
// segments, a look at a segment's first line and an unlink each (2 to
// 8 ms a 64 MiB segment on this project's CI disk: 2 to 8 s for the first
// prune of a 64 GiB log), and the receiver must then read the lines of
// every segment it keeps to know their eventIds before it can tell a
// redelivery (as it does without --retain, where it reads them all): pruned
// later, the segments it removes would be read too, 64 MiB of lines each
// where removing one is an unlink. A table's prune deletes rows, 5,000 a statement,
// which for millions of old rows takes minutes, and needs no eventId in
// memory.
func Open(ctx context.Context, location string, retain time.Duration) (Log, Pruned, error) {
	if IsURL(location) {
		l, err := openPG(ctx, location)
		if err != nil || retain <= 0 {
			return l, Pruned{}, err
		}
		if err := l.canPrune(ctx); err != nil {
			l.Close()
			return nil, Pruned{}, err
		}
		return l, Pruned{}, nil
	}
	w, err := eventlog.OpenWith(location, logKey, eventlog.Options{Retain: retain, Stamp: logStamp})
	if err != nil {
		return nil, Pruned{}, err
	}
	return dirLog{w}, dirPruned(w.OpenPruned()), nil
}

func dirPruned(p eventlog.Pruned) Pruned {
	return Pruned{Segments: p.Segments, Bytes: p.Bytes}
}

// dirLog is a Log in a directory of segment files (connector/eventlog).
type dirLog struct{ w *eventlog.Writer }

func (d dirLog) Append(_ context.Context, ev Event, receivedAt time.Time) (string, error) {
	line, err := json.Marshal(record{EventID: ev.EventID, ReceivedAt: receivedAt.Format(time.RFC3339Nano), Payload: ev.Raw})
	if err != nil {
		return "", err
	}
	pos, err := d.w.Append(line)
	return pos.String(), err
}

func (d dirLog) Prune(_ context.Context, cutoff time.Time) (Pruned, error) {
	p, err := d.w.Prune(cutoff)
	return dirPruned(p), err
}

func (d dirLog) Stats() Stats {
	s := d.w.Stats()
	return Stats{Appended: s.Appended, Commits: s.Syncs}
}

func (d dirLog) Healthy(context.Context) error { return d.w.Healthy() }
func (d dirLog) Len() int                      { return d.w.Len() }
func (d dirLog) Close() error                  { return d.w.Close() }
