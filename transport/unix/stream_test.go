//go:build linux

package unix_test

import (
	"bytes"
	"net"
	"os"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/unix"
)

func TestStreamEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{name: "path", addr: func(t *testing.T) string { return sockPath(t, "s") }},
		{name: "abstract", addr: func(t *testing.T) string { return abstractName(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.addr(t)
			l, err := unix.Listen(unix.Stream, addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, l, delim.Lines(), &echo{}, nil)
			got := make(chan []byte, 16)
			_, s := dial(t, unix.Dialer{Addr: addr}, delim.Lines(), collect(got), nil)
			if _, ok := s.Conn().(*net.UnixConn); !ok {
				t.Fatalf("stream conn is %T, want *net.UnixConn", s.Conn())
			}
			for _, msg := range []string{"hello", "unix", "stream"} {
				if err := s.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				if p := recv(t, got); !bytes.Equal(p, []byte(msg)) {
					t.Fatalf("echo = %q, want %q", p, msg)
				}
			}
		})
	}
}

func TestStreamPeerCred(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "s")
	l, err := unix.Listen(unix.Stream, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := make(chan unix.Cred, 1)
	errs := make(chan error, 1)
	serve(t, l, delim.Lines(), getty.HandlerFuncs[[]byte]{Open: func(s *getty.Session[[]byte]) error {
		c, err := unix.PeerCred(s.Conn())
		if err != nil {
			errs <- err
			return err
		}
		creds <- c
		return nil
	}}, nil)
	_, s := dial(t, unix.Dialer{Addr: addr}, delim.Lines(), getty.NopHandler[[]byte]{}, nil)
	select {
	case err := <-errs:
		t.Fatalf("server side PeerCred: %v", err)
	case c := <-creds:
		checkOwnCred(t, c)
	}
	c, err := unix.PeerCred(s.Conn())
	if err != nil {
		t.Fatalf("client side PeerCred: %v", err)
	}
	checkOwnCred(t, c)
}

func checkOwnCred(t *testing.T, c unix.Cred) {
	t.Helper()
	if int(c.PID) != os.Getpid() || int(c.UID) != os.Getuid() || int(c.GID) != os.Getgid() {
		t.Fatalf("PeerCred = %+v, want pid %d uid %d gid %d", c, os.Getpid(), os.Getuid(), os.Getgid())
	}
}
