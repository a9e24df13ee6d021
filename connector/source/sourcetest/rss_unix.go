//go:build unix

package sourcetest

import (
	"os/exec"
	"syscall"
)

// maxRSS is the peak resident memory of a finished process, in bytes, or
// -1 when the system does not say.
func maxRSS(cmd *exec.Cmd) int64 {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) << 10 // kilobytes on Linux
	}
	return -1
}
