package udp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gettynet/getty/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// peer is a third-party process whose stdout the test reads line by line.
type peer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startPeer starts a program; it and its children are killed (by its
// process group id) when the test ends.
func startPeer(t *testing.T, name string, args ...string) *peer {
	t.Helper()
	cmd := exec.Command(testutil.RequirePeer(t, name), args...)
	cmd.Stderr = os.Stderr
	ownGroup(cmd) // so that forked children (socat's) end with it
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{cmd: cmd, stdin: stdin, lines: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		killGroup(cmd)
		cmd.Wait() //nolint:errcheck // killed on purpose
		<-done
	})
	return p
}

// line waits for the next line of the peer's stdout.
func (p *peer) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatal("peer exited")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the peer")
	}
	return ""
}

// pyUDP runs a python3 UDP script. The script binds 127.0.0.1:0 (or ::1),
// prints "port N", and then does what body says with the socket s.
func pyUDP(t *testing.T, family, body string) (*peer, int) {
	t.Helper()
	host, af := "127.0.0.1", "AF_INET"
	if family == "6" {
		host, af = "::1", "AF_INET6"
	}
	script := "import socket, sys\n" +
		"s = socket.socket(socket." + af + ", socket.SOCK_DGRAM)\n" +
		"s.bind(('" + host + "', 0))\n" +
		"print('port', s.getsockname()[1], flush=True)\n" + body
	p := startPeer(t, "python3", "-u", "-c", script)
	var port int
	if _, err := fmt.Sscanf(p.line(t), "port %d", &port); err != nil {
		t.Fatal(err)
	}
	return p, port
}

// freePort returns a UDP port that nobody listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return port
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
