package getty

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdListener is a listener whose socket the event-loop engine accepts from
// itself (accept4 on the descriptor): no net.Conn is made for a connection,
// and none is left behind as garbage. The TCP and Unix stream listeners of
// package transport implement it.
type fdListener interface {
	// SyscallConn is the listening socket.
	SyscallConn() (syscall.RawConn, error)
	// SetupAccepted applies the listener's socket options to a connection
	// accepted from it.
	SetupAccepted(fd uintptr) error
}

// acceptBatch is how many connections one wake-up of the listener takes at
// most before they are opened.
const acceptBatch = 32

// evAcceptor holds one batch of accepted descriptors and their addresses.
type evAcceptor struct {
	fds   [acceptBatch]int
	addrs [acceptBatch]unix.RawSockaddrAny
	lens  [acceptBatch]uint32
	n     int                   // accepted in this batch
	err   error                 // what ended the batch, if not EAGAIN
	fn    func(fd uintptr) bool // a.take, bound once: waiting allocates nothing
}

func newEvAcceptor() *evAcceptor {
	a := &evAcceptor{}
	a.fn = a.take
	return a
}

// accept takes up to acceptBatch pending connections, waiting (in the Go
// runtime's poller) when there are none. The connections are opened after
// the listener's lock is released: an OnOpen that closes the listener
// would otherwise wait for itself.
func (a *evAcceptor) accept(rc syscall.RawConn) (int, error) {
	a.n, a.err = 0, nil
	if err := rc.Read(a.fn); a.err == nil {
		a.err = err
	}
	return a.n, a.err
}

// take accepts on the listening descriptor until none is pending or the
// batch is full; false asks the poller to wait.
func (a *evAcceptor) take(lfd uintptr) bool {
	for a.n < acceptBatch {
		n := a.n
		a.lens[n] = unix.SizeofSockaddrAny
		fd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, lfd, uintptr(unsafe.Pointer(&a.addrs[n])), uintptr(unsafe.Pointer(&a.lens[n])), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			a.fds[n] = int(fd)
			a.n++
			continue
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			return a.n > 0 // none pending: wait, unless some were taken
		}
		a.err = os.NewSyscallError("accept4", errno)
		return true
	}
	return true
}

// evServe accepts from l's descriptor and hands each connection to an event
// loop, until l fails or the server shuts down.
func (srv *Server[T]) evServe(l Listener, fl fdListener) error {
	rc, err := fl.SyscallConn()
	if err != nil {
		return srv.acceptError(l, err) // ErrServerClosed if Shutdown closed l first
	}
	a := newEvAcceptor()
	var backoff time.Duration
	for {
		n, err := a.accept(rc)
		for i := range n {
			fd := a.fds[i]
			if serr := fl.SetupAccepted(uintptr(fd)); serr != nil {
				// The peer is likely gone already (reset before we got to it).
				srv.e.log.Debug("getty: accepted connection unusable", "err", serr)
				unix.Close(fd) //nolint:errcheck // the connection is being discarded
				continue
			}
			srv.start(newEvConnFD(fd, peerFromRaw(&a.addrs[i])))
		}
		if err == nil {
			backoff = 0
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			err = &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: err} // as Accept says it
		}
		if !srv.acceptFailed(l, err, &backoff) {
			return srv.acceptError(l, err)
		}
	}
}
