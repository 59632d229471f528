package getty_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

// idleChildEnv makes the test binary run TestEventLoopIdleServer as the
// server process of TestEventLoopHoldsTenThousandIdle: one process cannot
// hold both ends of 10,000 connections under the 20,000 descriptor limit.
const idleChildEnv = "GETTY_IDLE_SERVER"

// TestEventLoopHoldsTenThousandIdle opens 10,000 connections to an
// event-loop server in a child process, has each echo one package, holds
// them idle and closes them: the server's goroutine count stays flat (its
// loops only), its RSS growth per connection is reported, and its
// descriptors and goroutines return to the baseline.
func TestEventLoopHoldsTenThousandIdle(t *testing.T) {
	const n = 10000
	child := startServerProcess(t, "TestEventLoopIdleServer", idleChildEnv+"=1")
	stdin := child.stdin
	line := func() string {
		t.Helper()
		return child.line(t)
	}
	addr := strings.TrimPrefix(line(), "addr ")
	var cpuMs int // the server's CPU time so far
	stats := func() (goroutines, rssKiB, fds, sessions int) {
		t.Helper()
		fmt.Fprintln(stdin, "stats")
		if _, err := fmt.Sscanf(line(), "stats %d %d %d %d %d", &goroutines, &rssKiB, &fds, &sessions, &cpuMs); err != nil {
			t.Fatal(err)
		}
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	// One echo first: the loops, their descriptors and the listener's
	// duplicate exist from then on, so the baseline counts them.
	warm, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	warm.SetDeadline(deadline)
	if _, err := warm.Write(frame([]byte("warm"))); err != nil {
		t.Fatal(err)
	}
	if _, err := readFull(warm, make([]byte, len(frame([]byte("warm"))))); err != nil {
		t.Fatal(err)
	}
	warm.Close()
	var g0, rss0, fd0, open int
	for g0, rss0, fd0, open = stats(); open != 0; g0, rss0, fd0, open = stats() {
		if time.Now().After(deadline) {
			t.Fatal("the warm-up session never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	f := frame([]byte("ping"))
	reply := make([]byte, len(f))
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
		c.SetDeadline(deadline)
		if _, err := c.Write(f); err != nil {
			t.Fatal(err)
		}
		if _, err := readFull(c, reply); err != nil {
			t.Fatalf("echo on connection %d: %v", len(conns), err)
		}
	}
	time.Sleep(time.Second) // let the server settle, as the harness does
	g1, rss1, fd1, s1 := stats()
	t.Logf("server with %d idle sessions: %d goroutines (baseline %d), RSS %d KiB (baseline %d KiB): %d B per connection; %d descriptors (baseline %d)",
		s1, g1, g0, rss1, rss0, (rss1-rss0)*1024/n, fd1, fd0)
	if s1 != n {
		t.Errorf("server holds %d sessions, want %d", s1, n)
	}
	if g1 > g0+4 {
		t.Errorf("goroutines grew from %d to %d with idle connections", g0, g1)
	}
	if fd1 < fd0+n {
		t.Errorf("descriptors %d, want at least %d", fd1, fd0+n)
	}
	// Idle loops sleep in epoll_wait: no polling, no timers per session.
	before := cpuMs
	time.Sleep(time.Second)
	stats()
	t.Logf("server CPU over one idle second: %d ms", cpuMs-before)
	if cpuMs-before > 100 {
		t.Errorf("server used %d ms of CPU in an idle second", cpuMs-before)
	}

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	for {
		g, _, fd, s := stats()
		if s == 0 && fd <= fd0 && g <= g0+1 {
			t.Logf("after the peers closed: %d goroutines, %d descriptors", g, fd)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the peers closed: %d sessions, %d goroutines (baseline %d), %d descriptors (baseline %d)", s, g, g0, fd, fd0)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestEventLoopIdleServer is the server process of
// TestEventLoopHoldsTenThousandIdle; it skips unless run as one. It answers
// "stats" lines on stdin and shuts down when stdin closes.
func TestEventLoopIdleServer(t *testing.T) {
	if os.Getenv(idleChildEnv) == "" {
		t.Skip("the server process of TestEventLoopHoldsTenThousandIdle")
	}
	srv, stop := serveChildEcho(t, &getty.ServerOptions{Options: getty.Options{Engine: getty.EngineEventLoop}}, true)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stats" {
			continue
		}
		runtime.GC()
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		cpu := (ru.Utime.Nano() + ru.Stime.Nano()) / 1e6
		fmt.Printf("stats %d %d %d %d %d\n", runtime.NumGoroutine(), rssKiB(t), countFDs(t), srv.Stats().SessionsOpen, cpu)
	}
	stop()
}

func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
