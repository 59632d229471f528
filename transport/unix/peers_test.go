//go:build linux

package unix_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/unix"
)

// runPython runs a python3 script with args and returns its stdout.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	py := requirePeer(t, "python3")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// startSocat starts socat with args in its own process group and stops the
// group when the test ends.
func startSocat(t *testing.T, args ...string) {
	t.Helper()
	bin := requirePeer(t, "socat")
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // socat and the children it forked
		cmd.Wait()
		if t.Failed() {
			t.Logf("socat stderr: %s", stderr.String())
		}
	})
}

// waitSocket waits until a server of the given kind accepts on path.
func waitSocket(t *testing.T, network unix.Network, path string) {
	t.Helper()
	waitFor(t, "socat to listen on "+path, func() bool {
		if network == unix.Datagram {
			_, err := os.Lstat(path)
			return err == nil
		}
		c, err := net.Dial(string(network), path)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

const pyStreamClient = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
pid, uid, gid = struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
s.sendall(b'hello\nfrom python\n')
buf = b''
while buf.count(b'\n') < 2:
    d = s.recv(4096)
    if not d: break
    buf += d
print(pid, uid)
print(buf.decode(), end='')
`

func TestPeerPythonStream(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "s")
	l, err := unix.Listen(unix.Stream, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, delim.Lines(), &echo{}, nil)
	out := runPython(t, pyStreamClient, path)
	want := fmt.Sprintf("%d %d\nhello\nfrom python\n", os.Getpid(), os.Getuid())
	if out != want {
		t.Fatalf("python3 printed %q, want %q", out, want)
	}
}

func TestPeerSocatStream(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "s")
	startSocat(t, "UNIX-LISTEN:"+path+",fork", "EXEC:cat")
	waitSocket(t, unix.Stream, path)
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Addr: path}, delim.Lines(), collect(got), nil)
	for _, m := range []string{"one", "two"} {
		if err := s.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if p := recv(t, got); string(p) != m {
			t.Fatalf("socat echoed %q, want %q", p, m)
		}
	}
}

const pyDatagramClient = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.settimeout(10)
s.bind(sys.argv[2])  # '' autobinds an abstract name
s.connect(sys.argv[1])
for m in (b'alpha', b'', b'x' * 60000, b'omega'):
    s.send(m)
    r = s.recv(1 << 20)
    print(len(r), r == m)
`

func TestPeerPythonDatagram(t *testing.T) {
	t.Parallel()
	for _, local := range []string{"", "path"} {
		t.Run("bind="+local, func(t *testing.T) {
			t.Parallel()
			path := sockPath(t, "d")
			if local != "" {
				local = path + "c"
			}
			l := listenDatagram(t, path, nil)
			serve(t, l, emptyEcho{}, &echo{}, nil)
			out := runPython(t, pyDatagramClient, path, local)
			if want := "5 True\n0 True\n60000 True\n5 True\n"; out != want {
				t.Fatalf("python3 printed %q, want %q", out, want)
			}
		})
	}
}

// emptyEcho is rawCodec as a getty.MessageCodec: every message is one
// package, so that an empty datagram is echoed too.
type emptyEcho struct{ rawCodec }

func (emptyEcho) DecodeMessage(m getty.Message) ([]byte, error) {
	return append([]byte(nil), m.Data...), nil
}

func (emptyEcho) EncodeMessage(dst, p []byte) ([]byte, getty.MessageKind, error) {
	return append(dst, p...), getty.Binary, nil
}

func TestPeerSocatDatagram(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "d")
	startSocat(t, "UNIX-RECVFROM:"+path+",fork", "EXEC:cat")
	waitSocket(t, unix.Datagram, path)
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: path}, rawCodec{}, collect(got), nil)
	for i := range 3 {
		m := []byte("datagram " + strconv.Itoa(i))
		if err := s.Write(m); err != nil {
			t.Fatal(err)
		}
		if p := recv(t, got); !bytes.Equal(p, m) {
			t.Fatalf("socat echoed %q, want %q", p, m)
		}
	}
}

const pySeqpacketClient = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
pid, uid, gid = struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(pid, uid)
msgs = [b'a', b'bb' * 1000, b'ccc' * 40000, b'd']
for m in msgs:
    s.send(m)  # all at once: boundaries must survive
for m in msgs:
    r = s.recv(1 << 20)
    print(len(r), r == m)
`

func TestPeerPythonSeqpacket(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "p")
	l := listenSeqpacket(t, path, nil)
	serve(t, l, rawCodec{}, &echo{}, nil)
	out := runPython(t, pySeqpacketClient, path)
	want := fmt.Sprintf("%d %d\n1 True\n2000 True\n120000 True\n1 True\n", os.Getpid(), os.Getuid())
	if out != want {
		t.Fatalf("python3 printed %q, want %q", out, want)
	}
}

func TestPeerSocatSeqpacket(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "p")
	startSocat(t, "UNIX-LISTEN:"+path+",fork,type=5", "EXEC:cat")
	waitSocket(t, unix.Seqpacket, path)
	got := make(chan []byte, 4)
	_, s := dial(t, unix.Dialer{Network: unix.Seqpacket, Addr: path}, rawCodec{}, collect(got), nil)
	for _, m := range []string{"first", strings.Repeat("second", 100)} {
		if err := s.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if p := recv(t, got); string(p) != m {
			t.Fatalf("socat echoed %d bytes, want %d", len(p), len(m))
		}
	}
}
