package source

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// DetailedExitCode refines only a failure, by the run's last failure type;
// a failure without an ERROR trace (stdout gone) or with a system_error
// stays 1, and success and usage errors pass unchanged.
func TestDetailedExitCode(t *testing.T) {
	for _, c := range []struct {
		code int
		last protocol.FailureType
		want int
	}{
		{ExitFail, protocol.TransientError, ExitTempFail},
		{ExitFail, protocol.ConfigError, ExitConfig},
		{ExitFail, protocol.SystemError, ExitFail},
		{ExitFail, "", ExitFail},
		{ExitOK, protocol.TransientError, ExitOK}, // a stream's error, then success
		{ExitUsage, protocol.ConfigError, ExitUsage},
	} {
		if got := DetailedExitCode(c.code, c.last); got != c.want {
			t.Errorf("DetailedExitCode(%d, %q) = %d, want %d", c.code, c.last, got, c.want)
		}
	}
}
