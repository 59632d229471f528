package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

func TestBenchEmbedded(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--conns", "3", "--duration", "300ms", "--warmup", "50ms"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	out := stdout.String()
	for _, want := range []string{"embedded getty echo server", "messages/s", "p99.9", "errors"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchJSONOpenLoop(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--json", "--conns", "2", "--size", "16", "--rate", "1000", "--duration", "300ms", "--warmup", "0s"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, &stderr)
	}
	var res struct {
		Transport string  `json:"transport"`
		Server    string  `json:"server"`
		Mode      string  `json:"mode"`
		Messages  uint64  `json:"messages"`
		Rate      float64 `json:"rate"`
		Errors    uint64  `json:"errors"`
		Latency   struct {
			P99 int64 `json:"p99_ns"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v:\n%s", err, &stdout)
	}
	if res.Transport != "tcp" || res.Server != "embedded" || res.Mode != "open-loop" || res.Rate != 1000 || res.Messages == 0 || res.Errors != 0 || res.Latency.P99 <= 0 {
		t.Fatalf("result %+v", res)
	}
}

// TestBenchExternal drives a plain byte-echo server that knows nothing of
// frames, as the harness does with the peers.
func TestBenchExternal(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(c, c) }() //nolint:errcheck // ends when the client closes
		}
	}()
	defer func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--addr", l.Addr().String(), "--conns", "2", "--depth", "4", "--size", "1000", "--duration", "200ms", "--warmup", "0s"}, nil, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "external server at "+l.Addr().String()) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "zero conns", args: []string{"--conns", "0"}},
		{name: "zero size", args: []string{"--size", "0"}},
		{name: "zero depth", args: []string{"--depth", "0"}},
		{name: "zero duration", args: []string{"--duration", "0s"}},
		{name: "negative rate", args: []string{"--rate", "-1"}},
		{name: "open loop too small", args: []string{"--rate", "10", "--size", "4"}},
		{name: "unknown transport", args: []string{"--transport", "carrier-pigeon"}},
		{name: "stray argument", args: []string{"now"}},
		{name: "unknown engine", args: []string{"--engine", "steam"}},
		{name: "eventloop over ws", args: []string{"--engine", "eventloop", "--transport", "ws"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"bench"}, tc.args...), nil, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2\nstderr:\n%s", code, &stderr)
			}
		})
	}
}

func TestBenchNoServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--addr", addr, "--duration", "100ms"}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, &stderr)
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := group(in); got != want {
			t.Errorf("group(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestBenchEveryTransport runs the embedded benchmark over each transport
// that needs no certificate: every one must move messages without errors.
func TestBenchEveryTransport(t *testing.T) {
	for _, tr := range []string{"udp", "unix", "unixgram", "unixpacket", "ws", "tcp/eventloop", "unix/eventloop"} {
		t.Run(tr, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			name, engine, _ := strings.Cut(tr, "/")
			args := []string{"bench", "--json", "--transport", name, "--conns", "2", "--duration", "300ms", "--warmup", "50ms"}
			if engine != "" {
				args = append(args, "--engine", engine)
			}
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, &stderr)
			}
			var res struct {
				Messages uint64 `json:"messages"`
				Errors   uint64 `json:"errors"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("%v:\n%s", err, &stdout)
			}
			if res.Messages == 0 || res.Errors != 0 {
				t.Fatalf("%s: %d messages, %d errors", tr, res.Messages, res.Errors)
			}
		})
	}
}
