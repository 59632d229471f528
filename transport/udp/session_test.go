package udp_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/udp"
)

func TestServerAnswersEachSender(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	a, b := rawSocket(t, "udp4", "127.0.0.1:0"), rawSocket(t, "udp4", "127.0.0.1:0")
	// Two packages in one datagram, one in another.
	send(t, a, srv.l.Addr(), "a1\na2\n")
	send(t, b, srv.l.Addr(), "b1\n")
	srv.rec.wait(t, "three packages", func(r *recorder) bool { return len(r.pkgs) == 3 })
	for _, want := range []struct {
		raw   *net.UDPConn
		lines []string
	}{{a, []string{"a1\n", "a2\n"}}, {b, []string{"b1\n"}}} {
		for _, line := range want.lines {
			if got, from := recv(t, want.raw); got != line || !sameUDPAddr(from, srv.l.Addr()) {
				t.Fatalf("got %q from %v, want %q from the server", got, from, line)
			}
		}
	}
	srv.rec.mu.Lock()
	defer srv.rec.mu.Unlock()
	for i, from := range srv.rec.froms {
		want := a.LocalAddr()
		if strings.HasPrefix(srv.rec.pkgs[i], "b") {
			want = b.LocalAddr()
		}
		if !sameUDPAddr(from, want) {
			t.Fatalf("package %q came from %v, want %v", srv.rec.pkgs[i], from, want)
		}
	}
}

func TestUnconnectedSessionWriteNeedsDestination(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	h := getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], p []byte, _ net.Addr) { got <- s.Write(p) },
	}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, raw, l.Addr(), "\x00\x00\x00\x01x")
	if err := <-got; !errors.Is(err, getty.ErrNoDestination) {
		t.Fatalf("Write on an unconnected session: %v; want ErrNoDestination", err)
	}
}

func TestOversizedPackageRefusedAtWrite(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, lengthfield.Codec{})
	_, s, rec := dialClient(t, udp.Dialer{Addr: srv.addr}, nil, lengthfield.Codec{}, nil)
	// 65504 bytes of payload and a 4-byte header: one byte over 65507.
	err := s.Write(make([]byte, udp.MaxDatagramIPv4-lengthfield.HeaderLen+1))
	if !errors.Is(err, getty.ErrMessageTooLarge) {
		t.Fatalf("Write of an oversized package: %v; want ErrMessageTooLarge", err)
	}
	if err := s.WriteBytes(make([]byte, udp.MaxDatagramIPv4+1)); !errors.Is(err, getty.ErrMessageTooLarge) {
		t.Fatalf("WriteBytes of an oversized datagram: %v; want ErrMessageTooLarge", err)
	}
	if s.Closed() {
		t.Fatal("an oversized write closed the session")
	}
	// The largest package that fits goes through, both ways.
	big := bytes.Repeat([]byte{'x'}, udp.MaxDatagramIPv4-lengthfield.HeaderLen)
	if err := s.Write(big); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) == 1 })
	if pkgs, errs := rec.snapshot(); pkgs[0] != string(big) || len(errs) != 0 {
		t.Fatalf("echo of %d bytes, errors %v", len(pkgs[0]), errs)
	}
	if st := s.Conn().(*udp.Conn).Stats(); st.SendErrors != 0 {
		t.Fatalf("SendErrors=%d: the refused writes reached the socket", st.SendErrors)
	}
}

func TestBadDatagramsReportedNotFatal(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", &udp.Config{MaxDatagramSize: 100}, nil, lengthfield.Codec{})
	raw := rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, raw, srv.l.Addr(), "\x00\x00\x00\x60"+strings.Repeat("t", 0x60)+"more than 100") // truncated
	send(t, raw, srv.l.Addr(), "\x00\x00\x00\x10short")                                      // a package cut short
	send(t, raw, srv.l.Addr(), "\x00\x00\x00\x02ok")
	srv.rec.wait(t, "two errors and a package", func(r *recorder) bool { return len(r.errs) == 2 && len(r.pkgs) == 1 })
	pkgs, errs := srv.rec.snapshot()
	if pkgs[0] != "ok" {
		t.Fatalf("packages %q", pkgs)
	}
	var pe *getty.PacketError
	if !errors.As(errs[0], &pe) || !errors.Is(errs[0], udp.ErrTruncated) || !sameUDPAddr(pe.Addr, raw.LocalAddr()) {
		t.Fatalf("first error %v; want a PacketError wrapping ErrTruncated from %v", errs[0], raw.LocalAddr())
	}
	if !errors.As(errs[1], &pe) || !errors.Is(errs[1], getty.ErrBadPackage) {
		t.Fatalf("second error %v; want a PacketError wrapping ErrBadPackage", errs[1])
	}
	if got, _ := recv(t, raw); got != "\x00\x00\x00\x02ok" {
		t.Fatalf("echo %q", got)
	}
}

func TestICMPErrorOnSessionIsNotFatal(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	_, s, rec := dialClient(t, udp.Dialer{Addr: srv.addr}, nil, nil, nil)
	if err := s.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) == 1 })
	srv.stop(t) // nobody listens any more
	for i := 1; i <= 3; i++ {
		if err := s.Write([]byte("anyone?")); err != nil {
			t.Fatal(err)
		}
		rec.wait(t, "an ICMP error", func(r *recorder) bool { return len(r.errs) >= i })
	}
	_, errs := rec.snapshot()
	for _, err := range errs {
		var pe *getty.PacketError
		if !errors.As(err, &pe) || !errors.Is(err, udp.ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("error %v; want a PacketError wrapping ErrUnreachable", err)
		}
	}
	if s.Closed() {
		t.Fatalf("the session closed: %v", s.Err())
	}
	if st := s.Conn().(*udp.Conn).Stats(); st.ICMPErrors > 3 || len(errs) > 3 {
		t.Fatalf("%d ICMP errors counted, %d reported, for 3 datagrams: the read loop spins", st.ICMPErrors, len(errs))
	}
}

func TestCronOnUDPSessions(t *testing.T) {
	t.Parallel()
	var serverTicks, clientTicks atomic.Int32
	ticked := make(chan struct{}, 1)
	poke := func() {
		select {
		case ticked <- struct{}{}:
		default:
		}
	}
	opts := getty.Options{CronPeriod: 10 * time.Millisecond, TimerTick: time.Millisecond}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, getty.HandlerFuncs[[]byte]{
		Cron: func(*getty.Session[[]byte]) { serverTicks.Add(1); poke() },
	}, &getty.ServerOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	// The client's heartbeat is a package sent from OnCron.
	dialClient(t, udp.Dialer{Addr: l.Addr().String()}, &getty.ClientOptions{Options: opts, NoReconnect: true}, lengthfield.Codec{},
		&getty.HandlerFuncs[[]byte]{Cron: func(s *getty.Session[[]byte]) {
			clientTicks.Add(1)
			s.Write([]byte("beat"))
			poke()
		}})
	deadline := time.After(10 * time.Second)
	for serverTicks.Load() < 3 || clientTicks.Load() < 3 || srv.Stats().PackagesIn < 3 {
		select {
		case <-ticked:
		case <-deadline:
			t.Fatalf("cron ticks: server %d, client %d; heartbeats received %d", serverTicks.Load(), clientTicks.Load(), srv.Stats().PackagesIn)
		}
	}
}

func TestReadTimeoutOnUDPSession(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	closed := make(chan error, 1)
	dialClient(t, udp.Dialer{Addr: srv.addr},
		&getty.ClientOptions{Options: getty.Options{ReadTimeout: 30 * time.Millisecond, TimerTick: time.Millisecond}, NoReconnect: true},
		nil, &getty.HandlerFuncs[[]byte]{Close: func(s *getty.Session[[]byte]) { closed <- s.Err() }})
	select {
	case err := <-closed:
		if !errors.Is(err, getty.ErrReadTimeout) {
			t.Fatalf("close cause %v; want ErrReadTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle session did not close")
	}
}

// A TFTP-style server: its session connects to the first client and from
// then on talks to it alone, with plain writes.
func TestServerSessionConnectsToOnePeer(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	h := getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], p []byte, from net.Addr) {
			rec.addPkg(p, from)
			c := s.Conn().(*udp.Conn)
			if !c.Connected() {
				if err := c.Connect(from.(*net.UDPAddr)); err != nil {
					rec.addErr(err)
				}
			}
			if err := s.Write(p); err != nil {
				rec.addErr(err)
			}
		},
	}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	first, second := rawSocket(t, "udp4", "127.0.0.1:0"), rawSocket(t, "udp4", "127.0.0.1:0")
	send(t, first, l.Addr(), "\x00\x00\x00\x011")
	if got, _ := recv(t, first); got != "\x00\x00\x00\x011" {
		t.Fatalf("first client got %q", got)
	}
	send(t, second, l.Addr(), "\x00\x00\x00\x012") // dropped: not the peer
	send(t, first, l.Addr(), "\x00\x00\x00\x013")
	if got, _ := recv(t, first); got != "\x00\x00\x00\x013" {
		t.Fatalf("first client got %q", got)
	}
	if pkgs, errs := rec.snapshot(); len(pkgs) != 2 || len(errs) != 0 {
		t.Fatalf("server saw %q, errors %v", pkgs, errs)
	}
}

// A listener on an empty host is dual-stack: it answers IPv4 and IPv6
// clients alike.
func TestDualStackListener(t *testing.T) {
	t.Parallel()
	hasIPv6Loopback(t)
	srv := startEchoServer(t, ":0", nil, nil, nil)
	_, port, _ := net.SplitHostPort(srv.addr)
	for _, host := range []string{"127.0.0.1", "::1"} {
		_, s, rec := dialClient(t, udp.Dialer{Addr: net.JoinHostPort(host, port)}, nil, nil, nil)
		if err := s.Write([]byte("hi " + host)); err != nil {
			t.Fatal(err)
		}
		rec.wait(t, "the echo from "+host, func(r *recorder) bool { return len(r.pkgs) == 1 })
		if pkgs, _ := rec.snapshot(); pkgs[0] != "hi "+host {
			t.Fatalf("got %q", pkgs)
		}
	}
	if c := srv.conn(); c.MaxMessageSize() != udp.MaxDatagramIPv4 {
		t.Fatalf("a dual-stack socket's limit is %d; IPv4 peers need %d", c.MaxMessageSize(), udp.MaxDatagramIPv4)
	}
}

// A client session is connected: datagrams from a third socket never reach
// its handler.
func TestConnectedSessionIgnoresThirdParty(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	_, s, rec := dialClient(t, udp.Dialer{Addr: srv.addr}, nil, nil, nil)
	third := rawSocket(t, "udp4", "127.0.0.1:0")
	for range 5 {
		send(t, third, s.LocalAddr(), "intruder\n")
	}
	if err := s.Write([]byte("mine")); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) >= 1 })
	if pkgs, errs := rec.snapshot(); len(pkgs) != 1 || pkgs[0] != "mine" || len(errs) != 0 {
		t.Fatalf("client saw %q, errors %v", pkgs, errs)
	}
	if st := s.Conn().(*udp.Conn).Stats(); st.DatagramsIn != 1 {
		t.Fatalf("DatagramsIn=%d", st.DatagramsIn)
	}
}
