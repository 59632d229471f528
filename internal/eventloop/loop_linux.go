// Package eventloop runs epoll event loops: a few goroutines that wait for
// readiness on many non-blocking sockets, so that an idle connection costs
// neither a goroutine nor a read buffer.
//
// A Group owns N loops. Each registered descriptor is watched edge-triggered
// for input, output space and peer hang-up; its Handler runs on the loop's
// goroutine with the loop's read buffer. Registration and removal are safe
// from any goroutine.
package eventloop

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Handler receives the readiness events of one descriptor. OnEvent runs on
// the loop goroutine; buf is the loop's read buffer, valid until it returns.
// Events of one descriptor never run concurrently.
type Handler interface {
	OnEvent(events uint32, buf []byte)
}

// Event bits passed to Handler.OnEvent.
const (
	In    = unix.EPOLLIN
	Out   = unix.EPOLLOUT
	RDHup = unix.EPOLLRDHUP
	Hup   = unix.EPOLLHUP
	Err   = unix.EPOLLERR
)

// ErrClosed is returned by Add on a stopped loop.
var ErrClosed = errors.New("eventloop: group closed")

const maxEvents = 256

// Loop is one epoll instance and the goroutine that waits on it.
type Loop struct {
	epfd int
	wake int // eventfd that interrupts epoll_wait
	buf  []byte

	mu       sync.Mutex // guards handlers
	handlers map[int32]Handler
	stopping atomic.Bool
	err      atomic.Pointer[error]
	done     chan struct{}
}

// Group is a set of loops; Next spreads descriptors over them round-robin.
type Group struct {
	loops []*Loop
	next  atomic.Uint32
	once  sync.Once
}

// NewGroup starts n loops (n <= 0: one per usable CPU), each with a read
// buffer of bufSize bytes.
func NewGroup(n, bufSize int) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if bufSize <= 0 {
		bufSize = 64 << 10
	}
	g := &Group{}
	for range n {
		l, err := newLoop(bufSize)
		if err != nil {
			g.Close() //nolint:errcheck // the loops started so far stop; err is what matters
			return nil, err
		}
		g.loops = append(g.loops, l)
		go l.run()
	}
	return g, nil
}

func newLoop(bufSize int) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventloop: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd) //nolint:errcheck // cleanup after a failure
		return nil, fmt.Errorf("eventloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake) //nolint:errcheck // cleanup after a failure
		unix.Close(epfd) //nolint:errcheck // cleanup after a failure
		return nil, fmt.Errorf("eventloop: epoll_ctl eventfd: %w", err)
	}
	return &Loop{epfd: epfd, wake: wake, buf: make([]byte, bufSize), handlers: make(map[int32]Handler), done: make(chan struct{})}, nil
}

// Loops reports how many loops the group runs.
func (g *Group) Loops() int { return len(g.loops) }

// Next returns the loop that should take the next descriptor (round-robin).
func (g *Group) Next() *Loop {
	return g.loops[int(g.next.Add(1)-1)%len(g.loops)]
}

// Add watches fd, which must be non-blocking, edge-triggered for input,
// output space and hang-up. Events may reach h before Add returns.
func (l *Loop) Add(fd int, h Handler) error {
	if l.stopping.Load() {
		return ErrClosed
	}
	if p := l.err.Load(); p != nil {
		return *p
	}
	l.mu.Lock()
	l.handlers[int32(fd)] = h
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.handlers, int32(fd))
		l.mu.Unlock()
		return fmt.Errorf("eventloop: epoll_ctl add: %w", err)
	}
	return nil
}

// Remove stops watching fd. The caller closes fd afterwards; an event of fd
// already collected by the loop may still reach its handler, which must
// ignore events once it has asked for its removal.
func (l *Loop) Remove(fd int) {
	l.mu.Lock()
	delete(l.handlers, int32(fd))
	l.mu.Unlock()
	// Closing fd removes it from the epoll set too; deleting first keeps a
	// descriptor shared with another process from reporting here.
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil) // ENOENT/EBADF: already gone
}

func (l *Loop) run() {
	defer close(l.done)
	events := make([]unix.EpollEvent, maxEvents)
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// epoll_wait fails only on programming errors (bad fd, bad
			// buffer): keep the error for Err and stop.
			err = fmt.Errorf("eventloop: epoll_wait: %w", err)
			l.err.Store(&err)
			return
		}
		for i := range n {
			ev := &events[i]
			if int(ev.Fd) == l.wake {
				var b [8]byte
				_, _ = unix.Read(l.wake, b[:]) // drains the counter; EAGAIN is fine
				continue
			}
			l.mu.Lock()
			h := l.handlers[ev.Fd]
			l.mu.Unlock()
			if h != nil {
				h.OnEvent(ev.Events, l.buf)
			}
		}
		if l.stopping.Load() {
			return
		}
	}
}

func (l *Loop) stop() {
	l.stopping.Store(true)
	one := [8]byte{1}
	_, _ = unix.Write(l.wake, one[:]) // a full counter means a wake-up is pending anyway
	<-l.done
	unix.Close(l.wake) //nolint:errcheck // nothing to do about a failed close of our own fd
	unix.Close(l.epfd) //nolint:errcheck // nothing to do about a failed close of our own fd
}

// Close stops every loop and waits for their goroutines. The descriptors
// still registered are left open: they belong to their owners.
func (g *Group) Close() error {
	g.once.Do(func() {
		for _, l := range g.loops {
			l.stop()
		}
	})
	return nil
}
