//go:build linux

package unix_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/unix"
)

func listenSeqpacket(t *testing.T, addr string, cfg *unix.Config) *unix.Listener {
	t.Helper()
	l, err := unix.Listen(unix.Seqpacket, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSeqpacketEchoKeepsBoundaries(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "p")
	l := listenSeqpacket(t, addr, &unix.Config{MessageBuffer: 64})
	h := &echo{got: make(chan []byte, 16)}
	serve(t, l, rawCodec{}, h, nil)
	got := make(chan []byte, 16)
	_, s := dial(t, unix.Dialer{Network: unix.Seqpacket, Addr: addr}, rawCodec{}, collect(got), nil)
	if _, ok := s.Conn().(*unix.SeqpacketConn); !ok {
		t.Fatalf("conn is %T, want *unix.SeqpacketConn", s.Conn())
	}
	sizes := []int{1, 63, 64, 65, 1000, 100000, 3}
	for _, n := range sizes {
		if err := s.Write(bytes.Repeat([]byte{byte(n)}, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range sizes {
		if p := recv(t, h.got); len(p) != n || (n > 0 && p[0] != byte(n)) {
			t.Fatalf("server got a %d-byte message, want %d", len(p), n)
		}
		if p := recv(t, got); len(p) != n {
			t.Fatalf("echo has %d bytes, want %d", len(p), n)
		}
	}
}

func TestSeqpacketSizeLimit(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "p")
	l := listenSeqpacket(t, addr, nil)
	h := &echo{got: make(chan []byte, 4)}
	serve(t, l, rawCodec{}, h, nil)
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Network: unix.Seqpacket, Addr: addr}, rawCodec{}, collect(got), nil)
	c := s.Conn().(*unix.SeqpacketConn)
	limit := c.MaxMessage()
	if want := sndbuf(t, c) - 32; limit != want {
		t.Fatalf("MaxMessage = %d, want %d", limit, want)
	}
	if err := s.Write(make([]byte, limit+1)); !errors.Is(err, unix.ErrDatagramTooLarge) {
		t.Fatalf("Write(limit+1) = %v, want ErrDatagramTooLarge", err)
	}
	big := bytes.Repeat([]byte("0123456789"), limit/10+1)[:limit]
	if err := s.Write(big); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, got); !bytes.Equal(p, big) {
		t.Fatalf("echo has %d bytes, want %d", len(p), limit)
	}
}

func TestSeqpacketTooLargeInboundEndsSession(t *testing.T) {
	t.Parallel()
	for _, buf := range []int{0, 16} {
		addr := sockPath(t, "p")
		l := listenSeqpacket(t, addr, &unix.Config{MessageBuffer: buf})
		closed := make(chan error, 1)
		serve(t, l, rawCodec{}, getty.HandlerFuncs[[]byte]{Close: func(s *getty.Session[[]byte]) { closed <- s.Err() }},
			&getty.ServerOptions{Options: getty.Options{MaxPackageSize: 100}})
		c, err := net.Dial("unixpacket", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 101)); err != nil {
			t.Fatal(err)
		}
		if err := <-closed; !errors.Is(err, getty.ErrMessageTooLarge) {
			t.Fatalf("MessageBuffer %d: session ended with %v, want ErrMessageTooLarge", buf, err)
		}
		c.Close()
	}
}

func TestSeqpacketPeerCred(t *testing.T) {
	t.Parallel()
	addr := abstractName(t)
	l := listenSeqpacket(t, addr, nil)
	creds := make(chan unix.Cred, 1)
	serve(t, l, rawCodec{}, getty.HandlerFuncs[[]byte]{Open: func(s *getty.Session[[]byte]) error {
		c, err := unix.PeerCred(s.Conn())
		if err != nil {
			return err
		}
		creds <- c
		return nil
	}}, nil)
	_, s := dial(t, unix.Dialer{Network: unix.Seqpacket, Addr: addr}, rawCodec{}, getty.NopHandler[[]byte]{}, nil)
	checkOwnCred(t, recvCred(t, creds))
	c, err := s.Conn().(*unix.SeqpacketConn).PeerCred()
	if err != nil {
		t.Fatal(err)
	}
	checkOwnCred(t, c)
}

func recvCred(t *testing.T, ch chan unix.Cred) unix.Cred {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-timeout():
		t.Fatal("OnOpen did not report credentials")
		return unix.Cred{}
	}
}

func TestPeerCredRefusesOtherConns(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	defer l.Close()
	pc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := unix.PeerCred(pc); !errors.Is(err, unix.ErrNoPeerCred) {
		t.Fatalf("PeerCred(datagram) = %v, want ErrNoPeerCred", err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	tc, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := unix.PeerCred(tc); !errors.Is(err, unix.ErrNoPeerCred) {
		t.Fatalf("PeerCred(tcp) = %v, want ErrNoPeerCred", err)
	}
}
