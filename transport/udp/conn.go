package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gettynet/getty"
	"golang.org/x/net/ipv4"
)

// Conn is one UDP socket as a getty.PacketConn: unconnected (it receives from
// anyone and every write names its destination) or connected (a fixed peer,
// plain writes, datagrams from anyone else dropped). Listen and Dialer make
// them; Connect turns an unconnected Conn into a connected one, or moves a
// connected one to a new peer.
//
// Both kinds share one read path, which always learns the sender, and one
// write path, which sends without an address when connected. On Linux both
// move many datagrams per system call (recvmmsg, sendmmsg).
//
// ReadMessage is called by one goroutine at a time, and so is
// WriteMessages; they may run concurrently with each other. Every other
// method is safe for concurrent use.
type Conn struct {
	uc  *net.UDPConn
	io  *packetIO
	cfg Config

	connMu sync.Mutex // serializes Connect
	peer   atomic.Pointer[net.UDPAddr]
	local  atomic.Pointer[net.UDPAddr]

	rmu  sync.Mutex     // guards the read side below
	rms  []ipv4.Message // the receive batch; cap is cfg.ReadBatch
	rbuf [][]byte       // one MaxDatagramSize+1 buffer per batch slot
	rvec [][]byte       // rms[i].Buffers is rvec[i : i+1]
	roob []byte         // drop-counter control messages, dropOOBSize per slot
	rn   int            // datagrams in the batch
	rpos int            // next datagram to hand out
	rlim int            // payload limit of the current batch
	drop uint32         // last SO_RXQ_OVFL count seen

	wmu  sync.Mutex     // guards the write side below
	wms  []ipv4.Message // the send batch: datagrams, or groups of them (GSO)
	wvec [][]byte       // the batch's payloads, WriteBatch slots; each message's Buffers is a run of them
	woob []byte         // UDP_SEGMENT control messages, segmentOOBSize per batch slot

	// Segmentation offload: equal-size datagrams to one destination go as
	// one send that the kernel splits (Linux UDP_SEGMENT).
	gso      atomic.Bool
	gsoMax   int          // the most payload bytes of one offloaded send
	gsoSegUp atomic.Int64 // the largest segment size the path accepted offloaded

	pending atomic.Pointer[getty.PacketError] // a send failure for the reader to report
	st      counters
}

// newConn wraps a fresh unconnected socket. ipv6Only says whether IPv4
// peers are impossible (which allows larger datagrams).
func newConn(uc *net.UDPConn, cfg *Config, ipv6Only bool) (*Conn, error) {
	la, _ := uc.LocalAddr().(*net.UDPAddr)
	v6 := la != nil && la.IP.To4() == nil
	familyMax := MaxDatagramIPv4
	if ipv6Only {
		familyMax = MaxDatagramIPv6
	}
	rc, err := cfg.resolved(familyMax)
	if err != nil {
		return nil, err
	}
	if rc.ReadBuffer > 0 {
		if err := uc.SetReadBuffer(rc.ReadBuffer); err != nil {
			return nil, err
		}
	}
	if rc.WriteBuffer > 0 {
		if err := uc.SetWriteBuffer(rc.WriteBuffer); err != nil {
			return nil, err
		}
	}
	pio, err := newPacketIO(uc, v6)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		uc:   uc,
		io:   pio,
		cfg:  rc,
		rms:  make([]ipv4.Message, 1, rc.ReadBatch),
		rbuf: make([][]byte, 0, rc.ReadBatch),
		rvec: make([][]byte, rc.ReadBatch),
		wms:  make([]ipv4.Message, 0, rc.WriteBatch),
		wvec: make([][]byte, rc.WriteBatch),
	}
	if raw, err := uc.SyscallConn(); err == nil {
		if enableDropCount(raw) {
			c.roob = make([]byte, dropOOBSize*rc.ReadBatch)
		}
		if !rc.NoGSO && rc.WriteBatch > 1 && gsoSupported(raw) {
			c.gso.Store(true)
			c.gsoMax = familyMax
			c.gsoSegUp.Store(int64(rc.MaxDatagramSize))
			c.woob = make([]byte, segmentOOBSize*rc.WriteBatch)
		}
	}
	if la != nil {
		c.local.Store(la)
	}
	return c, nil
}

// Connect gives the socket the fixed peer addr (connect(2)); calling it
// again moves it to a new peer. From then on Write sends to addr without
// naming it, and datagrams from any other address are dropped (the kernel
// drops new ones; those already queued are counted in Stats.Foreign).
func (c *Conn) Connect(addr *net.UDPAddr) error {
	if addr == nil || addr.IP.To16() == nil {
		return fmt.Errorf("%w: %v", ErrBadAddress, addr)
	}
	addr = cloneAddr(addr)
	c.connMu.Lock()
	defer c.connMu.Unlock()
	old := c.peer.Swap(addr)
	if err := c.io.connect(addr); err != nil {
		c.peer.Store(old)
		return err
	}
	if la, err := c.io.localAddr(); err == nil {
		c.local.Store(la)
	}
	return nil
}

// Connected reports whether the socket has a fixed peer.
func (c *Conn) Connected() bool { return c.peer.Load() != nil }

// RemoteAddr is the connected peer (a *net.UDPAddr), or nil.
func (c *Conn) RemoteAddr() net.Addr {
	if p := c.peer.Load(); p != nil {
		return p
	}
	return nil
}

// LocalAddr is the socket's address (a *net.UDPAddr). Once connected it
// shows the source address the kernel chose for the peer.
func (c *Conn) LocalAddr() net.Addr {
	if l := c.local.Load(); l != nil {
		return l
	}
	return c.uc.LocalAddr()
}

// SetReadDeadline sets the deadline of ReadMessage.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.uc.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of WriteMessages.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.uc.SetWriteDeadline(t) }

// Close closes the socket; blocked reads and writes fail at once.
func (c *Conn) Close() error { return c.uc.Close() }

// UDPConn returns the socket, for socket options this package does not
// cover (TOS, multicast). Reading or writing it directly bypasses Stats and
// corrupts a batch in progress.
func (c *Conn) UDPConn() *net.UDPConn { return c.uc }

// MaxMessageSize is Config.MaxDatagramSize: the getty session refuses to
// send a larger package.
func (c *Conn) MaxMessageSize() int { return c.cfg.MaxDatagramSize }

// CheckMessageSize refuses a datagram over MaxDatagramSize with an error
// wrapping getty.ErrMessageTooLarge that states both sizes
// (getty.MessageLimiter): the session refuses such a write before queueing
// it and stays open.
func (c *Conn) CheckMessageSize(n int) error {
	if n > c.cfg.MaxDatagramSize {
		return fmt.Errorf("%w: datagram of %d bytes, the limit is %d", getty.ErrMessageTooLarge, n, c.cfg.MaxDatagramSize)
	}
	return nil
}

// Buffered reports how many received datagrams the next ReadMessage calls
// return without a system call (a batch received at once). The getty
// session sends the replies to such a batch in one batch. Call it from the
// reading goroutine.
func (c *Conn) Buffered() int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.skipSilent()
	return c.rn - c.rpos
}

// Stats returns a snapshot of the socket's datagram counters.
func (c *Conn) Stats() Stats { return c.st.snapshot() }

// ReadMessage returns the next datagram, with its sender in m.Addr. m.Data
// is valid until the next call. Datagrams from addresses other than the
// connected peer, and dial probes, are dropped without a word. A datagram
// larger than max (or than MaxDatagramSize) is dropped and reported as a
// *getty.PacketError wrapping ErrTruncated and getty.ErrMessageTooLarge; an
// ICMP error on a connected socket comes as a *getty.PacketError wrapping
// ErrUnreachable, and so does a send failure noted by WriteMessages. Any
// other error is final.
func (c *Conn) ReadMessage(max int) (getty.Message, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if pe := c.pending.Swap(nil); pe != nil {
			return getty.Message{}, pe
		}
		if c.rpos >= c.rn {
			if err := c.fill(max); err != nil {
				return getty.Message{}, c.readError(err)
			}
			continue
		}
		if c.skipSilent() {
			continue
		}
		i := c.rpos
		c.rpos++
		m := &c.rms[i]
		from, _ := m.Addr.(*net.UDPAddr)
		if lim := limit(max, c.rlim); truncated(m.Flags) || m.N > lim {
			c.st.truncated.Add(1)
			return getty.Message{}, &getty.PacketError{Addr: from,
				Err: fmt.Errorf("%w: %w: datagram larger than %d bytes dropped", ErrTruncated, getty.ErrMessageTooLarge, lim)}
		}
		c.st.datagramsIn.Add(1)
		c.st.bytesIn.Add(uint64(m.N))
		return getty.Message{Kind: getty.Binary, Addr: from, Data: c.rbuf[i][:m.N]}, nil
	}
}

// skipSilent drops the datagrams at the front of the batch that nobody is
// told about: those from an address other than the connected peer, and
// probes. It reports whether the batch ran out.
func (c *Conn) skipSilent() bool {
	peer := c.peer.Load()
	for ; c.rpos < c.rn; c.rpos++ {
		m := &c.rms[c.rpos]
		if from, _ := m.Addr.(*net.UDPAddr); peer != nil && !sameAddr(from, peer) {
			c.st.foreign.Add(1)
			continue
		}
		if !truncated(m.Flags) && m.N <= c.rlim && bytes.Equal(c.rbuf[c.rpos][:m.N], c.cfg.Probe) {
			c.st.probes.Add(1)
			continue
		}
		return false
	}
	return true
}

// fill receives the next batch. Each slot's buffer holds one byte more than
// the limit, so that an oversized datagram is seen even where the kernel
// does not flag truncation.
func (c *Conn) fill(max int) error {
	lim := limit(max, c.cfg.MaxDatagramSize)
	c.rn, c.rpos, c.rlim = 0, 0, lim
	for len(c.rbuf) < len(c.rms) {
		c.rbuf = append(c.rbuf, make([]byte, c.cfg.MaxDatagramSize+1))
	}
	for i := range c.rms {
		c.rvec[i] = c.rbuf[i][:lim+1]
		m := &c.rms[i]
		*m = ipv4.Message{Buffers: c.rvec[i : i+1]}
		if c.roob != nil {
			m.OOB = c.roob[i*dropOOBSize : (i+1)*dropOOBSize]
		}
	}
	n, err := c.io.readBatch(c.rms)
	c.st.readCalls.Add(1)
	if n <= 0 {
		if err == nil {
			err = errors.New("udp: receive returned no datagram")
		}
		return err
	}
	c.rn = n
	for i := range n {
		c.noteDrops(&c.rms[i])
	}
	// A full batch means more were waiting: allow a bigger one next time.
	if n == len(c.rms) && len(c.rms) < cap(c.rms) {
		c.rms = c.rms[:min(2*len(c.rms), cap(c.rms))]
	}
	return nil
}

// limit is the payload limit for a read with the caller's max (0: none).
func limit(max, lim int) int {
	if max > 0 && max < lim {
		return max
	}
	return lim
}

// noteDrops picks up the kernel's cumulative drop counter from a datagram.
func (c *Conn) noteDrops(m *ipv4.Message) {
	if m.NN == 0 {
		return
	}
	if d, ok := parseDropCount(m.OOB[:m.NN]); ok && d != c.drop {
		c.st.dropped.Add(uint64(d - c.drop)) // uint32 arithmetic survives the wrap
		c.drop = d
	}
}

// readError classifies a receive error: ICMP errors on a connected socket
// drop nothing and are not final.
func (c *Conn) readError(err error) error {
	if icmpErrno(err) {
		c.st.icmpErrors.Add(1)
		var addr net.Addr
		if p := c.peer.Load(); p != nil {
			addr = p
		}
		return &getty.PacketError{Addr: addr, Err: fmt.Errorf("%w: %w", ErrUnreachable, err)}
	}
	return err
}

// WriteMessages sends each message as one datagram: to m.Addr, or to the
// connected peer when m.Addr is nil. On Linux up to WriteBatch datagrams go
// per system call (sendmmsg), and a run of equal-size datagrams to one
// destination goes through the stack as one segmentation-offload send
// (UDP_SEGMENT). A datagram that cannot go (too large, no or a wrong
// destination, refused by the kernel for its destination) is dropped,
// counted in Stats.SendErrors and reported by the next ReadMessage as a
// *getty.PacketError; the others still go. An error from a connected socket
// that only reports an earlier ICMP error does not cost the datagram: it is
// sent again. The error returned is about the socket (closed, deadline) and
// is final.
func (c *Conn) WriteMessages(ms []getty.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer func() {
		clear(c.wvec)
		clear(c.wms[:cap(c.wms)])
	}()
	peer := c.peer.Load()
	for len(ms) > 0 {
		batch := c.wms[:0]
		gso := c.gso.Load()
		segUp := int(c.gsoSegUp.Load())
		used := 0
		for len(ms) > 0 && used < len(c.wvec) {
			m := ms[0]
			ms = ms[1:]
			to, err := c.destination(m, peer)
			if err != nil {
				c.sendFailed(m.Addr, err)
				continue
			}
			c.wvec[used] = m.Data
			used++
			if gso && len(batch) > 0 && c.joins(&batch[len(batch)-1], to, len(m.Data), segUp) {
				g := &batch[len(batch)-1]
				g.Buffers = c.wvec[used-len(g.Buffers)-1 : used]
				continue
			}
			batch = append(batch, ipv4.Message{Buffers: c.wvec[used-1 : used], Addr: to})
		}
		for i := range batch {
			if g := &batch[i]; len(g.Buffers) > 1 {
				g.OOB = putSegmentSize(c.woob[i*segmentOOBSize:], len(g.Buffers[0]))
			}
		}
		if err := c.send(batch, peer); err != nil {
			return err
		}
	}
	return nil
}

// joins reports whether a datagram of n bytes to to can join the group g in
// one offloaded send: same destination, segments of one size (only the last
// may be shorter), within the kernel's limits.
func (c *Conn) joins(g *ipv4.Message, to net.Addr, n, segUp int) bool {
	seg, k := len(g.Buffers[0]), len(g.Buffers)
	if n == 0 || n > seg || seg > segUp || k >= maxSegments || len(g.Buffers[k-1]) != seg || k*seg+n > c.gsoMax {
		return false
	}
	a, _ := g.Addr.(*net.UDPAddr)
	b, _ := to.(*net.UDPAddr)
	return (a == nil && b == nil) || sameAddr(a, b)
}

// destination checks one outgoing datagram and returns the address to send
// it to: nil for the connected peer.
func (c *Conn) destination(m getty.Message, peer *net.UDPAddr) (net.Addr, error) {
	if len(m.Data) > c.cfg.MaxDatagramSize {
		return nil, c.tooLarge(len(m.Data))
	}
	var to *net.UDPAddr
	if m.Addr != nil {
		var ok bool
		if to, ok = m.Addr.(*net.UDPAddr); !ok || to == nil || to.IP.To16() == nil {
			return nil, fmt.Errorf("%w: %v", ErrBadAddress, m.Addr)
		}
	}
	switch {
	case peer == nil && to == nil:
		return nil, getty.ErrNoDestination
	case peer == nil:
		return to, nil
	case to != nil && !sameAddr(to, peer):
		return nil, fmt.Errorf("%w: %v is not %v", ErrNotPeer, to, peer)
	case kernelConnect:
		return nil, nil
	default:
		return peer, nil
	}
}

func (c *Conn) tooLarge(n int) error {
	return fmt.Errorf("%w: %w: %d bytes, the limit is %d", ErrDatagramTooLarge, getty.ErrMessageTooLarge, n, c.cfg.MaxDatagramSize)
}

// send writes a batch, skipping the datagrams the kernel refuses.
func (c *Conn) send(batch []ipv4.Message, peer *net.UDPAddr) error {
	retried := false
	for len(batch) > 0 {
		n, err := c.io.writeBatch(batch)
		c.st.writeCalls.Add(1)
		n = max(n, 0)
		c.sent(batch[:n])
		batch = batch[n:]
		if err == nil {
			if n == 0 {
				return errors.New("udp: send made no progress")
			}
			retried = false
			continue
		}
		if len(batch) == 0 {
			return err
		}
		// The first message of what is left failed.
		if g := &batch[0]; len(g.Buffers) > 1 {
			if !datagramErrno(err) && !gsoFailure(err) {
				return err
			}
			c.offloadFailed(len(g.Buffers[0]), err)
			if err := c.sendEach(g, peer); err != nil {
				return err
			}
			batch = batch[1:]
			continue
		}
		if !datagramErrno(err) {
			return err
		}
		if peer != nil && icmpErrno(err) && !retried {
			// The error was left by an ICMP message about an earlier
			// datagram; reading it cleared it, and this datagram was not
			// sent. Report the error and send the datagram again.
			c.st.icmpErrors.Add(1)
			c.pending.Store(&getty.PacketError{Addr: peer, Err: fmt.Errorf("%w: %w", ErrUnreachable, err)})
			retried = true
			continue
		}
		to := batch[0].Addr
		if to == nil && peer != nil {
			to = peer
		}
		c.sendFailed(to, err)
		batch = batch[1:]
		retried = false
	}
	return nil
}

// sent counts the datagrams of messages the kernel accepted.
func (c *Conn) sent(ms []ipv4.Message) {
	var d, b, g uint64
	for i := range ms {
		if k := len(ms[i].Buffers); k > 1 {
			g += uint64(k)
		}
		for _, p := range ms[i].Buffers {
			d++
			b += uint64(len(p))
		}
	}
	c.st.datagramsOut.Add(d)
	c.st.bytesOut.Add(b)
	if g > 0 {
		c.st.offloaded.Add(g)
	}
}

// offloadFailed learns from a failed offloaded send: the path takes no
// offload at all, or (EINVAL) no segments of this size, larger than its MTU.
func (c *Conn) offloadFailed(seg int, err error) {
	if gsoFailure(err) {
		c.gso.Store(false)
		return
	}
	if !errorIs(err, syscall.EINVAL) {
		return // about the destination, not the segments
	}
	for {
		up := c.gsoSegUp.Load()
		if int64(seg) > up || c.gsoSegUp.CompareAndSwap(up, int64(seg-1)) {
			return
		}
	}
}

// sendEach sends the datagrams of a failed offloaded group one by one.
func (c *Conn) sendEach(g *ipv4.Message, peer *net.UDPAddr) error {
	var one [1]ipv4.Message
	for i := range g.Buffers {
		one[0] = ipv4.Message{Buffers: g.Buffers[i : i+1], Addr: g.Addr}
		if err := c.send(one[:], peer); err != nil {
			return err
		}
	}
	return nil
}

// sendFailed drops one datagram and leaves the error for the reader.
func (c *Conn) sendFailed(to net.Addr, err error) {
	c.st.sendErrors.Add(1)
	c.pending.Store(&getty.PacketError{Addr: to, Err: fmt.Errorf("udp: datagram not sent: %w", err)})
}

func sameAddr(a, b *net.UDPAddr) bool {
	return a != nil && b != nil && a.Port == b.Port && a.IP.Equal(b.IP)
}

func cloneAddr(a *net.UDPAddr) *net.UDPAddr {
	return &net.UDPAddr{IP: append(net.IP(nil), a.IP...), Port: a.Port, Zone: a.Zone}
}
