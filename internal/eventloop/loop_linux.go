// Package eventloop runs epoll event loops: a few goroutines that wait for
// readiness on many non-blocking sockets, so that an idle connection costs
// neither a goroutine nor a read buffer.
//
// A Group owns N loops. Each registered descriptor is watched edge-triggered
// for input, output space and peer hang-up; its Handler runs on the loop's
// goroutine with the loop's read buffer. Registration and removal are safe
// from any goroutine.
//
// A loop finds a descriptor's handler through a slot number it stores in
// the epoll event, in a table that holds one pointer per registered
// descriptor (no map): 8 bytes per idle connection.
package eventloop

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler receives the readiness events of one descriptor. OnEvent runs on
// the loop goroutine; buf is the loop's read buffer, valid until it returns.
// Events of one descriptor never run concurrently. A handler must tolerate
// a spurious event (a read or write that finds nothing to do): a slot freed
// and reused while the loop dispatches a batch may receive an event
// collected for its previous owner.
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

// wakeSlot marks the loop's own eventfd in epoll events.
const wakeSlot = -1

// Loop is one epoll instance and the goroutine that waits on it. H is the
// handler type, a pointer.
type Loop[H Handler] struct {
	epfd int
	wake int // eventfd that interrupts epoll_wait
	buf  []byte

	mu       sync.Mutex // guards slots, used, free
	slots    slotTable[H]
	free     []int32 // slot numbers below used to reuse
	stopping atomic.Bool
	err      atomic.Pointer[error]
	done     chan struct{}
	g        *Group[H]
}

// Group is a set of loops; Next spreads descriptors over them round-robin.
type Group[H Handler] struct {
	loops []*Loop[H]
	next  atomic.Uint32
	once  sync.Once
	// A coarse clock: the loops store the time they woke (UnixNano) once
	// per batch of events, and count themselves awake meanwhile.
	now   atomic.Int64
	awake atomic.Int32
}

// NewGroup starts n loops (n <= 0: one per usable CPU), each with a read
// buffer of bufSize bytes.
func NewGroup[H Handler](n, bufSize int) (*Group[H], error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if bufSize <= 0 {
		bufSize = 64 << 10
	}
	g := &Group[H]{}
	for range n {
		l, err := newLoop(g, bufSize)
		if err != nil {
			g.Close() //nolint:errcheck // the loops started so far stop; err is what matters
			return nil, err
		}
		g.loops = append(g.loops, l)
		go l.run()
	}
	return g, nil
}

func newLoop[H Handler](g *Group[H], bufSize int) (*Loop[H], error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventloop: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd) //nolint:errcheck // cleanup after a failure
		return nil, fmt.Errorf("eventloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake) //nolint:errcheck // cleanup after a failure
		unix.Close(epfd) //nolint:errcheck // cleanup after a failure
		return nil, fmt.Errorf("eventloop: epoll_ctl eventfd: %w", err)
	}
	return &Loop[H]{epfd: epfd, wake: wake, buf: make([]byte, bufSize), done: make(chan struct{}), g: g}, nil
}

// Now returns the time (UnixNano) at which a loop last woke for a batch of
// events, and true while some loop is awake; false when every loop waits.
// Within a batch it is as old as the batch: a coarse clock that costs no
// system call, for handlers and for code that runs while they do.
func (g *Group[H]) Now() (int64, bool) {
	if g.awake.Load() <= 0 {
		return 0, false
	}
	return g.now.Load(), true
}

// Loops reports how many loops the group runs.
func (g *Group[H]) Loops() int { return len(g.loops) }

// Next returns the loop that should take the next descriptor (round-robin).
func (g *Group[H]) Next() *Loop[H] {
	return g.loops[int(g.next.Add(1)-1)%len(g.loops)]
}

// Add watches fd, which must be non-blocking, edge-triggered for input and
// hang-up, and returns its slot for Remove. Events may reach h before Add
// returns. Output space is watched only once WatchOut asks: a socket
// watched for it raises an event at every acknowledgement that frees
// space, which costs wake-ups when nobody waits.
func (l *Loop[H]) Add(fd int, h H) (int32, error) {
	if l.stopping.Load() {
		return 0, ErrClosed
	}
	if p := l.err.Load(); p != nil {
		return 0, *p
	}
	l.mu.Lock()
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = l.slots.grow()
	}
	l.slots.set(slot, h)
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: slot}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.release(slot)
		return 0, fmt.Errorf("eventloop: epoll_ctl add: %w", err)
	}
	return slot, nil
}

// Remove stops watching fd, registered in slot, and frees the slot. The
// caller closes fd afterwards; an event of fd already collected by the loop
// may still reach its handler, which must ignore events once it has asked
// for its removal.
func (l *Loop[H]) Remove(fd int, slot int32) {
	l.Unwatch(fd)
	l.release(slot)
}

// WatchOut adds output space to what fd (registered in slot) is watched
// for, from then on. If the socket has space already, an Out event follows
// at once.
func (l *Loop[H]) WatchOut(fd int, slot int32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: slot}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("eventloop: epoll_ctl mod: %w", err)
	}
	return nil
}

// Unwatch stops watching fd but keeps its slot (and handler, for Each)
// until Release.
func (l *Loop[H]) Unwatch(fd int) {
	// Closing fd removes it from the epoll set too; deleting first keeps a
	// descriptor shared with another process from reporting here.
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil) // ENOENT/EBADF: already gone
}

// Release frees a slot whose descriptor Unwatch has removed.
func (l *Loop[H]) Release(slot int32) { l.release(slot) }

func (l *Loop[H]) release(slot int32) {
	var zero H
	l.mu.Lock()
	l.slots.set(slot, zero)
	if slot == l.slots.used-1 {
		l.slots.used--
	} else {
		l.free = append(l.free, slot)
	}
	l.mu.Unlock()
}

// Each calls f for every registered handler, under the loop's lock: f must
// not call Add or Remove.
func (l *Loop[H]) Each(f func(H)) {
	var zero H
	l.mu.Lock()
	defer l.mu.Unlock()
	for slot := range l.slots.used {
		h := l.slots.get(slot)
		if any(h) != any(zero) {
			f(h)
		}
	}
}

// Each calls f for every handler registered on every loop of g.
func (g *Group[H]) Each(f func(H)) {
	for _, l := range g.loops {
		l.Each(f)
	}
}

func (l *Loop[H]) run() {
	defer close(l.done)
	// The loop does not lock its OS thread: with the poll below, the
	// yield (Gosched) of a locked thread hands its P to another thread and
	// back (four futex calls); measured, unlocked loops are as fast or
	// faster in every cell of the harness.
	events := make([]unix.EpollEvent, maxEvents)
	handlers := make([]H, maxEvents)
	var zero H
	busy := false
	l.g.now.Store(time.Now().UnixNano()) // awake from here: the clock is fresh first
	l.g.awake.Add(1)
	defer l.g.awake.Add(-1)
	for {
		// After a batch, look once more without sleeping: under load the
		// next events are often there already, and a poll that returns at
		// once costs less than putting the thread to sleep and waking it.
		// The system call directly: unix.EpollWait boxes EINTR (frequent:
		// the runtime's signals interrupt the wait) into an allocation.
		timeout := ^uintptr(0) // -1: wait
		if busy {
			timeout = 0
		}
		if !busy {
			l.g.awake.Add(-1) // asleep: the clock goes stale
		}
		// A poll that does not wait is a raw call: it never blocks, and
		// the scheduler need not hear of it.
		syscall6 := unix.Syscall6
		if busy {
			syscall6 = unix.RawSyscall6
		}
		r, _, errno := syscall6(unix.SYS_EPOLL_WAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), timeout, 0, 0)
		n := int(r)
		wasBusy := busy
		busy = errno == 0 && n > 0
		if busy || !wasBusy {
			// A batch, or a wake from sleep without one (a signal
			// interrupts the wait): the loop counts itself awake below,
			// and must not offer the time of a batch long past.
			l.g.now.Store(time.Now().UnixNano())
		}
		if !wasBusy {
			l.g.awake.Add(1) // after the clock is fresh
		}
		if errno == 0 && n == 0 {
			runtime.Gosched() // nothing yet: let other goroutines run before sleeping
			continue
		}
		if errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			// epoll_wait fails only on programming errors (bad fd, bad
			// buffer): keep the error for Err and stop.
			err := fmt.Errorf("eventloop: epoll_wait: %w", errno)
			l.err.Store(&err)
			return
		}
		// Look the whole batch up under one lock. A handler removed
		// meanwhile is still called; it ignores the event.
		l.mu.Lock()
		for i := range n {
			if slot := events[i].Fd; slot >= 0 && slot < l.slots.used {
				handlers[i] = l.slots.get(slot)
			}
		}
		l.mu.Unlock()
		for i := range n {
			ev := &events[i]
			if ev.Fd == wakeSlot {
				var b [8]byte
				_, _ = unix.Read(l.wake, b[:]) // drains the counter; EAGAIN is fine
				continue
			}
			if h := handlers[i]; any(h) != any(zero) {
				handlers[i] = zero
				h.OnEvent(ev.Events, l.buf)
			}
		}
		if l.stopping.Load() {
			return
		}
	}
}

func (l *Loop[H]) stop() {
	l.stopping.Store(true)
	one := [8]byte{1}
	_, _ = unix.Write(l.wake, one[:]) // a full counter means a wake-up is pending anyway
	<-l.done
	unix.Close(l.wake) //nolint:errcheck // nothing to do about a failed close of our own fd
	unix.Close(l.epfd) //nolint:errcheck // nothing to do about a failed close of our own fd
}

// Close stops every loop and waits for their goroutines. The descriptors
// still registered are left open: they belong to their owners.
func (g *Group[H]) Close() error {
	g.once.Do(func() {
		for _, l := range g.loops {
			l.stop()
		}
	})
	return nil
}

// slotTable holds the handlers by slot number in pages of pageSize that
// are never moved: growing it copies nothing and leaves no garbage, and
// it costs 8 bytes per slot for pointer handlers.
type slotTable[H Handler] struct {
	pages []*[pageSize]H
	used  int32 // slots below this may be taken
}

const pageSize = 1024

func (t *slotTable[H]) get(slot int32) H { return t.pages[slot/pageSize][slot%pageSize] }

func (t *slotTable[H]) set(slot int32, h H) { t.pages[slot/pageSize][slot%pageSize] = h }

// grow adds a slot at the end and returns it.
func (t *slotTable[H]) grow() int32 {
	slot := t.used
	if int(slot/pageSize) == len(t.pages) {
		t.pages = append(t.pages, new([pageSize]H))
	}
	t.used++
	return slot
}
