//go:build !linux

package getty

import "net"

// rawWriter is only implemented on Linux; elsewhere the flusher writes with
// blocking calls.
const maxIovecs = 1024

type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (*rawWriter) try([][]byte) (int, error) { return 0, nil }

func (*rawWriter) tryOne([]byte) (int, error) { return 0, nil }
