//go:build !linux

package sourcetest

import "net"

// reservePort returns a loopback port a listener had a moment ago; off
// Linux, another process could take it before the test connects.
func reservePort() (port int, release func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port, func() {}, nil
}
