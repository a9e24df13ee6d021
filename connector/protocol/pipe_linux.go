package protocol

import (
	"io"
	"os"
	"syscall"
)

// pipeSize is what growPipe asks for: Linux's default pipe-max-size, the
// most an unprivileged process may set.
const pipeSize = 1 << 20

// growPipe enlarges stdout's pipe from Linux's default 64 KB, so a 256 KB
// buffer of records goes into the pipe in one write instead of four, each
// waiting for the reader to wake up and drain it. Anything but a pipe, or a
// refusal, leaves things as they are.
func growPipe(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, pipeSize)
}
