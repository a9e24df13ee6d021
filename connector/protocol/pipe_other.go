//go:build !linux

package protocol

import "io"

func growPipe(io.Writer) {}
