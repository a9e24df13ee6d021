package source

import (
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Logger writes LOG messages through the run's encoder, so logs and data
// share one ordered stream and every line is redacted.
type Logger struct {
	enc Encoder
}

type loggerKey struct{}

func (l *Logger) log(level protocol.Level, msg string) {
	if l == nil || l.enc == nil {
		return
	}
	_ = l.enc.Log(level, msg)
}

// Infof logs at INFO.
func (l *Logger) Infof(format string, args ...any) {
	l.log(protocol.LevelInfo, fmt.Sprintf(format, args...))
}

// Warnf logs at WARN: something the user should look at that does not stop the read.
func (l *Logger) Warnf(format string, args ...any) {
	l.log(protocol.LevelWarn, fmt.Sprintf(format, args...))
}

// Errorf logs at ERROR.
func (l *Logger) Errorf(format string, args ...any) {
	l.log(protocol.LevelError, fmt.Sprintf(format, args...))
}
