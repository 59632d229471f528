package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startServeLogs runs `getty serve args...` in-process and returns the address
// it listens on, a channel of its log lines, and a stop function that
// shuts it down and returns its exit code.
func startServeLogs(t *testing.T, args ...string) (addr string, logs <-chan string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), nil, outW, errW)
		outW.Close()
		errW.Close()
	}()
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() {
		cancel()
		t.Fatalf("serve printed nothing (exit %d)", <-code)
	}
	addr = strings.TrimPrefix(sc.Text(), "listening on ")
	go io.Copy(io.Discard, outR) //nolint:errcheck // drains stdout until serve exits
	exit := -1
	var once sync.Once
	stop = func() int {
		once.Do(func() {
			cancel()
			exit = <-code
			for range lines { // drain until the logger's pipe closes
			}
		})
		return exit
	}
	t.Cleanup(func() { stop() })
	return addr, lines, stop
}

// waitLog waits for a log line containing every one of parts.
func waitLog(t *testing.T, logs <-chan string, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-logs:
			if !ok {
				t.Fatalf("serve ended before logging %q", parts)
			}
			match := true
			for _, p := range parts {
				match = match && strings.Contains(l, p)
			}
			if match {
				return l
			}
		case <-deadline:
			t.Fatalf("no log line with %q within %v", parts, timeout)
		}
	}
}

func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestServeCompressedReadTimeoutThenIdle is the CLI scenario:
// `getty serve --transport tcp --compress deflate --read-timeout 300ms`
// closes a silent peer after 300 ms and then sits idle; a compressed
// `getty dial` gets its echo. The same with --engine eventloop (on Linux).
//
// Not parallel: it measures the process's CPU time.
func TestServeCompressedReadTimeoutThenIdle(t *testing.T) {
	engines := []string{"goroutine"}
	if runtime.GOOS == "linux" {
		engines = append(engines, "eventloop")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { testServeCompressed(t, engine) })
	}
}

func testServeCompressed(t *testing.T, engine string) {
	addr, logs, stop := startServeLogs(t, "--transport", "tcp", "--compress", "deflate", "--read-timeout", "300ms", "--engine", engine)

	// A compressed client gets its echo.
	var out bytes.Buffer
	line := strings.Repeat("hello compressed getty ", 40)
	if code := run(context.Background(), []string{"dial", "--addr", addr, "--compress", "deflate", "--wait", "5s"}, strings.NewReader(line+"\n"), &out, io.Discard); code != 0 {
		t.Fatalf("dial exited %d", code)
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != line {
		t.Fatalf("dial printed %q", got)
	}

	// A silent peer is closed after the read timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opened := time.Now()
	l := waitLog(t, logs, 10*time.Second, "session closed", "read timeout")
	elapsed := time.Since(opened)
	t.Logf("%v after connecting: %s", elapsed, l)
	if elapsed < 250*time.Millisecond {
		t.Errorf("closed after %v, before the 300 ms read timeout", elapsed)
	}

	// Then the server sits idle.
	before := processCPU(t)
	<-time.After(time.Second) // the measurement window
	spent := processCPU(t) - before
	t.Logf("CPU time in the idle second: %v", spent)
	if spent > 150*time.Millisecond {
		t.Errorf("the server used %v of CPU in the idle second after the timeout; want near zero", spent)
	}
	// The closed peer sees the end of the stream.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("silent peer read %d, %v; want EOF", n, err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

// TestCompressFlagUsage: bad names are usage errors (exit 2).
func TestCompressFlagUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--compress", "lz4"},
		{"dial", "--compress", "gzip"},
		{"serve", "--compress", "zstd", "--compress-level", "max"},
		{"serve", "--transport", "udp", "--compress", "s2"},
	} {
		var errb bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &errb); code != 2 {
			t.Errorf("%q: exit %d (%s), want 2", args, code, errb.String())
		}
	}
}

// TestBenchCompressed: `getty bench --compress` drives a compressing
// embedded server through compressing connections, on each engine.
func TestBenchCompressed(t *testing.T) {
	t.Parallel()
	engines := []string{"goroutine"}
	if runtime.GOOS == "linux" {
		engines = append(engines, "eventloop")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			args := []string{"bench", "--compress", "zstd", "--engine", engine, "--conns", "2", "--size", "512", "--duration", "300ms", "--warmup", "50ms"}
			if code := run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), "compress zstd") || !strings.Contains(out.String(), engine+" engine") || !strings.Contains(out.String(), "messages/s") {
				t.Fatalf("output %q", out.String())
			}
		})
	}
}
