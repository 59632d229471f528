package udp_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/udp"
)

func TestUnconnectedReadWrite(t *testing.T) {
	t.Parallel()
	l, c := listen(t, "127.0.0.1:0", nil)
	if c.Connected() || c.RemoteAddr() != nil {
		t.Fatalf("a listener's socket is unconnected; Connected()=%v RemoteAddr()=%v", c.Connected(), c.RemoteAddr())
	}
	if !sameUDPAddr(l.Addr(), c.LocalAddr()) {
		t.Fatalf("Addr %v != LocalAddr %v", l.Addr(), c.LocalAddr())
	}
	a, b := rawSocket(t, "udp4", "127.0.0.1:0"), rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, a, c.LocalAddr(), "from a")
	send(t, b, c.LocalAddr(), "from b")
	for _, want := range []struct {
		data string
		from net.Addr
	}{{"from a", a.LocalAddr()}, {"from b", b.LocalAddr()}} {
		m := mustRead(t, c)
		if string(m.Data) != want.data || !sameUDPAddr(m.Addr, want.from) || m.Kind != getty.Binary {
			t.Fatalf("got %q from %v, want %q from %v", m.Data, m.Addr, want.data, want.from)
		}
	}
	err := c.WriteMessages([]getty.Message{
		{Addr: b.LocalAddr(), Data: []byte("to b")},
		{Addr: a.LocalAddr(), Data: []byte("to a")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, from := recv(t, a); got != "to a" || !sameUDPAddr(from, c.LocalAddr()) {
		t.Fatalf("a got %q from %v", got, from)
	}
	if got, _ := recv(t, b); got != "to b" {
		t.Fatalf("b got %q", got)
	}

	// A datagram without a destination cannot go: it is dropped, counted
	// and reported by the next read; the socket goes on.
	if err := c.WriteMessages([]getty.Message{{Data: []byte("nowhere")}}); err != nil {
		t.Fatalf("WriteMessages = %v; per-datagram errors are not final", err)
	}
	packetErr(t, c, getty.ErrNoDestination)
	st := c.Stats()
	want := udp.Stats{DatagramsIn: 2, BytesIn: 12, DatagramsOut: 2, BytesOut: 8, SendErrors: 1}
	st.ReadCalls, st.WriteCalls, st.Offloaded = 0, 0, 0
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestConnectFiltersOtherSenders(t *testing.T) {
	t.Parallel()
	_, c := listen(t, "127.0.0.1:0", nil)
	peerA := rawSocket(t, "udp4", "127.0.0.1:0")
	third := rawSocket(t, "udp4", "127.0.0.1:0")

	send(t, third, c.LocalAddr(), "queued before connect")
	waitQueued(t, c)
	if err := c.Connect(udpAddr(peerA.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	if !c.Connected() || !sameUDPAddr(c.RemoteAddr(), peerA.LocalAddr()) {
		t.Fatalf("Connected()=%v RemoteAddr()=%v", c.Connected(), c.RemoteAddr())
	}
	send(t, third, c.LocalAddr(), "after connect") // the kernel drops it
	send(t, peerA, c.LocalAddr(), "from the peer")
	m := mustRead(t, c)
	if string(m.Data) != "from the peer" || !sameUDPAddr(m.Addr, peerA.LocalAddr()) {
		t.Fatalf("got %q from %v", m.Data, m.Addr)
	}
	if st := c.Stats(); st.Foreign != 1 || st.DatagramsIn != 1 {
		t.Fatalf("Foreign=%d DatagramsIn=%d; want 1 and 1", st.Foreign, st.DatagramsIn)
	}
	// Connected: a nil address goes to the peer, the peer's own address is
	// fine too, another one is refused.
	err := c.WriteMessages([]getty.Message{
		{Data: []byte("plain")},
		{Addr: peerA.LocalAddr(), Data: []byte("named")},
		{Addr: third.LocalAddr(), Data: []byte("elsewhere")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plain", "named"} {
		if got, _ := recv(t, peerA); got != want {
			t.Fatalf("peer got %q, want %q", got, want)
		}
	}
	packetErr(t, c, udp.ErrNotPeer)
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	a := rawSocket(t, "udp4", "127.0.0.1:0")
	b := rawSocket(t, "udp4", "127.0.0.1:0")
	c, err := udp.Dialer{Addr: a.LocalAddr().String(), ProbeWait: -1}.DialUDP(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessages([]getty.Message{{Data: []byte("hello a")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, a); got != "hello a" {
		t.Fatalf("a got %q", got)
	}
	if err := c.Connect(udpAddr(b.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	if !sameUDPAddr(c.RemoteAddr(), b.LocalAddr()) {
		t.Fatalf("RemoteAddr %v, want %v", c.RemoteAddr(), b.LocalAddr())
	}
	if err := c.WriteMessages([]getty.Message{{Data: []byte("hello b")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, b); got != "hello b" {
		t.Fatalf("b got %q", got)
	}
	send(t, a, c.LocalAddr(), "old peer")
	send(t, b, c.LocalAddr(), "new peer")
	if m := mustRead(t, c); string(m.Data) != "new peer" {
		t.Fatalf("got %q", m.Data)
	}
}

func TestTruncatedDatagram(t *testing.T) {
	t.Parallel()
	_, c := listen(t, "127.0.0.1:0", &udp.Config{MaxDatagramSize: 100})
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, raw, c.LocalAddr(), strings.Repeat("x", 101))
	send(t, raw, c.LocalAddr(), strings.Repeat("y", 100))
	send(t, raw, c.LocalAddr(), strings.Repeat("z", 20))
	pe := packetErr(t, c, udp.ErrTruncated)
	if !errors.Is(pe, getty.ErrMessageTooLarge) || !sameUDPAddr(pe.Addr, raw.LocalAddr()) {
		t.Fatalf("error %v (from %v) should wrap ErrMessageTooLarge and name %v", pe, pe.Addr, raw.LocalAddr())
	}
	if m := mustRead(t, c); string(m.Data) != strings.Repeat("y", 100) {
		t.Fatalf("got %d bytes, want the 100-byte datagram whole", len(m.Data))
	}
	// The reader's own limit (the session's MaxPackageSize) counts too.
	if _, err := read(t, c, 10); !errors.Is(err, udp.ErrTruncated) {
		t.Fatalf("a 20-byte datagram read with max 10: %v", err)
	}
	if st := c.Stats(); st.Truncated != 2 || st.DatagramsIn != 1 {
		t.Fatalf("Truncated=%d DatagramsIn=%d; want 2 and 1", st.Truncated, st.DatagramsIn)
	}
}

func TestOversizedWrite(t *testing.T) {
	t.Parallel()
	_, c := listen(t, "127.0.0.1:0", &udp.Config{MaxDatagramSize: 100})
	if c.MaxMessageSize() != 100 {
		t.Fatalf("MaxMessageSize %d", c.MaxMessageSize())
	}
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	err := c.WriteMessages([]getty.Message{
		{Addr: raw.LocalAddr(), Data: make([]byte, 101)},
		{Addr: raw.LocalAddr(), Data: []byte("fits")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, raw); got != "fits" {
		t.Fatalf("got %q", got)
	}
	pe := packetErr(t, c, udp.ErrDatagramTooLarge)
	if !errors.Is(pe, getty.ErrMessageTooLarge) {
		t.Fatalf("%v should wrap getty.ErrMessageTooLarge", pe)
	}
	if st := c.Stats(); st.SendErrors != 1 || st.DatagramsOut != 1 {
		t.Fatalf("SendErrors=%d DatagramsOut=%d", st.SendErrors, st.DatagramsOut)
	}
}

func TestLargestDatagram(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, network, addr string
		max                 int
	}{
		{"IPv4", "udp4", "127.0.0.1:0", udp.MaxDatagramIPv4},
		{"IPv6", "udp6", "[::1]:0", udp.MaxDatagramIPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.network == "udp6" {
				hasIPv6Loopback(t)
			}
			_, c := listen(t, tc.addr, &udp.Config{ReadBuffer: 1 << 20, WriteBuffer: 1 << 20})
			if c.MaxMessageSize() != tc.max {
				t.Fatalf("MaxMessageSize %d, want %d", c.MaxMessageSize(), tc.max)
			}
			raw := rawSocket(t, tc.network, tc.addr)
			raw.SetWriteBuffer(1 << 20)
			big := bytes.Repeat([]byte{'b'}, tc.max)
			if err := c.WriteMessages([]getty.Message{{Addr: raw.LocalAddr(), Data: big}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := recv(t, raw); len(got) != tc.max {
				t.Fatalf("received %d bytes, want %d", len(got), tc.max)
			}
			if _, err := raw.WriteToUDP(big, udpAddr(c.LocalAddr())); err != nil {
				t.Fatal(err)
			}
			if m := mustRead(t, c); len(m.Data) != tc.max {
				t.Fatalf("read %d bytes, want %d", len(m.Data), tc.max)
			}
			if err := c.WriteMessages([]getty.Message{{Addr: raw.LocalAddr(), Data: append(big, 'x')}}); err != nil {
				t.Fatal(err)
			}
			packetErr(t, c, udp.ErrDatagramTooLarge)
		})
	}
}

func TestBatchedIO(t *testing.T) {
	t.Parallel()
	const n = 100
	_, c := listen(t, "127.0.0.1:0", &udp.Config{ReadBuffer: 1 << 20})
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	raw.SetReadBuffer(1 << 20)
	for i := range n {
		send(t, raw, c.LocalAddr(), fmt.Sprint(i))
	}
	for i := range n {
		if m := mustRead(t, c); string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("datagram %d: got %q", i, m.Data)
		}
	}
	ms := make([]getty.Message, n)
	for i := range ms {
		ms[i] = getty.Message{Addr: raw.LocalAddr(), Data: []byte(fmt.Sprint(i))}
	}
	if err := c.WriteMessages(ms); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, _ := recv(t, raw); got != fmt.Sprint(i) {
			t.Fatalf("datagram %d: got %q", i, got)
		}
	}
	st := c.Stats()
	t.Logf("%d datagrams in %d receive calls, %d out in %d send calls", st.DatagramsIn, st.ReadCalls, st.DatagramsOut, st.WriteCalls)
	if st.DatagramsIn != n || st.DatagramsOut != n {
		t.Fatalf("stats %+v", st)
	}
	if runtime.GOOS == "linux" {
		// The receive batch grows 1, 2, 4, ... 32: eight calls for 100
		// queued datagrams; sends go 64 at a time.
		if st.ReadCalls > 10 || st.WriteCalls != 2 {
			t.Fatalf("ReadCalls=%d WriteCalls=%d; want recvmmsg/sendmmsg batching", st.ReadCalls, st.WriteCalls)
		}
	}
}

// Runs of equal-size datagrams to one destination go as one offloaded send;
// whatever the grouping, every datagram arrives whole, alone and in order.
func TestSegmentationOffload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		noGSO bool
	}{{"offload", false}, {"no offload", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, c := listen(t, "127.0.0.1:0", &udp.Config{NoGSO: tc.noGSO})
			a, b := rawSocket(t, "udp4", "127.0.0.1:0"), rawSocket(t, "udp4", "127.0.0.1:0")
			type dgram struct {
				to   *net.UDPConn
				data string
			}
			var ds []dgram
			for _, size := range []int{10, 10, 10, 4, 10, 10, 0, 10, 20, 20, 1} {
				ds = append(ds, dgram{a, strings.Repeat(string(rune('a'+len(ds))), size)})
			}
			for i := range 70 { // more than one group can hold
				ds = append(ds, dgram{b, fmt.Sprintf("%03d", i)})
			}
			ds = append(ds, dgram{a, "x"}, dgram{b, "y"}, dgram{a, "z"})
			ms := make([]getty.Message, len(ds))
			for i, d := range ds {
				ms[i] = getty.Message{Addr: d.to.LocalAddr(), Data: []byte(d.data)}
			}
			if err := c.WriteMessages(ms); err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if got, _ := recv(t, d.to); got != d.data {
					t.Fatalf("got %q, want %q", got, d.data)
				}
			}
			st := c.Stats()
			t.Logf("%d datagrams in %d send calls, %d offloaded", st.DatagramsOut, st.WriteCalls, st.Offloaded)
			if st.DatagramsOut != uint64(len(ds)) || st.SendErrors != 0 {
				t.Fatalf("stats %+v", st)
			}
			if runtime.GOOS == "linux" && !tc.noGSO && st.Offloaded == 0 {
				t.Fatal("nothing went through segmentation offload")
			}
			if tc.noGSO && st.Offloaded != 0 {
				t.Fatalf("%d datagrams offloaded with NoGSO", st.Offloaded)
			}
		})
	}
}

func TestBatchingOff(t *testing.T) {
	t.Parallel()
	_, c := listen(t, "127.0.0.1:0", &udp.Config{ReadBatch: 1, WriteBatch: 1})
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	for i := range 5 {
		send(t, raw, c.LocalAddr(), fmt.Sprint(i))
	}
	for range 5 {
		mustRead(t, c)
	}
	ms := []getty.Message{{Addr: raw.LocalAddr(), Data: []byte("a")}, {Addr: raw.LocalAddr(), Data: []byte("b")}}
	if err := c.WriteMessages(ms); err != nil {
		t.Fatal(err)
	}
	recv(t, raw)
	recv(t, raw)
	if st := c.Stats(); st.ReadCalls != 5 || st.WriteCalls != 2 {
		t.Fatalf("ReadCalls=%d WriteCalls=%d; want one datagram per call", st.ReadCalls, st.WriteCalls)
	}
}

func TestICMPErrorOnConnectedSocket(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	// No probe: the socket connects to a port nobody listens on.
	c, err := udp.Dialer{Addr: fmt.Sprintf("127.0.0.1:%d", port), ProbeWait: -1}.DialUDP(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		if err := c.WriteMessages([]getty.Message{{Data: []byte("anyone?")}}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		pe := packetErr(t, c, udp.ErrUnreachable)
		if !errors.Is(pe, syscall.ECONNREFUSED) || !sameUDPAddr(pe.Addr, c.RemoteAddr()) {
			t.Fatalf("error %v from %v", pe, pe.Addr)
		}
		expectTimeout(t, c) // consumed: the next read blocks, no spin
	}
	// Two sends without a read in between: the second send meets the error
	// the first one caused; it is reported and the datagram still goes.
	for range 2 {
		if err := c.WriteMessages([]getty.Message{{Data: []byte("again")}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		_, err := c.ReadMessage(0)
		if !errors.Is(err, udp.ErrUnreachable) {
			break
		}
		if seen++; seen > 2 {
			t.Fatal("more ICMP errors than datagrams sent: the read loop spins")
		}
	}
	st := c.Stats()
	if st.DatagramsOut != 5 || st.ICMPErrors != uint64(3+seen) || seen == 0 {
		t.Fatalf("DatagramsOut=%d ICMPErrors=%d, %d errors seen after two sends", st.DatagramsOut, st.ICMPErrors, seen)
	}
}

func TestListenerAcceptsOnce(t *testing.T) {
	t.Parallel()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Accept after Close: %v", err)
	}
	// The socket handed out stays open: it belongs to its session.
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, raw, c.LocalAddr(), "still here")
	if m := mustRead(t, c.(*udp.Conn)); string(m.Data) != "still here" {
		t.Fatalf("got %q", m.Data)
	}

	// A listener closed before Accept closes its socket.
	l2, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if _, err := l2.Conn().ReadMessage(0); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed listener's socket: %v", err)
	}
	if _, err := l2.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []udp.Config{
		{MaxDatagramSize: udp.MaxDatagramIPv4 + 1},
		{ReadBuffer: -1},
		{ReadBatch: -1},
	} {
		if l, err := udp.Listen("127.0.0.1:0", &cfg); !errors.Is(err, getty.ErrInvalidOptions) {
			if l != nil {
				l.Close()
			}
			t.Errorf("Listen with %+v: %v; want ErrInvalidOptions", cfg, err)
		}
	}
}
