package getty

import (
	"fmt"
	"math"
	"net"
	"sync"
	"time"
	"unsafe"

	"github.com/gettynet/getty/internal/timewheel"
)

// The write path has no goroutine of its own. A goroutine that writes to an
// idle session becomes the flusher: it writes its own bytes and then whatever
// other goroutines queued meanwhile, one system call per batch, until the
// queue is empty. Writers that find a flush in progress only append to the
// queue. While the read loop dispatches several packages decoded from one
// read, the session is corked: replies queue and leave in one batch when the
// dispatch ends (or when the queue passes corkLimit).

const (
	corkLimit = 64 << 10      // flush a corked queue past this many bytes
	keepCap   = 2 * corkLimit // keep a spare write buffer up to this capacity: a corked batch ends past corkLimit
	leanKeep  = 4 << 10       // EngineEventLoop: keep a spare only after a batch of at least this many bytes
)

// span marks the end of one message in a queued batch (message transports).
type span struct {
	end  int
	kind MessageKind
	addr net.Addr
}

// writer is a session's outgoing queue. mu guards every field except msgs
// and vec, which belong to the current flusher.
type writer[T any] struct {
	mu sync.Mutex

	out      *[]byte     // queued bytes (nil until first use)
	spare    *[]byte     // a recycled buffer for the next batch
	m        *msgScratch // message transports only
	slow     *writerWait // made for the first wait or watchdog
	raw      *rawWriter  // non-blocking attempts on TCP and Unix streams (Linux)
	zc       *zcBatch    // EngineEventLoop, while the loop dispatches a batch: payloads queued by reference
	pkgs     int32       // packages queued in out
	inflight int32       // bytes being written by the flusher (for Stats; capped)

	flushing bool // a goroutine is writing to the connection
	async    bool // the flusher is the background goroutine (blocking writes)
	corked   bool // the read loop is dispatching a batch
	closing  bool // the session is closing: only callbacks still running may write
	closed   bool // no new writes are accepted
	broken   bool // the connection failed or was aborted: nothing more is written
	lean     bool // EngineEventLoop: evConn attempts; keep no spare buffer between batches
}

// writerWait is the state of a writer that waits: blocked writers, and the
// watchdog of writes that can block. Most sessions never need it.
type writerWait struct {
	cond     *sync.Cond
	failed   error            // the error of the write that broke the connection, if one did
	timer    *timewheel.Timer // the write watchdog
	waiters  int              // writers blocked on a full backlog
	start    int64            // coarse time the current batch began
	armed    bool             // the watchdog is scheduled
	timedOut bool             // the watchdog aborted the current batch
}

// waitState returns the writer's writerWait, making it (w.mu held).
func (w *writer[T]) waitState() *writerWait {
	if w.slow == nil {
		w.slow = &writerWait{cond: sync.NewCond(&w.mu)}
	}
	return w.slow
}

// sess is the session whose writer w is: the writer is its field w (a
// back pointer would cost every session 8 bytes).
func (w *writer[T]) sess() *Session[T] {
	return (*Session[T])(unsafe.Add(unsafe.Pointer(w), -int(unsafe.Offsetof(Session[T]{}.w))))
}

func (w *writer[T]) setInflight(n int) { w.inflight = int32(min(n, math.MaxInt32)) }

func (w *writer[T]) init(s *Session[T]) {
	if s.msg != nil {
		w.m = &msgScratch{}
	}
	if _, ok := s.stream.(*evConn); ok {
		w.lean = true
	} else if s.msg != nil && evFramed(s.msg.c) != nil {
		w.lean = true // frames encoded by tryFrames (evlayer_linux.go)
	} else if s.stream != nil {
		w.raw = newRawWriter(s.stream)
	}
}

// canTry reports whether the writer can make non-blocking attempts: try
// and tryOne return the bytes the kernel took at once; a full socket buffer
// is not an error.
func (w *writer[T]) canTry() bool { return w.raw != nil || w.lean }

func (w *writer[T]) try(bufs [][]byte) (int, error) {
	if w.lean {
		return w.sess().stream.(*evConn).try(bufs)
	}
	return w.raw.try(bufs)
}

func (w *writer[T]) tryOne(b []byte) (int, error) {
	if w.lean {
		return w.sess().stream.(*evConn).tryOne(b)
	}
	return w.raw.tryOne(b)
}

// Write encodes pkg and sends it. It returns once pkg is written or queued
// behind a write in progress; a queued package that later fails to go out
// ends the session, and the error reaches OnError. On a packet session
// without a fixed peer use WriteTo.
//
// With Options.ZeroCopyReplies (EngineEventLoop), a package whose payload
// still lies in the bytes the callback was given is sent from them when
// the callback returns, not copied: do not modify such bytes after writing
// them in the same callback.
func (s *Session[T]) Write(pkg T) error {
	if s.pktConn() != nil && !s.pktConn().Connected() {
		return ErrNoDestination
	}
	return s.w.writePkg(pkg, nil)
}

// WriteTo encodes pkg and sends it as one datagram to addr. It works on
// packet sessions only.
func (s *Session[T]) WriteTo(pkg T, addr net.Addr) error {
	if s.pktConn() == nil {
		return ErrNotPacket
	}
	if addr == nil {
		return ErrNoDestination
	}
	return s.w.writePkg(pkg, addr)
}

// WriteBytes sends raw bytes that bypass the codec (already encoded). On a
// message transport they travel as one binary message. b may be reused once
// WriteBytes returns.
func (s *Session[T]) WriteBytes(b []byte) error {
	return s.WriteBuffers([][]byte{b})
}

// WriteBuffers sends several raw buffers as one unit, bypassing the codec:
// on an idle stream session with a single vectored system call (writev) and
// no copy; otherwise they are copied into the queue. On a message transport
// they travel as one binary message. The buffers may be reused once
// WriteBuffers returns.
func (s *Session[T]) WriteBuffers(bufs [][]byte) error {
	if s.pktConn() != nil && !s.pktConn().Connected() {
		return ErrNoDestination
	}
	return s.w.writeRaw(bufs)
}

func (w *writer[T]) buf() *[]byte {
	if w.out == nil {
		if w.spare != nil {
			w.out, w.spare = w.spare, nil
		} else {
			w.out = w.sess().e.bufs.Get(512)
		}
	}
	return w.out
}

// admitLocked waits for room in the backlog. It reports ErrSessionClosed,
// ErrWriteQueueFull, or nil with w.mu held.
func (w *writer[T]) admitLocked() error {
	o := &w.sess().e.opts
	for {
		if w.closed || (w.closing && w.sess().dispatching.Load() == 0) {
			return ErrSessionClosed
		}
		if w.out == nil || len(*w.out) < o.MaxWriteBacklog || !w.flushing {
			return nil
		}
		if !o.BlockOnBacklog {
			return ErrWriteQueueFull
		}
		if ec := w.sess().evStalled(); ec != nil {
			// The flusher waits for the event loop to report output
			// space, which the loop may not do before this callback
			// returns: watch for it here.
			w.mu.Unlock()
			ec.awaitOut()
			w.mu.Lock()
			continue
		}
		w.waitLocked()
	}
}

func (w *writer[T]) writePkg(pkg T, addr net.Addr) error {
	s := w.sess()
	w.mu.Lock()
	if err := w.admitLocked(); err != nil {
		w.mu.Unlock()
		return err
	}
	out := w.buf()
	start := len(*out)
	kind, err := w.encodeLocked(out, pkg)
	if err == nil && len(*out)-start > s.e.opts.MaxPackageSize {
		err = fmt.Errorf("%w: encoded package is %d bytes, the limit is %d", ErrMessageTooLarge, len(*out)-start, s.e.opts.MaxPackageSize)
	}
	op := "encode"
	if err == nil && s.limiter() != nil {
		op = "write"
		err = s.limiter().CheckMessageSize(len(*out) - start)
	}
	if err != nil {
		*out = (*out)[:start]
		w.mu.Unlock()
		return &OpError{Op: op, Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: err}
	}
	return w.commitLocked(kind, addr)
}

// encodeLocked appends the encoding of pkg to out (w.mu held). If the
// codec panics, w.mu is unlocked before the panic goes on (out is left as it
// was): the recovery of the callback that wrote ends the session, which
// needs the writer.
func (w *writer[T]) encodeLocked(out *[]byte, pkg T) (kind MessageKind, err error) {
	held := true
	defer func() {
		if held {
			w.mu.Unlock() // the codec panicked
		}
	}()
	s := w.sess()
	kind = Binary
	switch {
	case s.msg != nil && s.e.msgCodec != nil:
		*out, kind, err = s.e.msgCodec.EncodeMessage(*out, pkg)
	case w.zc != nil:
		err = w.encodeRefLocked(out, pkg)
	default:
		*out, err = s.e.codec.Encode(*out, pkg)
	}
	held = false
	return kind, err
}

func (w *writer[T]) writeRaw(bufs [][]byte) error {
	s := w.sess()
	if s.limiter() != nil {
		n := 0
		for _, b := range bufs {
			n += len(b)
		}
		if err := s.limiter().CheckMessageSize(n); err != nil {
			return &OpError{Op: "write", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: err}
		}
	}
	w.mu.Lock()
	if err := w.admitLocked(); err != nil {
		w.mu.Unlock()
		return err
	}
	if s.stream != nil && !w.flushing && !w.corked && w.pkgs == 0 && len(bufs) <= maxIovecs {
		return w.flushDirectLocked(bufs)
	}
	out := w.buf()
	for _, b := range bufs {
		*out = append(*out, b...)
	}
	return w.commitLocked(Binary, nil)
}

// commitLocked accounts for the package just appended to out and flushes if
// this goroutine should. It unlocks w.mu.
func (w *writer[T]) commitLocked(kind MessageKind, addr net.Addr) error {
	w.pkgs++
	if w.sess().msg != nil {
		w.m.spans = append(w.m.spans, span{end: len(*w.out), kind: kind, addr: addr})
	}
	if w.flushing || (w.corked && w.queuedLocked() < corkLimit) {
		w.mu.Unlock()
		return nil
	}
	return w.flushLocked()
}

// flushDirectLocked writes bufs with one vectored call and no copy, then
// flushes what others queued meanwhile. It unlocks w.mu.
func (w *writer[T]) flushDirectLocked(bufs [][]byte) error {
	w.flushing = true
	w.beginLocked()
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	w.setInflight(total)
	w.mu.Unlock()
	var n int
	var err error
	if w.canTry() {
		n, err = w.try(bufs)
	} else {
		vec := append(net.Buffers(nil), bufs...) // WriteTo consumes it
		_, err = vec.WriteTo(w.sess().stream)
		n = total
	}
	w.observeWrite(err, n, total, 1)
	w.mu.Lock()
	if err == nil && n < total {
		// Keep the unwritten rest (the caller may reuse bufs) and let a
		// background flusher wait for the peer.
		rest := w.sess().e.bufs.Get(total - n)
		for _, b := range bufs {
			if n >= len(b) {
				n -= len(b)
				continue
			}
			*rest = append(*rest, b[n:]...)
			n = 0
		}
		w.sess().bytesOut.Add(uint64(total - len(*rest)))
		w.handOffLocked(rest, 1)
		return nil
	}
	if err = w.endLocked(total, 1, err); err != nil {
		return w.failLocked(err)
	}
	return w.flushLocked()
}

// flushLocked writes queued batches until the queue is empty. It unlocks
// w.mu and, if a write fails, closes the session. On sockets that allow it,
// a batch is first offered to the kernel without waiting; if the kernel
// takes only part, the rest goes to a background flusher and the caller
// returns.
func (w *writer[T]) flushLocked() error {
	w.flushing = true
	for w.pkgs > 0 && !w.broken { // pkgs, not bytes: an empty datagram is a message too
		if w.zc != nil && len(w.zc.refs) > 0 {
			if w.async {
				w.materializeLocked() // a blocking flusher must not hold the read buffer
			} else {
				if w.flushRefsLocked() {
					return nil // handed off
				}
				continue
			}
		}
		buf, spans, pkgs := w.out, w.takeSpans(), int(w.pkgs)
		w.out, w.pkgs = nil, 0
		w.setInflight(len(*buf))
		w.beginLocked()
		w.mu.Unlock()
		var n int
		var err error
		if w.lean && !w.async && w.sess().msg != nil {
			n, err = w.tryFrames(buf, spans) // a FramedConn on an event loop
		} else if w.canTry() && !w.async {
			n, err = w.tryOne(*buf)
		} else {
			err = w.send(*buf, spans)
			n = len(*buf)
		}
		w.observeWrite(err, n, len(*buf), pkgs)
		w.mu.Lock()
		if err == nil && n < len(*buf) {
			w.sess().bytesOut.Add(uint64(n))
			*buf = (*buf)[:copy(*buf, (*buf)[n:])]
			w.handOffLocked(buf, pkgs)
			return nil
		}
		err = w.endLocked(len(*buf), pkgs, err)
		w.recycleLocked(buf, spans)
		if err != nil {
			return w.failLocked(err)
		}
	}
	w.flushing = false
	w.async = false
	w.wakeLocked()
	w.mu.Unlock()
	return nil
}

// handOffLocked starts the background flusher with head, the unwritten rest
// of a batch holding pkgs packages. The flusher keeps w.flushing set until
// the queue is empty, so writers keep queueing behind it. It unlocks w.mu.
func (w *writer[T]) handOffLocked(head *[]byte, pkgs int) {
	w.async = true
	w.setInflight(len(*head))
	w.mu.Unlock()
	go w.flushAsync(head, pkgs)
}

// flushAsync writes head and then the queue with blocking calls. It is the
// session's only flusher while it runs; the write watchdog bounds it, and
// finish waits for it (drain).
func (w *writer[T]) flushAsync(head *[]byte, pkgs int) {
	w.mu.Lock()
	w.beginLocked()
	w.mu.Unlock()
	_, err := w.sink().Write(*head)
	w.observeWrite(err, len(*head), len(*head), pkgs)
	w.mu.Lock()
	err = w.endLocked(len(*head), pkgs, err)
	w.recycleLocked(head, nil)
	if err != nil {
		w.failLocked(err) //nolint:errcheck // the session closes with err as its cause
		return
	}
	w.flushLocked() //nolint:errcheck // a failed flush closes the session and is reported there
}

// send performs one batch of blocking I/O. It runs without the lock; only
// the flusher touches w.msgs.
func (w *writer[T]) send(data []byte, spans []span) error {
	s := w.sess()
	if s.stream != nil {
		_, err := s.stream.Write(data)
		return err
	}
	from := 0
	m := w.m
	for _, sp := range spans {
		m.msgs = append(m.msgs, Message{Kind: sp.kind, Addr: sp.addr, Data: data[from:sp.end]})
		from = sp.end
	}
	err := s.msg.c.WriteMessages(m.msgs)
	clear(m.msgs)
	m.msgs = m.msgs[:0]
	return err
}

func (w *writer[T]) beginLocked() {
	timeout := w.sess().e.opts.WriteTimeout
	cannotStall := timeout <= 0 || (w.canTry() && !w.async) // no limit, or a non-blocking attempt
	if cannotStall && w.slow == nil {
		return // and no watchdog to inform
	}
	ws := w.waitState()
	ws.start = w.sess().e.wheel.Now()
	ws.timedOut = false
	if cannotStall || ws.armed {
		return
	}
	if ws.timer == nil {
		// Made on the first write that can block: a session that never
		// fills its socket buffer does without.
		ws.timer = w.sess().e.wheel.NewTimer(w.onWatchdog)
	}
	ws.armed = true
	ws.timer.Schedule(timeout)
}

// endLocked records a finished batch and turns its error into the session's.
func (w *writer[T]) endLocked(n, pkgs int, err error) error {
	w.inflight = 0
	if err == nil {
		w.sess().bytesOut.Add(uint64(n))
		w.sess().pkgsOut.Add(uint64(pkgs))
		w.sess().lastWrite.Store(w.sess().e.now())
		w.wakeLocked()
		return nil
	}
	if w.slow != nil && w.slow.timedOut {
		err = fmt.Errorf("%w: %w", ErrWriteTimeout, err)
	}
	return &OpError{Op: "write", Session: w.sess().id, Addr: w.sess().transportConn().RemoteAddr(), Err: err}
}

func (w *writer[T]) failLocked(err error) error {
	w.broken = true
	if ws := w.waitState(); ws.failed == nil {
		ws.failed = err
	}
	w.flushing = false
	w.async = false
	w.wakeLocked()
	w.mu.Unlock()
	w.sess().closeWith(err, false)
	return err
}

func (w *writer[T]) recycleLocked(buf *[]byte, spans []span) {
	if w.m != nil {
		clear(spans)
		w.m.spare = spans[:0]
	}
	if w.lean && len(*buf) < leanKeep {
		// A session that sends small batches holds no buffer between
		// them (most idle sessions are such): the pool has one for the
		// next. Bulk senders keep theirs, as on the goroutine engine.
		w.sess().e.bufs.Put(buf)
		return
	}
	*buf = (*buf)[:0]
	if w.spare == nil && cap(*buf) <= keepCap {
		w.spare = buf
		return
	}
	w.sess().e.bufs.Put(buf)
}

func (w *writer[T]) wakeLocked() {
	if w.slow != nil && w.slow.waiters > 0 {
		w.broadcastLocked()
	}
}

// cork defers flushing while the read loop dispatches a batch.
func (w *writer[T]) cork() {
	w.mu.Lock()
	w.corked = true
	w.mu.Unlock()
}

// uncork flushes what queued while corked. Once it returns, no queued or
// in-flight write refers to the bytes the batch was decoded from.
func (w *writer[T]) uncork() {
	w.mu.Lock()
	w.corked = false
	if !w.flushing && w.pkgs > 0 && !w.broken {
		w.flushLocked() //nolint:errcheck // a failed flush closes the session and is reported there
		w.mu.Lock()
	}
	if w.zc != nil {
		w.endRefsLocked()
	}
	w.mu.Unlock()
}

// queuedLocked is the number of bytes queued (w.mu held).
func (w *writer[T]) queuedLocked() int {
	n := len(*w.out)
	if w.zc != nil {
		n += w.zc.bytes
	}
	return n
}

// onWatchdog runs on the wheel: it aborts a batch stalled for WriteTimeout.
func (w *writer[T]) onWatchdog() {
	timeout := w.sess().e.opts.WriteTimeout
	w.mu.Lock()
	ws := w.slow // made before the watchdog was scheduled
	if !w.flushing {
		ws.armed = false
		w.mu.Unlock()
		return
	}
	stalled := time.Duration(w.sess().e.wheel.Now() - ws.start)
	if stalled < timeout {
		ws.timer.Schedule(timeout - stalled)
		w.mu.Unlock()
		return
	}
	ws.armed = false
	ws.timedOut = true
	// Under the lock: a batch that completed after the lock was released
	// would leave a healthy session with a deadline in the past. (A
	// net.Conn's SetWriteDeadline does not wait for a blocked Write: it
	// ends it.)
	w.sess().transportConn().SetWriteDeadline(aLongTimeAgo) //nolint:errcheck // the stalled write fails either way
	w.mu.Unlock()
}

// drainClose refuses new writes but from the callbacks still running (a
// handler answering a package it was given before its server began to
// drain); queued writes still drain.
func (w *writer[T]) drainClose() {
	w.mu.Lock()
	w.closing = true
	w.broadcastLocked()
	w.mu.Unlock()
}

// close refuses every new write; queued ones still drain. finish calls it
// before the final drain in any case.
func (w *writer[T]) close() {
	w.mu.Lock()
	w.closed = true
	w.broadcastLocked()
	w.mu.Unlock()
}

// abort drops the queue: nothing more will be written.
func (w *writer[T]) abort() {
	w.mu.Lock()
	w.closed = true
	w.broken = true
	w.broadcastLocked()
	w.mu.Unlock()
}

// drain waits for a flush in progress and writes what is still queued
// (unless the session was aborted). It runs in finish.
func (w *writer[T]) drain() {
	w.mu.Lock()
	for w.flushing {
		w.waitLocked()
	}
	if !w.broken && w.pkgs > 0 {
		w.flushLocked() //nolint:errcheck // the session is closing; the error is its cause if it was first
		w.mu.Lock()
	}
	var t *timewheel.Timer
	if w.slow != nil {
		t = w.slow.timer
	}
	w.mu.Unlock()
	if t != nil {
		t.Cancel()
	}
}

// failure returns the error of the write that broke the connection, or nil.
func (w *writer[T]) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.slow == nil {
		return nil
	}
	return w.slow.failed
}

// release returns the buffers to the pool once the session is done.
func (w *writer[T]) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sess().e.bufs.Put(w.out)
	w.sess().e.bufs.Put(w.spare)
	w.out, w.spare = nil, nil
	w.broken = true
}

func (w *writer[T]) backlog() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := int(w.inflight)
	if w.out != nil {
		n += len(*w.out)
	}
	if w.zc != nil && !w.zc.inflight {
		n += w.zc.bytes // payloads queued by reference (ZeroCopyReplies)
	}
	return n
}

// waitLocked waits on the writer's condition (w.mu held).
func (w *writer[T]) waitLocked() {
	ws := w.waitState()
	ws.waiters++
	ws.cond.Wait()
	ws.waiters--
}

// broadcastLocked wakes every waiting writer (w.mu held).
func (w *writer[T]) broadcastLocked() {
	if w.slow != nil {
		w.slow.cond.Broadcast()
	}
}

// msgScratch is the writer state of message transports: the boundaries of
// the queued messages, and scratch for WriteMessages (which only the
// flusher touches).
type msgScratch struct {
	spans []span // message boundaries in out
	spare []span
	msgs  []Message
}

// takeSpans hands the queued message boundaries to the flusher (w.mu held).
func (w *writer[T]) takeSpans() []span {
	if w.m == nil {
		return nil
	}
	spans := w.m.spans
	w.m.spans = w.m.spare[:0]
	w.m.spare = nil
	return spans
}
