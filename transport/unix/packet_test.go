//go:build linux

package unix_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/unix"
	xunix "golang.org/x/sys/unix"
)

func listenDatagram(t *testing.T, addr string, cfg *unix.Config) *unix.Listener {
	t.Helper()
	l, err := unix.Listen(unix.Datagram, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDatagramEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		addr  func(t *testing.T) string
		local func(t *testing.T) string
	}{
		{name: "path/autobind", addr: func(t *testing.T) string { return sockPath(t, "d") }, local: func(*testing.T) string { return "" }},
		{name: "path/path", addr: func(t *testing.T) string { return sockPath(t, "d") }, local: func(t *testing.T) string { return sockPath(t, "c") }},
		{name: "abstract/abstract", addr: func(t *testing.T) string { return abstractName(t) }, local: func(t *testing.T) string { return abstractName(t) + "c" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, local := tc.addr(t), tc.local(t)
			l := listenDatagram(t, addr, nil)
			h := &echo{got: make(chan []byte, 16)}
			serve(t, l, rawCodec{}, h, nil)
			got := make(chan []byte, 16)
			senders := make(chan net.Addr, 16)
			ch := getty.HandlerFuncs[[]byte]{}
			_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr, LocalAddr: local}, rawCodec{}, packetCollector{ch, got, senders}, nil)
			pc, ok := s.Conn().(*unix.PacketConn)
			if !ok || !pc.Connected() {
				t.Fatalf("client conn is %T (connected %v), want a connected *unix.PacketConn", s.Conn(), ok && pc.Connected())
			}
			me := s.LocalAddr().String()
			if local == "" && !strings.HasPrefix(me, "@") {
				t.Fatalf("autobind client address = %q, want an abstract name", me)
			}
			if local != "" && me != local {
				t.Fatalf("client address = %q, want %q", me, local)
			}
			for i := range 5 {
				msg := []byte("datagram " + strconv.Itoa(i))
				if err := s.Write(msg); err != nil {
					t.Fatal(err)
				}
				if p := recv(t, h.got); !bytes.Equal(p, msg) {
					t.Fatalf("server got %q, want %q", p, msg)
				}
				if p := recv(t, got); !bytes.Equal(p, msg) {
					t.Fatalf("echo = %q, want %q", p, msg)
				}
				if from := <-senders; from == nil || from.String() != addr {
					t.Fatalf("reply came from %v, want %s", from, addr)
				}
			}
		})
	}
}

// packetCollector sends each package and its sender to channels.
type packetCollector struct {
	getty.HandlerFuncs[[]byte]
	got     chan []byte
	senders chan net.Addr
}

func (h packetCollector) OnPacket(_ *getty.Session[[]byte], p []byte, from net.Addr) {
	h.got <- append([]byte(nil), p...)
	h.senders <- from
}

func TestDatagramServerSeesSender(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	got := make(chan []byte, 4)
	senders := make(chan net.Addr, 4)
	serve(t, l, rawCodec{}, packetCollector{got: got, senders: senders}, nil)

	local := sockPath(t, "c")
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("from a path")); err != nil {
		t.Fatal(err)
	}
	recv(t, got)
	if from := <-senders; from == nil || from.String() != local {
		t.Fatalf("sender = %v, want %s", from, local)
	}
}

func TestDatagramUnboundSender(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	h := &echo{got: make(chan []byte, 4)}
	serve(t, l, rawCodec{}, h, nil)
	// A socket that never bound has no address: its packages reach
	// OnMessage, and nobody can reply to it.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("anonymous")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, h.got); string(p) != "anonymous" {
		t.Fatalf("got %q", p)
	}
}

// sndbuf reads SO_SNDBUF of a connection.
func sndbuf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = xunix.GetsockoptInt(int(fd), xunix.SOL_SOCKET, xunix.SO_SNDBUF) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return n
}

func TestDatagramSizeLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     unix.Config
		maxSize int // client and server MaxPackageSize; 0: default
	}{
		{name: "default"},
		{name: "peeked sizes", cfg: unix.Config{MessageBuffer: 512}},
		{name: "one read per datagram", maxSize: 256 << 10},
		{name: "small send buffer", cfg: unix.Config{WriteBuffer: 8 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := sockPath(t, "d")
			l := listenDatagram(t, addr, &tc.cfg)
			h := &echo{got: make(chan []byte, 4)}
			opts := getty.Options{MaxPackageSize: tc.maxSize}
			serve(t, l, rawCodec{}, h, &getty.ServerOptions{Options: opts})
			got := make(chan []byte, 4)
			_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr, Config: tc.cfg}, rawCodec{}, collect(got),
				&getty.ClientOptions{Options: opts, NoReconnect: true})
			pc := s.Conn().(*unix.PacketConn)
			limit := pc.MaxDatagram()
			if want := sndbuf(t, pc) - 32; limit != want {
				t.Fatalf("MaxDatagram = %d, want SO_SNDBUF-32 = %d", limit, want)
			}
			t.Logf("datagram limit %d bytes", limit)

			err := s.Write(bytes.Repeat([]byte{'x'}, limit+1))
			if !errors.Is(err, unix.ErrDatagramTooLarge) || !errors.Is(err, getty.ErrMessageTooLarge) {
				t.Fatalf("Write(limit+1) = %v, want ErrDatagramTooLarge", err)
			}
			for _, n := range []string{strconv.Itoa(limit + 1), strconv.Itoa(limit)} {
				if !strings.Contains(err.Error(), n) {
					t.Fatalf("error %q does not state %s", err, n)
				}
			}
			if s.Closed() {
				t.Fatal("the refused write closed the session")
			}
			if err := s.Write([]byte("next")); err != nil {
				t.Fatalf("write after the refused one: %v", err)
			}
			if p := recv(t, got); string(p) != "next" {
				t.Fatalf("echo = %q", p)
			}
			recv(t, h.got)

			big := make([]byte, limit)
			for i := range big {
				big[i] = byte(i * 7)
			}
			if err := s.Write(big); err != nil {
				t.Fatalf("Write(limit) = %v", err)
			}
			if p := recv(t, h.got); !bytes.Equal(p, big) {
				t.Fatalf("server got %d bytes, want the %d sent", len(p), len(big))
			}
			if p := recv(t, got); !bytes.Equal(p, big) {
				t.Fatalf("echo has %d bytes, want %d", len(p), len(big))
			}
		})
	}
}

func TestDatagramServerWriteTooLarge(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	errs := make(chan error, 2)
	h := getty.HandlerFuncs[[]byte]{}
	serve(t, l, rawCodec{}, replier{h, errs}, nil)
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr}, rawCodec{}, collect(got), nil)
	if err := s.Write([]byte("big")); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, unix.ErrDatagramTooLarge) {
		t.Fatalf("server WriteTo(limit+1) = %v, want ErrDatagramTooLarge", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("server WriteTo after it = %v", err)
	}
	if p := recv(t, got); string(p) != "ok" {
		t.Fatalf("reply = %q", p)
	}
}

// replier answers each datagram with one too large to send, then "ok",
// reporting both errors.
type replier struct {
	getty.HandlerFuncs[[]byte]
	errs chan error
}

func (h replier) OnPacket(s *getty.Session[[]byte], _ []byte, from net.Addr) {
	limit := s.Conn().(*unix.PacketConn).MaxDatagram()
	h.errs <- s.WriteTo(make([]byte, limit+1), from)
	h.errs <- s.WriteTo([]byte("ok"), from)
}

func TestDatagramTooLargeInbound(t *testing.T) {
	t.Parallel()
	for _, buf := range []int{0, 16} {
		t.Run(fmt.Sprintf("MessageBuffer=%d", buf), func(t *testing.T) {
			t.Parallel()
			addr := sockPath(t, "d")
			l := listenDatagram(t, addr, &unix.Config{MessageBuffer: buf})
			errs := make(chan error, 4)
			h := &echo{got: make(chan []byte, 4)}
			serve(t, l, rawCodec{}, errReporter{h, errs}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 100}})
			c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, n := range []int{101, 1000, 100, 17, 0, 5} {
				if _, err := c.Write(bytes.Repeat([]byte{'y'}, n)); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				err := <-errs
				var pe *getty.PacketError
				if !errors.As(err, &pe) || !errors.Is(err, getty.ErrMessageTooLarge) {
					t.Fatalf("OnError(%v), want a PacketError wrapping ErrMessageTooLarge", err)
				}
			}
			for _, n := range []int{100, 17, 5} { // the empty datagram holds no package
				if p := recv(t, h.got); len(p) != n {
					t.Fatalf("got %d bytes, want %d", len(p), n)
				}
			}
		})
	}
}

// errReporter is a handler that forwards OnError.
type errReporter struct {
	*echo
	errs chan error
}

func (h errReporter) OnError(_ *getty.Session[[]byte], err error) { h.errs <- err }

func TestDatagramDestinationGone(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	gate := make(chan struct{})
	h := &gatedEcho{echo: echo{got: make(chan []byte, 4)}, gate: gate}
	srv := serve(t, l, rawCodec{}, h, nil)

	local := sockPath(t, "gone")
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	recv(t, h.got)
	c.Close()
	os.Remove(local)
	gate <- struct{}{} // the reply goes to nobody

	// The server's session survives, counts the drop and keeps serving.
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr}, rawCodec{}, collect(got), nil)
	if err := s.Write([]byte("still there?")); err != nil {
		t.Fatal(err)
	}
	recv(t, h.got)
	gate <- struct{}{}
	if p := recv(t, got); string(p) != "still there?" {
		t.Fatalf("echo = %q", p)
	}
	var serverConn *unix.PacketConn
	srv.srv.Range(func(s *getty.Session[[]byte]) bool {
		serverConn = s.Conn().(*unix.PacketConn)
		return false
	})
	if d := serverConn.Dropped(); d != 1 {
		t.Fatalf("Dropped = %d, want 1", d)
	}
}

// gatedEcho echoes each datagram once the test opens the gate.
type gatedEcho struct {
	echo
	gate chan struct{}
}

func (h *gatedEcho) OnPacket(s *getty.Session[[]byte], p []byte, from net.Addr) {
	h.note(p)
	<-h.gate
	s.WriteTo(p, from) //nolint:errcheck // a failure would end the session, which the test sees
}

// seq encodes i as a datagram of size bytes.
func seq(i, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// rawPeer binds a plain datagram socket that the test reads by hand.
func rawPeer(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	addr := sockPath(t, "peer")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, addr
}

// readSeq reads datagrams until the peer's queue stays empty for wait and
// checks they are 0, 1, 2, ... in order; it returns how many came.
func readSeq(t *testing.T, c *net.UnixConn, size, want int, wait time.Duration) int {
	t.Helper()
	buf := make([]byte, size+1)
	n := 0
	for want < 0 || n < want {
		if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		m, err := c.Read(buf)
		if err != nil {
			if want < 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				return n
			}
			t.Fatalf("after %d datagrams: %v", n, err)
		}
		if m != size {
			t.Fatalf("datagram %d has %d bytes, want %d", n, m, size)
		}
		if got := int(binary.BigEndian.Uint32(buf)); got != n {
			t.Fatalf("datagram %d carries sequence %d: lost or reordered", n, got)
		}
		n++
	}
	return n
}

func TestDatagramSlowReaderBlocksWriter(t *testing.T) {
	t.Parallel()
	peer, addr := rawPeer(t)
	const n, size = 200, 1000
	_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr}, rawCodec{}, getty.NopHandler[[]byte]{}, nil)
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if err := s.Write(seq(i, size)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	// The peer reads nothing yet: its queue holds net.unix.max_dgram_qlen
	// datagrams, so the writer must stall with packages queued.
	waitFor(t, "the writer to stall", func() bool {
		st := s.Stats()
		return st.Backlog > 0 && st.PackagesOut > 0
	})
	if out := s.Stats().PackagesOut; out >= n {
		t.Fatalf("all %d datagrams went out while nobody read", out)
	}
	select {
	case err := <-wrote:
		t.Fatalf("the writer finished (%v) while nobody read", err)
	default:
	}
	if s.Closed() {
		t.Fatalf("the session closed while blocked: %v", s.Err())
	}
	// Now the reader catches up: everything arrives, in order.
	readSeq(t, peer, size, n, 10*time.Second)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last batch to be counted", func() bool { return s.Stats().PackagesOut == n })
}

func TestDatagramWriteTimeout(t *testing.T) {
	t.Parallel()
	peer, addr := rawPeer(t)
	const n, size = 200, 1000
	closed := make(chan struct{})
	h := getty.HandlerFuncs[[]byte]{Close: func(*getty.Session[[]byte]) { close(closed) }}
	opts := &getty.ClientOptions{Options: getty.Options{WriteTimeout: 200 * time.Millisecond}, NoReconnect: true}
	_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr}, rawCodec{}, h, opts)
	wrote := make(chan int, 1)
	go func() {
		i := 0
		for ; i < n; i++ {
			if err := s.Write(seq(i, size)); err != nil {
				break
			}
		}
		wrote <- i
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked writer did not time out")
	}
	if !errors.Is(s.Err(), getty.ErrWriteTimeout) {
		t.Fatalf("session ended with %v, want ErrWriteTimeout", s.Err())
	}
	accepted := <-wrote
	if accepted >= n {
		t.Fatalf("all %d writes were accepted by a session that timed out", accepted)
	}
	// Whatever reached the kernel before the timeout arrives, in order,
	// with no gap.
	got := readSeq(t, peer, size, -1, 200*time.Millisecond)
	if out := int(s.Stats().PackagesOut); got < out || got > accepted {
		t.Fatalf("peer got %d datagrams; the session counted %d sent, %d accepted", got, out, accepted)
	}
	t.Logf("%d writes accepted, %d datagrams delivered before the write timeout", accepted, got)
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// floodReplier answers a datagram with n numbered replies.
type floodReplier struct {
	getty.NopHandler[[]byte]
	n, size int
	errs    chan error
}

func (h floodReplier) OnPacket(s *getty.Session[[]byte], _ []byte, from net.Addr) {
	for i := range h.n {
		if err := s.WriteTo(seq(i, h.size), from); err != nil {
			h.errs <- err
			return
		}
	}
	h.errs <- nil
}

// An unconnected socket (a server) blocked on a lagging client is woken as
// the client reads, without waiting for the write timeout.
func TestDatagramServerBlocksOnSlowClient(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	const n, size = 100, 1000
	h := floodReplier{n: n, size: size, errs: make(chan error, 1)}
	srv := serve(t, l, rawCodec{}, h, &getty.ServerOptions{Options: getty.Options{WriteTimeout: time.Minute}})
	peer, _ := rawPeer(t)
	if _, err := peer.WriteToUnix([]byte("go"), &net.UnixAddr{Name: addr, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to stall", func() bool {
		stalled := false
		srv.srv.Range(func(s *getty.Session[[]byte]) bool {
			stalled = s.Stats().Backlog > 0
			return false
		})
		return stalled
	})
	readSeq(t, peer, size, n, 10*time.Second)
	if err := <-h.errs; err != nil {
		t.Fatalf("server WriteTo: %v", err)
	}
}
