//go:build !linux

package rawio

import (
	"net"

	"github.com/gettynet/getty/internal/bufpool"
)

// Reader is only implemented on Linux; elsewhere sessions read with
// net.Conn.Read and keep their buffer while waiting.
type Reader struct{}

func NewReader(net.Conn, *bufpool.Pool) *Reader { return nil }

func (*Reader) Read(int) (*[]byte, int, error) { return nil, 0, nil }
