package getty_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/tcp"
)

// lineServer serves newline-delimited echo on l.
func lineServer(t *testing.T, l getty.Listener, rec *recorder) {
	t.Helper()
	srv, err := getty.NewServer(delim.Lines(), getty.Handler[[]byte](rec), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
}

// run runs a peer program with stdin and a time limit and returns stdout.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}

const pyClient = `
import socket, struct, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
def frame(b): return struct.pack(">I", len(b)) + b
msgs = [b"", b"a", b"hello world", bytes(range(256)) * 40]
wire = b"".join(frame(m) for m in msgs)
# the first package byte by byte, the rest coalesced in one send
first = len(frame(msgs[0])) + len(frame(msgs[1]))
for i in range(first):
    s.send(wire[i:i+1])
s.sendall(wire[first:])
def recvn(n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk: raise SystemExit("closed early")
        b += chunk
    return b
for m in msgs:
    n, = struct.unpack(">I", recvn(4))
    got = recvn(n)
    if got != m: raise SystemExit("mismatch")
# end with a reset instead of a FIN
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("ok")
`

func TestPythonClient(t *testing.T) {
	py := testutil.RequirePeer(t, "python3")
	env := tcpEnv(t)
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, nil)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	if out := run(t, "", py, "-c", pyClient, port); strings.TrimSpace(out) != "ok" {
		t.Fatalf("python: %q", out)
	}
	cause, _ := rec.waitClosed(t)
	if cause == nil || errors.Is(cause, io.EOF) {
		t.Errorf("a reset peer closed with cause %v", cause)
	}
	if rec.msgs.Load() != 4 {
		t.Errorf("server handled %d packages, want 4", rec.msgs.Load())
	}
}

func TestSocatClient(t *testing.T) {
	socat := testutil.RequirePeer(t, "socat")
	env := tcpEnv(t)
	rec := newRecorder(t, true)
	l := env.MustListen(t)
	lineServer(t, l, rec)
	in := "one\ntwo\r\nthree\n"
	out := run(t, in, socat, "-t", "2", "-", "TCP:"+l.Addr().String()+",shut-down")
	if out != "one\ntwo\nthree\n" {
		t.Fatalf("socat got %q", out)
	}
}

func TestClientAgainstSocatServer(t *testing.T) {
	socat := testutil.RequirePeer(t, "socat")
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, socat, "TCP-LISTEN:"+port+",bind=127.0.0.1,reuseaddr,fork", "EXEC:cat")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	replies := make(chan string, 10)
	h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { replies <- string(p) }}
	var c *getty.Client[[]byte]
	var err error
	// socat needs a moment to bind; retry the dial for a bounded time.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		c, err = getty.Dial(dctx, tcp.Dialer{Addr: "127.0.0.1:" + port}, delim.Lines(), getty.Handler[[]byte](h), nil)
		dcancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"alpha", "beta", strings.Repeat("x", 100000)} {
		if err := s.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-replies:
			if got != m {
				t.Fatalf("got %d bytes, want %d", len(got), len(m))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reply from socat")
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func TestOpenSSLClient(t *testing.T) {
	openssl := testutil.RequirePeer(t, "openssl")
	certs := testutil.NewCerts(t)
	l, err := tcp.Listen("127.0.0.1:0", &tcp.Config{TLS: certs.Server})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, true)
	lineServer(t, l, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", l.Addr().String(),
		"-CAfile", certs.CAFile, "-verify_return_error", "-quiet", "-servername", "localhost")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "over tls\n")
	line, err := bufio.NewReader(stdout).ReadString('\n')
	stdin.Close()
	cancel()
	cmd.Wait()
	if line != "over tls\n" {
		t.Fatalf("openssl got %q (%v)\n%s", line, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "verify return:1") {
		t.Errorf("certificate not verified:\n%s", stderr.String())
	}

	// TLS 1.1 is refused.
	old := exec.Command(openssl, "s_client", "-connect", l.Addr().String(), "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
	old.Stdin = strings.NewReader("")
	if out, err := old.CombinedOutput(); err == nil {
		t.Errorf("TLS 1.1 handshake succeeded:\n%s", out)
	}
	if cause, _ := rec.waitClosed(t); cause == nil { // the verified session
		t.Error("no close cause")
	}
}

func TestTLSClientAgainstOpenSSLServer(t *testing.T) {
	openssl := testutil.RequirePeer(t, "openssl")
	certs := testutil.NewCerts(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:"+port, "-cert", certs.CertFile, "-key", certs.KeyFile, "-rev", "-quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	replies := make(chan string, 10)
	h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { replies <- string(p) }}
	var c *getty.Client[[]byte]
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err = getty.Dial(dctx, tcp.Dialer{Addr: "127.0.0.1:" + port, Config: tcp.Config{TLS: certs.Client}},
			delim.Lines(), getty.Handler[[]byte](h), nil)
		dcancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.Session()
	if err := s.Write([]byte("getty")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-replies:
		if got != "ytteg" {
			t.Fatalf("openssl s_server -rev replied %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reply from openssl s_server")
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	certs := testutil.NewCerts(t)
	l, err := tcp.Listen("127.0.0.1:0", &tcp.Config{TLS: certs.Server})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := getty.NewServer(delim.Lines(), getty.Handler[[]byte](newRecorder(t, true)),
		&getty.ServerOptions{Options: getty.Options{HandshakeTimeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	// A peer that connects and never starts the handshake is cut off.
	c := dialRaw(t, l)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("stalled handshake: %v", err)
	}
}
