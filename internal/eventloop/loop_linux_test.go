package eventloop

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorder struct {
	fd  int
	got chan string
}

func (r recorder) OnEvent(events uint32, buf []byte) {
	if events&In == 0 {
		return
	}
	// Edge-triggered: read until the socket is drained.
	for {
		n, err := unix.Read(r.fd, buf)
		if n <= 0 || err != nil {
			return
		}
		r.got <- string(buf[:n])
	}
}

func TestLoopDeliversAndStops(t *testing.T) {
	g, err := NewGroup[recorder](2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if g.Loops() != 2 {
		t.Fatalf("%d loops", g.Loops())
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	r := recorder{fd: fds[0], got: make(chan string, 16)}
	l := g.Next()
	slot, err := l.Add(fds[0], r)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two"} {
		if _, err := unix.Write(fds[1], []byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-r.got:
			if got != msg {
				t.Fatalf("got %q, want %q", got, msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %q", msg)
		}
	}
	l.Remove(fds[0], slot)
	unix.Write(fds[1], []byte("after"))
	select {
	case got := <-r.got:
		t.Fatalf("event after Remove: %q", got)
	case <-time.After(100 * time.Millisecond):
	}
	unix.Close(fds[0])
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Next().Add(fds[1], r); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}
