package getty_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
)

// TestTakeoverOfABlockingSocket checks that the event-loop engine never
// makes its raw write on a blocking socket. A dialer that calls Fd on a
// connection's File (the old way to set a socket option) leaves the
// connection's socket in blocking mode; the engine takes that socket over
// and writes it with raw system calls, which must return at once: one
// that waits for the peer holds its thread and processor, and a garbage
// collection cannot stop the world until it returns. The peer is a child
// process that starts reading after a second, so that the test ends even
// if the scheduler stalls.
func TestTakeoverOfABlockingSocket(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh for the peer process")
	}
	// A fixed receive buffer on the peer (autotuning may grow it to
	// tcp_rmem's maximum, tens of MiB) lets the client's socket fill.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c.(*net.TCPConn)
	}()
	dialer := getty.DialerFunc(func(ctx context.Context) (getty.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return nil, err
		}
		tc := c.(*net.TCPConn)
		f, err := tc.File()
		if err != nil {
			tc.Close()
			return nil, err
		}
		defer f.Close()
		// Fd puts the socket, shared with tc, in blocking mode.
		if err := syscall.SetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10); err != nil {
			tc.Close()
			return nil, err
		}
		return tc, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial[[]byte](ctx, dialer, lengthfield.Codec{}, getty.NopHandler[[]byte]{},
		&getty.ClientOptions{Options: getty.Options{Engine: getty.EngineEventLoop}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	pf, err := peer.File()
	peer.Close()
	if err != nil {
		t.Fatal(err)
	}
	drain := exec.Command(sh, "-c", "sleep 1; exec cat >/dev/null")
	drain.Stdin = pf
	if err := drain.Start(); err != nil {
		pf.Close()
		t.Fatal(err)
	}
	pf.Close()
	defer func() {
		c.Close() // the peer reads to the end of the stream
		if err := drain.Wait(); err != nil {
			t.Errorf("peer process: %v", err)
		}
	}()
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if rc, err := s.Conn().(syscall.Conn).SyscallConn(); err == nil {
		rc.Control(func(s uintptr) { fd = int(s) }) //nolint:errcheck // fd stays -1
	}
	if err := s.WriteBytes(make([]byte, 4<<20)); err != nil { // far more than the socket buffers hold
		t.Fatal(err)
	}
	// The rest of the package is written in the background. Look for a
	// thread that waits in write(2) on the socket for the peer.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if tid := blockedWriting(t, fd); tid != 0 {
			began := time.Now()
			runtime.GC()
			t.Fatalf("thread %d waits in a raw write(2) on the blocking socket %d; a garbage collection meanwhile took %v", tid, fd, time.Since(began))
		}
	}
}

// blockedWriting returns a thread of this process that is in write(2) or
// writev(2) on fd, or 0.
func blockedWriting(t *testing.T, fd int) int {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil || fd < 0 {
		t.Skipf("cannot see the threads' system calls: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) > 1 && (f[0] == fmt.Sprint(syscall.SYS_WRITE) || f[0] == fmt.Sprint(syscall.SYS_WRITEV)) && f[1] == fmt.Sprintf("0x%x", fd) {
			var tid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &tid) //nolint:errcheck // 0 is fine
			return max(tid, 1)
		}
	}
	return 0
}
