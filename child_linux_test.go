package getty_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

// serverProcess is a Test function of this binary run as a child process
// (a server that needs limits or descriptors of its own): its stdin, a
// scanner over its stdout, and its pid. Closing stdin asks it to finish; the
// test waits for it at cleanup.
type serverProcess struct {
	stdin io.WriteCloser
	out   *bufio.Scanner
	pid   int
}

// startServerProcess runs the test named test in a child process with the
// environment variable env set.
func startServerProcess(t *testing.T, test, env string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
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
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("server process: %v", err)
		}
	})
	return &serverProcess{stdin: stdin, out: bufio.NewScanner(stdout), pid: cmd.Process.Pid}
}

// line reads the next line the child printed.
func (p *serverProcess) line(t *testing.T) string {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("server process ended: %v", p.out.Err())
	}
	return p.out.Text()
}

// serveChildEcho is the body of a child server: a length-field echo server
// with opts on 127.0.0.1, its address printed as "addr A" for the parent.
// With strict, a failed echo fails the test. The returned stop shuts it
// down and waits for Serve.
func serveChildEcho(t *testing.T, opts *getty.ServerOptions, strict bool) (*getty.Server[[]byte], func()) {
	t.Helper()
	h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) {
		if err := s.Write(p); err != nil && strict {
			t.Errorf("echo: %v", err)
		}
	}}
	srv, err := getty.NewServer(lengthfield.Codec{}, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Printf("addr %s\n", l.Addr())
	return srv, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	}
}
