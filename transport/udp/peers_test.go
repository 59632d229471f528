package udp_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/udp"
)

// pyEcho is a python3 UDP echo server: every datagram goes back to its
// sender.
const pyEcho = "while True:\n    d, a = s.recvfrom(70000)\n    s.sendto(d, a)\n"

func TestClientAgainstPythonEchoServer(t *testing.T) {
	t.Parallel()
	for _, family := range []string{"4", "6"} {
		t.Run("IPv"+family, func(t *testing.T) {
			t.Parallel()
			host := "127.0.0.1"
			if family == "6" {
				hasIPv6Loopback(t)
				host = "[::1]"
			}
			_, port := pyUDP(t, family, pyEcho)
			// The echo server answers the probe, which ends the dial at once.
			_, s, rec := dialClient(t, udp.Dialer{Addr: fmt.Sprintf("%s:%d", host, port), ProbeWait: time.Minute}, nil, nil, nil)
			lines := []string{"one", "two", "three"}
			for _, l := range lines {
				if err := s.Write([]byte(l)); err != nil {
					t.Fatal(err)
				}
			}
			rec.wait(t, "three echoes", func(r *recorder) bool { return len(r.pkgs) == 3 })
			if pkgs, errs := rec.snapshot(); strings.Join(pkgs, ",") != "one,two,three" || len(errs) != 0 {
				t.Fatalf("got %q, errors %v", pkgs, errs)
			}
			if st := s.Conn().(*udp.Conn).Stats(); st.Probes != 1 || st.DatagramsIn != 3 {
				t.Fatalf("Probes=%d (the echoed probe, consumed by the dial) DatagramsIn=%d", st.Probes, st.DatagramsIn)
			}
		})
	}
}

func TestPythonClientAgainstServer(t *testing.T) {
	t.Parallel()
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	_, port, _ := strings.Cut(srv.addr, ":")
	// Two packages in one datagram, then one more; then an oversized
	// datagram the server cannot take, then one more package.
	script := fmt.Sprintf(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
srv = ('127.0.0.1', %s)
s.sendto(b'alpha\nbeta\n', srv)
s.sendto(b'gamma\n', srv)
for _ in range(3):
    d, a = s.recvfrom(70000)
    print(d.decode().strip(), a[1] == srv[1], flush=True)
`, port)
	py := startPeer(t, "python3", "-c", script)
	for _, want := range []string{"alpha True", "beta True", "gamma True"} {
		if got := py.line(t); got != want {
			t.Fatalf("python printed %q, want %q", got, want)
		}
	}
	if pkgs, errs := srv.rec.snapshot(); len(pkgs) != 3 || len(errs) != 0 {
		t.Fatalf("server saw %q, errors %v", pkgs, errs)
	}
}

// socatEcho starts a socat UDP echo server and waits until it answers.
func socatEcho(t *testing.T) string {
	t.Helper()
	testutil.RequirePeer(t, "socat")
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		startPeer(t, "socat", "-T", "10", fmt.Sprintf("UDP-LISTEN:%d,bind=127.0.0.1,fork", port), "EXEC:cat")
		// Until socat listens, the dial sees "connection refused".
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			c, err := udp.Dialer{Addr: addr, ProbeWait: time.Second}.Dial(testContext(t))
			if err == nil {
				c.Close()
				return addr
			}
			if !errors.Is(err, udp.ErrUnreachable) {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatal("socat did not start")
	return ""
}

func TestClientAgainstSocatEchoServer(t *testing.T) {
	t.Parallel()
	addr := socatEcho(t)
	_, s, rec := dialClient(t, udp.Dialer{Addr: addr, ProbeWait: 2 * time.Second}, nil, nil, nil)
	for i := range 10 {
		if err := s.Write([]byte(fmt.Sprint("line ", i))); err != nil {
			t.Fatal(err)
		}
		rec.wait(t, "the echo", func(r *recorder) bool { return len(r.pkgs) == i+1 })
	}
	pkgs, errs := rec.snapshot()
	for i, p := range pkgs {
		if p != fmt.Sprint("line ", i) {
			t.Fatalf("echo %d: %q", i, p)
		}
	}
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
}

func TestSocatClientAgainstServer(t *testing.T) {
	t.Parallel()
	socat := testutil.RequirePeer(t, "socat")
	srv := startEchoServer(t, "127.0.0.1:0", nil, nil, nil)
	cmd := exec.Command(socat, "-t", "0.5", "-", "UDP:"+srv.addr)
	cmd.Stdin = strings.NewReader("hello\nworld\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socat: %v", err)
	}
	if string(out) != "hello\nworld\n" {
		t.Fatalf("socat printed %q", out)
	}
	if pkgs, errs := srv.rec.snapshot(); strings.Join(pkgs, "") != "helloworld" || len(errs) != 0 {
		t.Fatalf("server saw %q, errors %v", pkgs, errs)
	}
}
