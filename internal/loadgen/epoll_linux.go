package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
)

// epollDriver drives every connection of a closed-loop run from one
// goroutine locked to its thread, with a level-triggered epoll set over
// descriptors taken away from the Go runtime: one read and one write per
// batch of echoes, no goroutine switches and no read that ends in EAGAIN.
// It is how the load generator stays cheaper than the servers it measures.
type epollDriver struct {
	r     *run
	ep    int
	conns []*epConn
}

// epConn is one connection of the epoll driver.
type epConn struct {
	w      *worker
	fd     int
	buf    []byte
	rd, wr int
	ring   []int64 // send times in send order (the echo keeps order)
	head   int
	pend   []byte // bytes the socket did not take yet
	dead   bool
}

// newEpollDriver takes over links when every one is a plain TCP or Unix
// socket; otherwise it returns nil and leaves them alone.
func newEpollDriver(r *run, links []link) (*epollDriver, error) {
	for _, l := range links {
		sl, ok := l.(streamLink)
		if !ok {
			return nil, nil
		}
		switch sl.c.(type) {
		case *net.TCPConn, *net.UnixConn:
		default:
			return nil, nil
		}
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: epoll: %w", err)
	}
	d := &epollDriver{r: r, ep: ep}
	cfg := r.cfg
	fl := HeaderLen + cfg.Size
	for i, l := range links {
		fd, err := detach(l.(streamLink).c.(syscall.Conn))
		l.close() //nolint:errcheck // the duplicate descriptor carries on
		if err == nil {
			err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)})
			if err != nil {
				syscall.Close(fd) //nolint:errcheck // failing anyway
			}
		}
		if err != nil {
			for _, l := range links[i+1:] {
				l.close() //nolint:errcheck // the error is what matters
			}
			d.close()
			return nil, fmt.Errorf("loadgen: epoll: %w", err)
		}
		d.conns = append(d.conns, &epConn{
			w:    r.workers[i],
			fd:   fd,
			buf:  make([]byte, max(64<<10, fl*(cfg.Depth+1))),
			ring: make([]int64, cfg.Depth),
		})
	}
	return d, nil
}

// detach returns a non-blocking duplicate of c's descriptor, which the Go
// runtime does not poll.
func detach(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = syscall.Dup(int(fd)) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	syscall.CloseOnExec(nfd)
	if err := syscall.SetNonblock(nfd, true); err != nil {
		syscall.Close(nfd) //nolint:errcheck // failing anyway
		return -1, err
	}
	return nfd, nil
}

func (d *epollDriver) close() {
	for _, c := range d.conns {
		syscall.Close(c.fd) //nolint:errcheck // the run is over
	}
	syscall.Close(d.ep) //nolint:errcheck // the run is over
}

func (d *epollDriver) kill(c *epConn, err error) {
	c.dead = true
	c.w.flush()
	syscall.EpollCtl(d.ep, syscall.EPOLL_CTL_DEL, c.fd, nil) //nolint:errcheck // closed at the end anyway
	d.r.fail(fmt.Errorf("conn %d: %w", c.w.id, err))
}

// loop runs until the run stops or every connection failed.
func (d *epollDriver) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cfg := d.r.cfg
	fl := HeaderLen + cfg.Size
	out := frames(cfg.Size, cfg.Depth)
	now := d.r.now()
	live := len(d.conns)
	for _, c := range d.conns {
		for i := range c.ring {
			c.ring[i] = now
		}
		c.w.lastFlush = now
		if err := d.send(c, out); err != nil {
			d.kill(c, err)
			live--
		}
	}
	events := make([]syscall.EpollEvent, 256)
	for live > 0 && !d.r.stop.Load() {
		n, err := syscall.EpollWait(d.ep, events, 0)
		if err == nil && n == 0 {
			n, err = syscall.EpollWait(d.ep, events, 10) // ms; then look at stop again
		}
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			for _, c := range d.conns {
				if !c.dead {
					d.kill(c, err)
				}
			}
			return
		}
		now := d.r.now()
		for _, ev := range events[:n] {
			c := d.conns[ev.Fd]
			if c.dead {
				continue
			}
			var err error
			if ev.Events&syscall.EPOLLOUT != 0 {
				err = d.flushPending(c)
			}
			if err == nil && ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				err = d.receive(c, now, out, fl)
			}
			if err != nil {
				d.kill(c, err)
				live--
			}
		}
	}
	for _, c := range d.conns {
		c.w.flush()
	}
}

// receive reads what is there, accounts for the whole frames and sends as
// many new ones.
func (d *epollDriver) receive(c *epConn, now int64, out []byte, fl int) error {
	cfg := d.r.cfg
	if len(c.buf)-c.wr < fl {
		c.wr = copy(c.buf, c.buf[c.rd:c.wr])
		c.rd = 0
	}
	n, err := syscall.Read(c.fd, c.buf[c.wr:])
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		return nil // level-triggered: we hear again
	case err != nil:
		return err
	case n == 0:
		return io.EOF
	}
	c.wr += n
	k := 0
	for c.wr-c.rd >= fl {
		if err := check(c.buf[c.rd:], cfg.Size, false); err != nil {
			return err
		}
		c.rd += fl
		k++
	}
	if c.rd == c.wr {
		c.rd, c.wr = 0, 0
	}
	if k == 0 {
		return nil
	}
	if k > cfg.Depth {
		return fmt.Errorf("%w: %d frames back, %d in flight", ErrBadEcho, k, cfg.Depth)
	}
	measuring := c.w.account(k)
	for range k {
		if measuring {
			c.w.lat = append(c.w.lat, now-c.ring[c.head])
		}
		c.ring[c.head] = now
		c.head++
		if c.head == len(c.ring) {
			c.head = 0
		}
	}
	c.w.maybeFlush(now)
	return d.send(c, out[:k*fl])
}

// send writes b, keeping what the socket does not take for EPOLLOUT.
func (d *epollDriver) send(c *epConn, b []byte) error {
	if len(c.pend) > 0 {
		c.pend = append(c.pend, b...)
		return nil
	}
	n, err := syscall.Write(c.fd, b)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		n, err = 0, nil
	}
	if err != nil {
		return err
	}
	if n < len(b) {
		c.pend = append(c.pend[:0], b[n:]...)
		return syscall.EpollCtl(d.ep, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT, Fd: int32(c.w.id)})
	}
	return nil
}

func (d *epollDriver) flushPending(c *epConn) error {
	if len(c.pend) == 0 {
		return nil
	}
	n, err := syscall.Write(c.fd, c.pend)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return nil
	}
	if err != nil {
		return err
	}
	c.pend = c.pend[:copy(c.pend, c.pend[n:])]
	if len(c.pend) == 0 {
		return syscall.EpollCtl(d.ep, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.w.id)})
	}
	return nil
}
