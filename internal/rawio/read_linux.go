// Package rawio reads sockets through their file descriptors so that a
// connection waiting for its peer holds no read buffer. The session engine
// and the compress wrapper share it.
package rawio

import (
	"io"
	"net"
	"syscall"

	"github.com/gettynet/getty/internal/bufpool"
)

// Reader reads a socket through its file descriptor so that a session
// waiting for its peer holds no read buffer: the buffer is taken from the
// pool only once the kernel has data, and goes back on EAGAIN before the
// goroutine parks. It makes the same system calls as net.Conn.Read.
type Reader struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // bound once, so reads do not allocate
	pool *bufpool.Pool
	size int
	bp   *[]byte
	n    int
	err  error
}

// NewReader returns nil unless c is a plain TCP or Unix stream socket:
// a wrapper type (TLS, or one that embeds a *net.TCPConn and overrides Read)
// must be read through its own Read.
func NewReader(c net.Conn, pool *bufpool.Pool) *Reader {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &Reader{rc: rc, pool: pool}
	r.fn = r.attempt
	return r
}

// read waits for data and reads it into a pooled buffer of at least size
// bytes. It returns the buffer (nil if it failed before any data came), the
// bytes read and the error; io.EOF when the peer closed.
func (r *Reader) Read(size int) (*[]byte, int, error) {
	r.size, r.bp, r.n, r.err = size, nil, 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		r.pool.Put(r.bp)
		r.bp = nil
		return nil, 0, err
	}
	bp := r.bp
	r.bp = nil
	return bp, r.n, r.err
}

func (r *Reader) attempt(fd uintptr) bool {
	if r.bp == nil {
		r.bp = r.pool.Get(r.size)
	}
	b := (*r.bp)[:cap(*r.bp)]
	for {
		n, err := syscall.Read(int(fd), b)
		switch err {
		case nil:
			if n == 0 {
				r.err = io.EOF
			}
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			r.pool.Put(r.bp)
			r.bp = nil
			return false
		default:
			r.err = err
			return true
		}
	}
}
