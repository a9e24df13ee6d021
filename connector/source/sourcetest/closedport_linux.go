//go:build linux

package sourcetest

import "syscall"

// reservePort binds a TCP socket to a free loopback port without listening
// on it: a connection to the port is refused, as to any closed port, but
// no other process can bind it while the socket is open (it has no
// SO_REUSEADDR), so the port stays closed for the whole test. Closing a
// listener instead left the port free for anything to take in between.
func reservePort() (port int, release func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return 0, nil, err
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return 0, nil, err
	}
	return sa.(*syscall.SockaddrInet4).Port, func() { syscall.Close(fd) }, nil
}
