package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// requireNodeWS returns node's path, or skips when node or the npm `ws`
// package (testdata/node/install.sh) is missing.
func requireNodeWS(t *testing.T) string {
	t.Helper()
	node := requirePeer(t, "node")
	if _, err := os.Stat(filepath.Join("testdata", "node", "node_modules", "ws", "package.json")); err != nil {
		missingPeer(t, "npm ws not installed: run transport/ws/testdata/node/install.sh")
	}
	return node
}

type nodeClientResult struct {
	OK         bool     `json:"ok"`
	Got        int      `json:"got"`
	Problems   []string `json:"problems"`
	Extensions string   `json:"extensions"`
	Code       int      `json:"code"`
	Reason     string   `json:"reason"`
}

func runNodeClient(t *testing.T, env []string, url, mode string, deflate bool) nodeClientResult {
	t.Helper()
	node := requireNodeWS(t)
	args := []string{filepath.Join("testdata", "node", "client.js"), url, mode}
	if deflate {
		args = append(args, "deflate")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s\n%s", err, out, stderr.String())
	}
	var r nodeClientResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		t.Fatalf("node client output %q: %v", out, err)
	}
	return r
}

func TestNodeClient(t *testing.T) {
	t.Parallel()
	for _, deflate := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "deflate"}[deflate]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, &ws.Config{Compression: ws.Compression{Enabled: true}}, nil)
			r := runNodeClient(t, nil, es.url, "echo", deflate)
			if !r.OK || r.Code != 1000 {
				t.Fatalf("node client: %+v", r)
			}
			if got := strings.Contains(r.Extensions, "permessage-deflate"); got != deflate {
				t.Fatalf("extensions %q", r.Extensions)
			}
			var ce *ws.CloseError
			if err := es.waitClosed(t); !errors.As(err, &ce) || ce.Code != 1000 || ce.Reason != "done" {
				t.Fatalf("server cause %v", err)
			}
		})
	}
	t.Run("wss", func(t *testing.T) {
		t.Parallel()
		serverTLS, _, certPEM := testCert(t)
		ca := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		es := startEcho(t, &ws.Config{TLS: serverTLS, Compression: ws.Compression{Enabled: true}}, nil)
		r := runNodeClient(t, []string{"NODE_EXTRA_CA_CERTS=" + ca}, es.url, "echo", true)
		if !r.OK || r.Code != 1000 {
			t.Fatalf("node client over wss: %+v", r)
		}
	})
	t.Run("too-big", func(t *testing.T) {
		t.Parallel()
		es := startEcho(t, nil, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 1 << 20}})
		r := runNodeClient(t, nil, es.url, "toobig", false)
		if r.Code != 1009 {
			t.Fatalf("node client saw %+v, want close 1009", r)
		}
		if err := es.waitClosed(t); !errors.Is(err, getty.ErrMessageTooLarge) {
			t.Fatalf("server cause %v", err)
		}
	})
	t.Run("read-timeout", func(t *testing.T) {
		t.Parallel()
		// node answers pings, so only the timeout of a peer that neither
		// sends nor answers would close it: keepalive keeps this one open
		// until the server shuts down with 1001.
		// ReadTimeout is generous so that a loaded machine does not delay a
		// pong past half of it; the wait below still outlasts it.
		requireNodeWS(t) // before the goroutine: a skip must run on the test's own goroutine
		es := startEcho(t, nil, &getty.ServerOptions{Options: getty.Options{ReadTimeout: 2 * time.Second}})
		done := make(chan nodeClientResult, 1)
		go func() { done <- runNodeClient(t, nil, es.url, "wait", false) }()
		waitSessions(t, es.srv, 1)
		select {
		case r := <-done:
			t.Fatalf("node client closed early: %+v", r)
		case <-time.After(3 * time.Second):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		es.srv.Shutdown(ctx)
		if r := <-done; r.Code != 1001 {
			t.Fatalf("node client saw %+v, want 1001", r)
		}
	})
}

// nodeServer runs testdata/node/server.js.
type nodeServer struct {
	url    string
	stdin  io.WriteCloser
	lines  chan string
	waited chan error
}

func startNodeServer(t *testing.T, opts string) *nodeServer {
	t.Helper()
	node := requireNodeWS(t)
	cmd := exec.Command(node, filepath.Join("testdata", "node", "server.js"), opts)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ns := &nodeServer{stdin: stdin, lines: make(chan string, 64), waited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ns.lines <- sc.Text()
		}
		close(ns.lines)
		ns.waited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-ns.waited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-ns.waited
		}
	})
	var port struct{ Port int }
	select {
	case line := <-ns.lines:
		if err := json.Unmarshal([]byte(line), &port); err != nil {
			t.Fatalf("node server said %q", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node server did not start")
	}
	ns.url = "ws://127.0.0.1:" + itoa(port.Port) + "/"
	return ns
}

func itoa(n int) string { return jsonNum(n) }

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

func (ns *nodeServer) nextLine(t *testing.T) string {
	t.Helper()
	select {
	case l := <-ns.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("node server said nothing")
		return ""
	}
}

func TestNodeServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     string
		deflate  bool
		takeover bool // the server keeps its compression context
	}{
		{name: "plain", opts: `{}`},
		{name: "deflate", opts: `{"deflate":true}`, deflate: true},
		{name: "deflate-context-takeover", opts: `{"deflate":true,"serverNoContextTakeover":false}`, deflate: true, takeover: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := startNodeServer(t, tc.opts)
			col := newCollector()
			c := dialClient(t, ws.Dialer{URL: ns.url, Compression: ws.Compression{Enabled: true, Threshold: -1}}, col, nil)
			s, _ := c.Session()
			if got := s.Conn().(*ws.Conn).Compressed(); got != tc.deflate {
				t.Fatalf("compressed %v", got)
			}
			var msgs []ws.Message
			for i := range 50 {
				// Repetitive JSON: with context takeover, later messages
				// refer back into earlier ones.
				msgs = append(msgs, ws.Text(`{"seq":`+jsonNum(i)+`,"user":"ann","text":"the same words again and again"}`))
			}
			msgs = append(msgs, ws.Binary(bytes.Repeat([]byte("0123456789"), 50000)), ws.Text("héllo 😀"))
			for _, m := range msgs {
				if err := s.Write(m); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range msgs {
				got := col.next(t)
				if got.Kind != want.Kind || !bytes.Equal(got.Data, want.Data) {
					t.Fatalf("message %d differs", i)
				}
			}
			// The server closes with 4000 "bye".
			s.Write(ws.Text("close-me"))
			err := <-col.closed
			var ce *ws.CloseError
			if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "bye" || !errors.Is(err, ws.ErrPeerClosed) {
				t.Fatalf("client cause %v", err)
			}
			var closed struct {
				Closed     int    `json:"closed"`
				Extensions string `json:"extensions"`
			}
			json.Unmarshal([]byte(ns.nextLine(t)), &closed)
			if closed.Closed != 4000 {
				t.Fatalf("node server saw close %d", closed.Closed)
			}
			if tc.takeover && strings.Contains(closed.Extensions, "server_no_context_takeover") {
				t.Fatalf("extensions %q: takeover case did not take over", closed.Extensions)
			}
		})
	}
}
