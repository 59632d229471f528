package getty

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gettynet/getty/internal/bufpool"
	"github.com/gettynet/getty/internal/eventloop"
	"golang.org/x/sys/unix"
)

// evConn is a stream socket driven by an event loop: a non-blocking
// descriptor accepted by the engine itself (servers) or taken over from a
// *net.TCPConn or *net.UnixConn (clients; the Go runtime's poller no longer
// watches it). The loop reads it and feeds the session; writers write it
// directly and, when the socket buffer is full, wait for the loop to report
// output space.
//
// It is a net.Conn so that the session engine treats it as any stream, but
// Read is not used: the loop reads. Its layout is kept small: an idle
// connection of the event-loop engine costs its Session and this.
type evConn struct {
	fd    int32
	slot  int32 // in loop
	flags atomic.Uint32
	peer  peerAddr
	// mu is held by the loop while it reads and dispatches, by the stopper
	// and by Close: once evStopped is set under mu no callback runs any
	// more.
	mu   sync.Mutex
	loop *eventloop.Loop[*evConn]
	sess evSession
	aux  atomic.Pointer[evAux] // made for a partial package or a waiting writer
}

// evAux is what a connection needs only now and then: the tail of a
// partial package, and the state of a writer waiting for output space.
// Made on first use and kept (a connection that needed it once tends to
// again); an idle connection that never did holds none.
type evAux struct {
	tail *[]byte                // the unconsumed start of a partial package (pooled)
	wait atomic.Pointer[evWait] // made by the first writer that waits
}

// evConn flags.
const (
	evStarted uint32 = 1 << iota // evStart ran: a stop request may end the session
	evStopReq
	evClosed
	evWantOut    // a writer waits for output space
	evRegistered // loop and slot are set (evStart)
	evOutOn      // the loop watches for output space
	evStopped    // no callback runs any more (set under mu)
)

func (c *evConn) has(f uint32) bool { return c.flags.Load()&f != 0 }

// set sets f and reports whether it was set already.
func (c *evConn) set(f uint32) bool { return c.flags.Or(f)&f != 0 }

// take clears f and reports whether it was set.
func (c *evConn) take(f uint32) bool { return c.flags.And(^f)&f != 0 }

// evWait is what a writer waiting for output space needs: made on first
// use, as most connections never fill their socket buffer.
type evWait struct {
	out chan struct{}
	wdl atomic.Int64 // write deadline (UnixNano); 0: none
}

// waiter returns the writer-wait state, making it. The aux it lives in is
// made under mu unless it exists.
func (c *evConn) waiter() *evWait {
	a := c.auxFor()
	if w := a.wait.Load(); w != nil {
		return w
	}
	w := &evWait{out: make(chan struct{}, 1)}
	if a.wait.CompareAndSwap(nil, w) {
		return w
	}
	return a.wait.Load()
}

// auxFor returns c.aux, making it.
func (c *evConn) auxFor() *evAux {
	if a := c.auxPtr(); a != nil {
		return a
	}
	c.aux.CompareAndSwap(nil, &evAux{})
	return c.aux.Load()
}

// peerAddr is a connection's remote address in 24 bytes; RemoteAddr makes
// the net.Addr when asked.
type peerAddr struct {
	ip   [16]byte
	zone uint32 // IPv6 scope id
	port uint16
	kind uint8 // peerTCP4, peerTCP6, peerUnix
}

func (c *evConn) auxPtr() *evAux { return c.aux.Load() }

// The tail: the start of a partial package (or frame) kept between reads,
// in a pooled buffer. Only the loop (mu held) and the finished session
// touch it.

// pending is the number of bytes in the tail.
func (c *evConn) pending() int {
	if a := c.auxPtr(); a != nil && a.tail != nil {
		return len(*a.tail)
	}
	return 0
}

// withTail returns data read just now behind the tail, if there is one
// (appended to it, growing it from pool).
func (c *evConn) withTail(pool *bufpool.Pool, data []byte) []byte {
	a := c.auxPtr()
	if a == nil || a.tail == nil {
		return data
	}
	if t := *a.tail; cap(t)-len(t) < len(data) {
		nt := pool.Get(len(t) + len(data))
		*nt = append(*nt, t...)
		pool.Put(a.tail)
		a.tail = nt
	}
	*a.tail = append(*a.tail, data...)
	return *a.tail
}

// keepTail keeps rest, the unconsumed end of what withTail returned, as
// the tail.
func (c *evConn) keepTail(pool *bufpool.Pool, rest []byte) {
	if len(rest) == 0 {
		c.dropTail(pool)
		return
	}
	a := c.auxFor()
	if a.tail != nil {
		*a.tail = (*a.tail)[:copy(*a.tail, rest)]
		return
	}
	t := pool.Get(len(rest))
	*t = append(*t, rest...)
	a.tail = t
}

// dropTail returns the tail to the pool.
func (c *evConn) dropTail(pool *bufpool.Pool) {
	if a := c.auxPtr(); a != nil && a.tail != nil {
		pool.Put(a.tail)
		a.tail = nil
	}
}

const (
	peerNone uint8 = iota
	peerTCP4
	peerTCP6
	peerUnix
)

func (p *peerAddr) network() string {
	if p.kind == peerUnix {
		return "unix"
	}
	return "tcp"
}

// addr makes the net.Addr.
func (p *peerAddr) addr() net.Addr {
	switch p.kind {
	case peerTCP4:
		return &net.TCPAddr{IP: net.IPv4(p.ip[0], p.ip[1], p.ip[2], p.ip[3]), Port: int(p.port)}
	case peerTCP6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), p.ip[:]...)), Port: int(p.port), Zone: zoneName(p.zone)}
	case peerUnix:
		return &net.UnixAddr{Net: "unix"}
	}
	return nil
}

// peerFromAddr keeps a as a peerAddr.
func peerFromAddr(a net.Addr, network string) peerAddr {
	var p peerAddr
	if network == "unix" {
		p.kind = peerUnix
		return p
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return p
	}
	p.port = uint16(ta.Port)
	if ip4 := ta.IP.To4(); ip4 != nil {
		p.kind = peerTCP4
		copy(p.ip[:], ip4)
		return p
	}
	p.kind = peerTCP6
	copy(p.ip[:], ta.IP.To16())
	if ta.Zone != "" {
		if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
			p.zone = uint32(ifi.Index)
		}
	}
	return p
}

// peerFromRaw keeps the address accept4 filled in.
func peerFromRaw(rsa *unix.RawSockaddrAny) peerAddr {
	var p peerAddr
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p.kind = peerTCP4
		copy(p.ip[:], sa.Addr[:])
		p.port = uint16(sa.Port>>8 | sa.Port<<8)
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p.kind = peerTCP6
		p.ip = sa.Addr
		p.zone = sa.Scope_id
		p.port = uint16(sa.Port>>8 | sa.Port<<8)
	case unix.AF_UNIX:
		p.kind = peerUnix
	}
	return p
}

// evSession is the session side of an evConn.
type evSession interface {
	// evRead reads and dispatches until the socket is drained; it runs on
	// the loop with mu held. It reports whether reading has ended, and why.
	// hup says the peer has hung up: read to the end of the stream.
	evRead(c *evConn, buf []byte, hup bool) (end bool, err error)
	// evEnd finishes the session once reading has ended; it runs on a
	// goroutine of its own.
	evEnd(err error)
}

// newEvConnFD wraps a descriptor the engine accepted (non-blocking).
func newEvConnFD(fd int, peer peerAddr) *evConn {
	return &evConn{fd: int32(fd), peer: peer}
}

// newEvConn takes the descriptor of c over. c is closed; on failure it is
// left open for the caller to close. spare (may be nil) lends a descriptor
// when the process has none left for the duplicate.
func newEvConn(c Conn, spare *spareFD) (*evConn, error) {
	var sc syscall.Conn
	network := ""
	switch nc := c.(type) {
	case *evConn:
		return nc, nil
	case *net.TCPConn:
		sc, network = nc, "tcp"
	case *net.UnixConn:
		sc, network = nc, "unix"
	default:
		return nil, fmt.Errorf("%w: the event-loop engine drives plain TCP and Unix stream connections, not %T", ErrEngineUnsupported, c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var ferr error
	if err := rc.Control(func(s uintptr) {
		if network == "unix" {
			var typ int
			if typ, ferr = unix.GetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_TYPE); ferr == nil && typ != unix.SOCK_STREAM {
				ferr = fmt.Errorf("%w: the event-loop engine drives Unix stream sockets only", ErrEngineUnsupported)
				return
			}
		}
		fd, ferr = dupFD(int(s), spare)
	}); err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, ferr
	}
	// The duplicate shares the original's open file description, which the
	// runtime made non-blocking, unless the caller made it blocking since
	// (Fd on the connection's File does): the engine's raw system calls
	// must never wait, so it is made non-blocking again.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd) //nolint:errcheck // the duplicate is discarded; the original is left to the caller
		spare.restore()
		return nil, os.NewSyscallError("fcntl", err)
	}
	ec := newEvConnFD(fd, peerFromAddr(c.RemoteAddr(), network))
	err = c.Close()
	spare.restore()
	if err != nil {
		unix.Close(fd) //nolint:errcheck // the duplicate goes with the failed original
		return nil, err
	}
	return ec, nil
}

// OnEvent runs on the loop goroutine.
func (c *evConn) OnEvent(events uint32, buf []byte) {
	if events&(eventloop.Out|eventloop.Err|eventloop.Hup) != 0 && c.take(evWantOut) {
		c.signalOut()
	}
	if events&(eventloop.In|eventloop.RDHup|eventloop.Hup|eventloop.Err) == 0 {
		return
	}
	c.mu.Lock()
	if c.has(evStopped) {
		c.mu.Unlock()
		return
	}
	end, err := c.sess.evRead(c, buf, events&(eventloop.RDHup|eventloop.Hup|eventloop.Err) != 0)
	if end {
		c.set(evStopped)
	}
	c.mu.Unlock()
	if end {
		go c.sess.evEnd(err)
		return
	}
	if c.has(evStopReq) {
		c.tryStop()
	}
}

// requestStop ends reading from any goroutine (a local close): the session
// finishes on a goroutine of its own once no callback runs.
func (c *evConn) requestStop() {
	if c.set(evStopReq) {
		return
	}
	if c.has(evStarted) {
		c.tryStop()
	}
}

// tryStop stops reading unless the loop is dispatching, in which case the
// loop calls it again when done.
func (c *evConn) tryStop() {
	if !c.mu.TryLock() {
		return
	}
	if c.set(evStopped) {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go c.sess.evEnd(nil)
}

// watchOut has the loop watch the socket for output space, once it is
// registered (evStart calls it then if a writer asked before).
func (c *evConn) watchOut() {
	if !c.has(evRegistered) || c.set(evOutOn) {
		return
	}
	if err := c.loop.WatchOut(int(c.fd), c.slot); err != nil {
		// Closed meanwhile: the waiting writer sees evClosed.
		c.signalOut()
	}
}

// waitState is the writer-wait state if one was made.
func (c *evConn) waitState() *evWait {
	if a := c.auxPtr(); a != nil {
		return a.wait.Load()
	}
	return nil
}

func (c *evConn) signalOut() {
	if w := c.waitState(); w != nil {
		select {
		case w.out <- struct{}{}:
		default:
		}
	}
}

// awaitOut waits a little (10 ms) for output space and, if there is some,
// wakes the writer waiting for it: it stands in for the loop while the loop
// cannot (Session.evStalled).
func (c *evConn) awaitOut() {
	fds := [1]unix.PollFd{{Fd: c.fd, Events: unix.POLLOUT}}
	if n, err := unix.Poll(fds[:], 10); err == nil && n > 0 && c.take(evWantOut) {
		c.signalOut()
	}
}

// Read is not used: the loop reads the socket.
func (c *evConn) Read([]byte) (int, error) {
	return 0, fmt.Errorf("%w: an event-loop connection is read by its loop", ErrEngineUnsupported)
}

// Write writes all of b, waiting for output space when the socket buffer is
// full. It honours the write deadline.
func (c *evConn) Write(b []byte) (int, error) {
	written := 0
	armed := false
	for written < len(b) {
		if c.has(evClosed) {
			return written, c.opError("write", net.ErrClosed)
		}
		n, err := rawWrite(c.fd, b[written:])
		if n > 0 {
			written += n
			armed = false
			continue
		}
		switch {
		case err == nil || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if !armed {
				// Ask the loop for the next output-space edge, then try
				// once more: space freed before the flag was seen would
				// otherwise go unnoticed.
				c.waiter()
				c.set(evWantOut)
				c.watchOut()
				armed = true
				continue
			}
			if err := c.waitOut(); err != nil {
				return written, err
			}
			armed = false
		default:
			return written, c.opError("write", os.NewSyscallError("write", err))
		}
	}
	return written, nil
}

// waitOut waits for the loop's output-space signal, the write deadline or
// Close.
func (c *evConn) waitOut() error {
	w := c.waiter()
	var timeout <-chan time.Time
	if dl := w.wdl.Load(); dl != 0 {
		d := time.Until(time.Unix(0, dl))
		if d <= 0 {
			return c.opError("write", os.ErrDeadlineExceeded)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.out:
	case <-timeout:
	}
	if c.has(evClosed) {
		return c.opError("write", net.ErrClosed)
	}
	if dl := w.wdl.Load(); dl != 0 && time.Now().UnixNano() >= dl {
		return c.opError("write", os.ErrDeadlineExceeded)
	}
	return nil
}

func (c *evConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.peer.network(), Addr: c.peer.addr(), Err: err}
}

// Close stops watching the socket and closes it. The session calls it once
// reading has stopped and the writes have drained.
func (c *evConn) Close() error {
	if c.set(evClosed) {
		return c.opError("close", net.ErrClosed)
	}
	c.signalOut()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(evStopped)
	if c.loop != nil {
		// The slot stays taken until the session is unregistered
		// (evRelease): the loop's table lists the live sessions.
		c.loop.Unwatch(int(c.fd))
	}
	if err := unix.Close(int(c.fd)); err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// LocalAddr is looked up (getsockname) on each call: an idle connection
// does not hold it. It is nil once the connection is closed.
func (c *evConn) LocalAddr() net.Addr {
	if c.has(evClosed) {
		return nil
	}
	sa, err := unix.Getsockname(int(c.fd))
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port, Zone: zoneName(sa.ZoneId)}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

func zoneName(id uint32) string {
	if id == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return ""
}

// RemoteAddr is made from the address kept compact.
func (c *evConn) RemoteAddr() net.Addr { return c.peer.addr() }

// SetDeadline sets both deadlines.
func (c *evConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t) //nolint:errcheck // never fails
	return c.SetWriteDeadline(t)
}

// SetReadDeadline with a time in the past stops reading (the session engine
// uses it to wake its reader when closing); other deadlines are ignored:
// the session's ReadTimeout runs on the timing wheel.
func (c *evConn) SetReadDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		c.requestStop()
	}
	return nil
}

// SetWriteDeadline bounds blocked writes.
func (c *evConn) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		if w := c.waitState(); w != nil {
			w.wdl.Store(0)
		}
		return nil
	}
	c.waiter().wdl.Store(t.UnixNano())
	if !t.After(time.Now()) {
		c.signalOut()
	}
	return nil
}

// SyscallConn gives the session's non-blocking write attempts the
// descriptor.
func (c *evConn) SyscallConn() (syscall.RawConn, error) { return evRawConn{c}, nil }

type evRawConn struct{ c *evConn }

func (r evRawConn) Control(f func(fd uintptr)) error {
	if r.c.has(evClosed) {
		return net.ErrClosed
	}
	f(uintptr(r.c.fd))
	return nil
}

// Read is not supported: the loop reads.
func (r evRawConn) Read(func(fd uintptr) bool) error {
	return fmt.Errorf("%w: an event-loop connection is read by its loop", ErrEngineUnsupported)
}

// Write calls f once; f must not wait for the socket.
func (r evRawConn) Write(f func(fd uintptr) bool) error {
	if r.c.has(evClosed) {
		return net.ErrClosed
	}
	f(uintptr(r.c.fd))
	return nil
}

// try makes one non-blocking write attempt for the session's writer.
func (c *evConn) try(bufs [][]byte) (int, error) {
	if len(bufs) == 1 {
		return c.tryOne(bufs[0])
	}
	if c.has(evClosed) {
		return 0, c.opError("write", net.ErrClosed)
	}
	for {
		n, err := unix.Writev(int(c.fd), bufs)
		if done, n, err := c.tried(n, err); done {
			return n, err
		}
	}
}

// tryOne is try with one buffer.
func (c *evConn) tryOne(b []byte) (int, error) {
	if c.has(evClosed) {
		return 0, c.opError("write", net.ErrClosed)
	}
	for {
		n, err := rawWrite(c.fd, b)
		if done, n, err := c.tried(n, err); done {
			return n, err
		}
	}
}

// tried sorts the outcome of a non-blocking write: done is false when it
// should be retried (EINTR); a full socket buffer is no error.
func (c *evConn) tried(n int, err error) (done bool, _ int, _ error) {
	switch {
	case err == nil:
		return true, n, nil
	case errors.Is(err, unix.EINTR):
		return false, 0, nil
	case errors.Is(err, unix.EAGAIN):
		return true, 0, nil
	}
	return true, 0, c.opError("write", os.NewSyscallError("write", err))
}

// spareFD is a descriptor held in reserve (on /dev/null) so that taking a
// connection over never fails for want of one: at the descriptor limit the
// duplicate needs a free slot for a moment, until the original is closed.
type spareFD struct {
	mu sync.Mutex
	fd int // -1 when lent
}

func newSpareFD() *spareFD {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1 // no reserve: at the limit a connection is refused
	}
	return &spareFD{fd: fd}
}

// dupFD duplicates fd. When the process is out of descriptors it closes
// the spare, duplicates into its slot, and leaves the spare lent: restore
// takes it back once the original is closed.
func dupFD(fd int, spare *spareFD) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil || spare == nil || !errors.Is(err, unix.EMFILE) {
		return nfd, err
	}
	spare.mu.Lock()
	defer spare.mu.Unlock()
	if spare.fd < 0 {
		return -1, err
	}
	unix.Close(spare.fd) //nolint:errcheck // our own /dev/null descriptor
	spare.fd = -1
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// restore takes the spare back if it was lent (the original connection's
// descriptor has just been closed, so a slot is free).
func (s *spareFD) restore() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			s.fd = fd
		}
	}
}

func (s *spareFD) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

type iovec = unix.Iovec

// tryVec makes one non-blocking vectored write of vecs (at most IOV_MAX),
// with z's scratch for the system call arguments.
func (c *evConn) tryVec(z *zcBatch, vecs [][]byte) (int, error) {
	if c.has(evClosed) {
		return 0, c.opError("write", net.ErrClosed)
	}
	iov := z.iov[:0]
	for _, b := range vecs {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	z.iov = iov
	defer clear(iov) // drop the references to the payloads
	if len(iov) == 0 {
		return 0, nil
	}
	for {
		n, err := rawWritev(c.fd, iov)
		if done, n, err := c.tried(n, err); done {
			return n, err
		}
	}
}
