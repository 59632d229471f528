package tcp_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/proxyproto"
	"github.com/gettynet/getty/transport/tcp"
)

// haproxyConfig is a TCP-mode front end balancing over getty servers with
// PROXY protocol v2, checked every 100 ms (the checks send a v2 LOCAL
// header), redispatching a connection that a server refused.
const haproxyConfig = `global
    maxconn 2000

defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1

frontend fe
    bind %s
    default_backend getty

backend getty
    balance roundrobin
    server s1 %s send-proxy-v2 check check-send-proxy inter 100ms fall 1 rise 1
    server s2 %s send-proxy-v2 check check-send-proxy inter 100ms fall 1 rise 1
`

// startHAProxy runs haproxy in the foreground in front of backends and
// returns its front end's address once it echoes. It is stopped, by its
// pid, when the test ends.
func startHAProxy(t *testing.T, backends ...string) string {
	t.Helper()
	bin := testutil.RequirePeer(t, "haproxy")
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		// haproxy cannot report a port it picked: take a free one and hand
		// it over (another process could grab it meanwhile: then retry).
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		front := probe.Addr().String()
		probe.Close()
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, front, backends[0], backends[1])), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-f", cfg, "-db")
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Kill() //nolint:errcheck // it may have exited already
			<-exited
		}
		if waitEcho(front, exited) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("haproxy output:\n%s", out.String())
				}
			})
			return front
		}
		stop()
		t.Logf("haproxy attempt %d did not come up:\n%s", attempt, out.String())
	}
	t.Fatal("haproxy did not start")
	return ""
}

// waitEcho waits until a line echoes through addr, or haproxy exits.
func waitEcho(addr string, exited <-chan error) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "ready?\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && line == "ready?\n" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond) // haproxy is starting or its first checks are pending; nothing to wait on
	}
	return false
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// TestBehindHAProxy runs two getty servers behind Debian's haproxy in TCP
// mode with send-proxy-v2: clients echo through it, each server sees the
// clients' real addresses, then one server is drained with Shutdown and
// haproxy sends every new session to the other, with nothing lost.
func TestBehindHAProxy(t *testing.T) {
	t.Parallel()
	cfg := &tcp.Config{ProxyProtocol: &proxyproto.Config{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	s1, s2 := startLineServer(t, cfg, nil), startLineServer(t, cfg, nil)
	front := startHAProxy(t, s1.l.Addr().String(), s2.l.Addr().String())
	// Drop the sessions of waitEcho's probes.
	drain := func(ls *lineServer) {
		for {
			select {
			case <-ls.opened:
			default:
				return
			}
		}
	}
	drain(s1)
	drain(s2)
	// haproxy's health checks (a v2 LOCAL header) reach both servers and
	// open sessions that keep the proxy's addresses.
	for _, ls := range []*lineServer{s1, s2} {
		select {
		case <-ls.checked:
		case <-time.After(10 * time.Second):
			t.Fatal("no health check reached a server")
		}
	}

	const clients, requests = 6, 300
	echoers := make([]*echoer, clients)
	for i := range echoers {
		echoers[i] = &echoer{addr: front, name: fmt.Sprintf("c%d", i)}
		if err := echoers[i].connect(); err != nil {
			t.Fatal(err)
		}
		if err := echoers[i].echo(-1); err != nil { // through to a server
			t.Fatal(err)
		}
	}
	// Round robin put half of the clients on each server, and each server
	// saw the client's own address, not haproxy's.
	clientAddrs := map[string]bool{}
	for _, e := range echoers {
		clientAddrs[e.locals[0]] = true
	}
	for _, ls := range []*lineServer{s1, s2} {
		for range clients / 2 {
			a := waitOpened(t, ls).String()
			if !clientAddrs[a] {
				t.Errorf("a server saw %s, which is no client's address (clients: %v)", a, clientAddrs)
			}
		}
	}

	var quarter, wg sync.WaitGroup
	quarter.Add(clients)
	errs := make(chan error, clients)
	for _, e := range echoers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.close()
			for i := range requests {
				if i == requests/4 {
					quarter.Done()
				}
				if err := e.echo(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	quarter.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := s1.srv.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("draining s1: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s2.stop(t)

	// Every client that was on s1 reconnected through haproxy to s2, which
	// saw its new address.
	after := map[string]bool{}
	for {
		select {
		case a := <-s2.opened:
			after[a.String()] = true
			continue
		default:
		}
		break
	}
	var replies, retries int
	for _, e := range echoers {
		replies += e.replies
		retries += e.retries
		if len(e.locals) > 1 {
			for _, a := range e.locals[1:] {
				if !after[a] {
					t.Errorf("%s reconnected from %s, but s2 did not see that address", e.name, a)
				}
			}
		}
	}
	st1, st2 := s1.srv.Stats(), s2.srv.Stats()
	t.Logf("s1: %d sessions (+%d checks), %d packages in, %d out; s2: %d sessions (+%d checks), %d packages out; %d requests resent",
		st1.SessionsTotal-uint64(s1.checks.Load()), s1.checks.Load(), st1.PackagesIn, st1.PackagesOut,
		st2.SessionsTotal-uint64(s2.checks.Load()), s2.checks.Load(), st2.PackagesOut, retries)
	if want := clients * (requests + 1); replies != want {
		t.Errorf("%d replies, want %d", replies, want)
	}
	if st1.PackagesIn != st1.PackagesOut {
		t.Errorf("the drained server took in %d packages and answered %d", st1.PackagesIn, st1.PackagesOut)
	}
	if moved := len(after); moved < clients/2 {
		t.Errorf("only %d sessions moved to s2", moved)
	}
	if st1.Closed.Shutdown < clients/2 {
		t.Errorf("s1 closed %+v", st1.Closed)
	}
}
