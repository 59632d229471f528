// Package listenfd gives getty's event-loop engine a listening socket it
// can accept from itself while the Go runtime's poller waits for it: a
// duplicate of a net listener's descriptor, opened as a pollable *os.File
// (a net listener's own RawConn cannot wait), and closed with the listener.
package listenfd

import (
	"net"
	"os"
	"sync"
	"syscall"
)

// Filer is a net listener that can duplicate its socket
// (*net.TCPListener, *net.UnixListener).
type Filer interface {
	File() (*os.File, error)
}

// Dup is the duplicate of one listener's socket, made on first use. Its
// zero value is ready; the listener calls Close when it closes.
type Dup struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

// RawConn returns the duplicate's RawConn, whose Read waits for pending
// connections.
func (d *Dup) RawConn(l Filer) (syscall.RawConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, net.ErrClosed
	}
	if d.f == nil {
		// The duplicate shares the listener's open file description,
		// which the runtime made non-blocking, so os.NewFile (inside
		// File) registers it with the poller.
		f, err := l.File()
		if err != nil {
			return nil, err
		}
		d.f = f
	}
	rc, err := d.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return closedAsNet{rc, d}, nil
}

// closedAsNet reports a wait ended by Close as net.ErrClosed, as a net
// listener's Accept does (an *os.File says "use of closed file").
type closedAsNet struct {
	syscall.RawConn
	d *Dup
}

func (c closedAsNet) Read(f func(fd uintptr) bool) error {
	err := c.RawConn.Read(f)
	if err != nil && c.d.isClosed() {
		return net.ErrClosed
	}
	return err
}

func (d *Dup) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// Close closes the duplicate (a waiting Read returns an error); later
// RawConn calls fail with net.ErrClosed.
func (d *Dup) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
