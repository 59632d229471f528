package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `getty serve` in-process and returns its address and a
// stop function that interrupts it and returns its exit code.
func startServe(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...), nil, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed %q (%v); stderr: %s", line, err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return addr, func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop on interrupt")
			return -1
		}
	}
}

func TestServeAndDial(t *testing.T) {
	for _, codec := range []string{"line", "length"} {
		t.Run(codec, func(t *testing.T) {
			addr, stop := startServe(t, "--codec", codec)
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"dial", "--addr", addr, "--codec", codec},
				strings.NewReader("one\ntwo\nthree\n"), &out, &errOut)
			if code != 0 || out.String() != "one\ntwo\nthree\n" {
				t.Errorf("dial exit %d, out %q, err %q", code, out.String(), errOut.String())
			}
			if c := stop(); c != 0 {
				t.Errorf("serve exit %d", c)
			}
		})
	}
}

func TestServeClosesIdlePeer(t *testing.T) {
	addr, stop := startServe(t, "--read-timeout", "200ms")
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle peer read: %v, want EOF", err)
	}
}

func TestDialFailsClearly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"dial", "--addr", addr}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "cannot connect") || !strings.Contains(errOut.String(), "refused") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "help", args: []string{"help"}, code: 0, want: "Commands:"},
		{name: "help serve", args: []string{"help", "serve"}, code: 0, want: "-read-timeout"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, want: "unknown command"},
		{name: "unknown transport", args: []string{"serve", "--transport", "carrier-pigeon"}, code: 2, want: "unknown transport"},
		{name: "unknown codec", args: []string{"dial", "--codec", "morse"}, code: 2, want: "unknown codec"},
		{name: "bad flag", args: []string{"serve", "--nope"}, code: 2, want: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), tt.args, strings.NewReader(""), &out, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d, output %q", code, out.String())
			}
		})
	}
}
