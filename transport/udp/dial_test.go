package udp_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/udp"
)

func TestDialClosedPortFails(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// A long probe wait: only "connection refused" can fail the dial, and
	// it must not wait for the timeout to do so.
	d := udp.Dialer{Addr: addr, ProbeWait: time.Minute}
	c, err := d.Dial(testContext(t))
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	if !errors.Is(err, udp.ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial error %v; want ErrUnreachable and ECONNREFUSED", err)
	}
	// The same through a getty client.
	client, err := getty.Dial(testContext(t), d, delim.Lines(), getty.NopHandler[[]byte]{}, nil)
	if err == nil {
		client.Close()
		t.Fatal("getty.Dial to a closed port succeeded")
	}
	if !errors.Is(err, udp.ErrUnreachable) {
		t.Fatalf("getty.Dial error %v; want ErrUnreachable", err)
	}
}

func TestDialGettyServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, addr string }{{"IPv4", "127.0.0.1:0"}, {"IPv6", "[::1]:0"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "IPv6" {
				hasIPv6Loopback(t)
			}
			srv := startEchoServer(t, tc.addr, nil, nil, nil)
			_, s, rec := dialClient(t, udp.Dialer{Addr: srv.addr}, nil, nil, nil)
			if !s.Conn().(*udp.Conn).Connected() || !sameUDPAddr(s.RemoteAddr(), srv.l.Addr()) {
				t.Fatalf("client session: connected=%v remote %v", s.Conn().(*udp.Conn).Connected(), s.RemoteAddr())
			}
			if err := s.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) == 1 })
			// The server dropped the probe; its handler saw "hello" only.
			pkgs, errs := srv.rec.snapshot()
			if len(pkgs) != 1 || pkgs[0] != "hello" || len(errs) != 0 {
				t.Fatalf("server saw %q, errors %v", pkgs, errs)
			}
			if st := srv.conn().Stats(); st.Probes != 1 || st.DatagramsIn != 1 {
				t.Fatalf("server socket: Probes=%d DatagramsIn=%d", st.Probes, st.DatagramsIn)
			}
		})
	}
}

func TestDialSilentPeer(t *testing.T) {
	t.Parallel()
	py, port := pyUDP(t, "4", "while True:\n    d, a = s.recvfrom(70000)\n    print(d.hex(), flush=True)\n")
	probe := []byte("are you there?")
	c, err := udp.Dialer{Addr: fmt.Sprintf("127.0.0.1:%d", port), ProbeWait: 20 * time.Millisecond,
		Config: udp.Config{Probe: probe}}.DialUDP(testContext(t))
	if err != nil {
		t.Fatalf("dial to a silent python3 socket: %v", err)
	}
	defer c.Close()
	if got := py.line(t); got != hex.EncodeToString(probe) {
		t.Fatalf("python got %q, want the probe", got)
	}
	if err := c.WriteMessages([]getty.Message{{Data: []byte("data")}}); err != nil {
		t.Fatal(err)
	}
	if got := py.line(t); got != hex.EncodeToString([]byte("data")) {
		t.Fatalf("python got %q", got)
	}
}

func TestDialSelfConnectRejected(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c, err := udp.Dialer{Addr: addr, LocalAddr: addr}.Dial(testContext(t))
	if err == nil {
		c.Close()
		t.Fatal("self-connection accepted")
	}
	if !errors.Is(err, udp.ErrSelfConnect) {
		t.Fatalf("error %v; want ErrSelfConnect", err)
	}
}

func TestDialCancelledDuringProbe(t *testing.T) {
	t.Parallel()
	py, port := pyUDP(t, "4", "while True:\n    d, a = s.recvfrom(70000)\n    print('got', flush=True)\n")
	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		<-py.lines // the probe arrived: the dial is waiting
		cancel()
	}()
	c, err := udp.Dialer{Addr: fmt.Sprintf("127.0.0.1:%d", port), ProbeWait: time.Minute}.Dial(ctx)
	if err == nil {
		c.Close()
		t.Fatal("dial succeeded despite the cancelled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want context.Canceled", err)
	}
}

func TestDialProbeIsConfigurable(t *testing.T) {
	t.Parallel()
	cfg := udp.Config{Probe: []byte("PING")}
	srv := startEchoServer(t, "127.0.0.1:0", &cfg, nil, nil)
	_, s, rec := dialClient(t, udp.Dialer{Addr: srv.addr, Config: cfg}, nil, nil, nil)
	if err := s.Write([]byte("PING2")); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) == 1 })
	if pkgs, _ := srv.rec.snapshot(); len(pkgs) != 1 || pkgs[0] != "PING2" {
		t.Fatalf("server saw %q", pkgs)
	}
	if st := srv.conn().Stats(); st.Probes != 1 {
		t.Fatalf("server Probes=%d", st.Probes)
	}
}
