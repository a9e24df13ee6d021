package protocol

import (
	"os"
	"syscall"
	"testing"
)

func TestStdoutPipeGrows(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	NewWriter(w, nil)
	const fGetPipeSz = 1032 // F_GETPIPE_SZ
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), fGetPipeSz, 0)
	if errno != 0 {
		t.Skipf("F_GETPIPE_SZ: %v", errno)
	}
	if n < pipeSize {
		t.Skipf("pipe is %d bytes: this system refuses %d (pipe-max-size or pipe-user-pages-soft)", n, pipeSize)
	}
	// A file is left alone.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	NewWriter(f, nil)
}
