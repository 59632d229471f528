package udp_test

import (
	"testing"
	"time"

	"github.com/gettynet/getty/transport/udp"
	"golang.org/x/sys/unix"
)

// waitQueued waits until a datagram sits in c's receive queue.
func waitQueued(t *testing.T, c *udp.Conn) {
	t.Helper()
	rc, err := c.UDPConn().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		var ierr error
		rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		if ierr != nil {
			t.Fatal(ierr)
		}
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no datagram queued")
}

func sockopt(t *testing.T, c *udp.Conn, opt int) int {
	t.Helper()
	rc, err := c.UDPConn().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestSocketBuffers(t *testing.T) {
	t.Parallel()
	_, c := listen(t, "127.0.0.1:0", &udp.Config{ReadBuffer: 100_000, WriteBuffer: 150_000})
	// Linux doubles the value for its bookkeeping.
	if r, w := sockopt(t, c, unix.SO_RCVBUF), sockopt(t, c, unix.SO_SNDBUF); r < 100_000 || w < 150_000 {
		t.Fatalf("SO_RCVBUF=%d SO_SNDBUF=%d", r, w)
	}
}
