package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// TestUDPServeAndDial runs `getty serve --transport udp` and talks to it with
// `getty dial --transport udp`: lines in, one datagram each, echoes out.
func TestUDPServeAndDial(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	served := make(chan int, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--transport", "udp", "--addr", "127.0.0.1:0", "--log-level", "error"}, nil, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drains until serve exits
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	var out, errs bytes.Buffer
	code := run(ctx, []string{"dial", "--transport", "udp", "--addr", addr}, strings.NewReader("hello\nworld\n"), &out, &errs)
	if code != 0 || out.String() != "hello\nworld\n" {
		t.Fatalf("dial exited %d, printed %q, stderr %q", code, out.String(), errs.String())
	}

	cancel()
	if code := <-served; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

func TestUDPDialNobodyListening(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"dial", "--transport", "udp", "--addr", addr}, strings.NewReader("x\n"), &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "unreachable") {
		t.Fatalf("dial to a closed port exited %d, stderr %q", code, errs.String())
	}
	if code := run(context.Background(), []string{"dial", "--transport", "udp", "--tls-ca", "ca.pem"}, nil, &out, &errs); code != 2 {
		t.Fatalf("udp with TLS flags exited %d; want 2 (usage)", code)
	}
}
