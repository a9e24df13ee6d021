package source

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/internal/logattr"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// NewLogHandler returns the slog.Handler of a run: every record becomes one
// LOG message of the run's encoder (an Airbyte LOG, or a Singer stderr
// line), which masks every secret it knows, so logs and data share one
// ordered stream. The message is followed by its attributes as key=value,
// each key once (see logattr.Unique: a partition's logger already names
// the account a call site names again); a "stream" attribute leads it
// instead ("transactions: message"), as the runtime's stream logs have
// always read.
func NewLogHandler(enc Encoder) slog.Handler { return logattr.Unique(&logHandler{enc: enc}) }

// StreamKey is the attribute naming the stream a log is about; loggers
// handed to a stream's reader carry it.
const StreamKey = "stream"

// logHandler writes the records logattr.Unique hands it: their attributes
// flat (a group's members keyed "group.key") and distinct.
type logHandler struct {
	enc Encoder
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return h.enc != nil }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b, attrs strings.Builder
	stream := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == StreamKey {
			stream = a.Value.String()
		} else {
			attrs.WriteString(renderAttr(a))
		}
		return true
	})
	if stream != "" {
		b.WriteString(stream)
		b.WriteString(": ")
	}
	b.WriteString(r.Message)
	b.WriteString(attrs.String())
	return h.enc.Log(levelOf(r.Level), b.String())
}

// WithAttrs and WithGroup are not called through NewLogHandler, whose
// logattr.Unique keeps the logger's attributes; they wrap h the same way
// for the interface's sake.
func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler { return logattr.Unique(h).WithAttrs(as) }

func (h *logHandler) WithGroup(name string) slog.Handler { return logattr.Unique(h).WithGroup(name) }

// renderAttr renders one attribute as " key=value", quoting a value that
// would not read as one word.
func renderAttr(a slog.Attr) string {
	v := a.Value.Resolve().String()
	if v == "" || strings.ContainsAny(v, " =\"\n\t") {
		v = strconv.Quote(v)
	}
	return " " + a.Key + "=" + v
}

func levelOf(l slog.Level) protocol.Level {
	switch {
	case l >= slog.LevelError:
		return protocol.LevelError
	case l >= slog.LevelWarn:
		return protocol.LevelWarn
	case l >= slog.LevelInfo:
		return protocol.LevelInfo
	}
	return protocol.LevelDebug
}

// logKey is the context key of the logger of the scope a context reads
// (the run, a stream, a partition of it).
type logKey struct{}

// withLog returns ctx carrying log, for the HTTP client's hooks (retries,
// invalid UTF-8), which are called with a context alone. Providers never
// look it up: they log through the logger they are handed (Env.Log,
// Output.Logger, the one Partitions.Read passes each partition), which
// carries the stream and partition as attributes.
func withLog(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// logOf is the logger ctx carries, or one that discards.
func logOf(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return discard
}

var discard = slog.New(slog.DiscardHandler)
