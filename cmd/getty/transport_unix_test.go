//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestUnixServeDial runs "getty serve" and "getty dial" over each kind of
// Unix socket.
func TestUnixServeDial(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, err := os.MkdirTemp("", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, network := range []string{"unix", "unixgram", "unixpacket"} {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(dir, network)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			served := make(chan int, 1)
			go func() {
				served <- run(ctx, []string{"serve", "--transport", network, "--addr", path, "--log-level", "error"}, nil, pw, io.Discard)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "listening on "+path) {
				t.Fatalf("serve printed %q, %v", line, err)
			}
			go io.Copy(io.Discard, pr) //nolint:errcheck // drains the pipe until serve ends

			var out, errOut bytes.Buffer
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			code := run(dctx, []string{"dial", "--transport", network, "--addr", path}, strings.NewReader("one\ntwo\n"), &out, &errOut)
			if code != 0 || out.String() != "one\ntwo\n" {
				t.Fatalf("dial exited %d, printed %q (stderr %q)", code, out.String(), errOut.String())
			}
			cancel()
			if code := <-served; code != 0 {
				t.Fatalf("serve exited %d", code)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("socket file left after serve: %v", err)
			}
		})
	}
}
