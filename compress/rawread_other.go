//go:build !linux

package compress

import (
	"net"

	"github.com/gettynet/getty/internal/bufpool"
)

// rawReader is only implemented on Linux; elsewhere connections read with
// net.Conn.Read and keep their buffer while waiting.
type rawReader struct{}

func newRawReader(net.Conn, *bufpool.Pool) *rawReader { return nil }

func (*rawReader) read(int) (*[]byte, int, error) { return nil, 0, nil }
