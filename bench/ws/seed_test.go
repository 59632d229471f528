package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGorillaRepeatedFailedRead documents the failure the original getty hit
// (see transport/ws's package doc): with gorilla/websocket, once a read has
// failed (here: a read deadline), every later read fails at once, and the
// 1,000th one panics. A read loop that retries on timeouts therefore spins
// and then crashes. getty's transport/ws treats the first read error as
// final instead (TestSeedBugCompressedReadTimeout there).
func TestGorillaRepeatedFailedRead(t *testing.T) {
	up := websocket.Upgrader{EnableCompression: true}
	conns := make(chan *websocket.Conn, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err == nil {
			conns <- c
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	d := websocket.Dialer{EnableCompression: true}
	client, _, err := d.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := <-conns
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.NextReader(); err == nil {
		t.Fatal("read did not time out")
	}
	reads := 0
	panicked := func() (p any) {
		defer func() { p = recover() }()
		for reads < 5000 {
			reads++
			c.NextReader() //nolint:errcheck // the point is that it keeps failing
		}
		return nil
	}()
	t.Logf("gorilla/websocket v1.5.3: read %d after the timeout: panic %v", reads, panicked)
	if panicked == nil || !strings.Contains(strings.ToLower(panicked.(string)), "repeated read") {
		t.Fatalf("expected gorilla's repeated-read panic, got %v after %d reads", panicked, reads)
	}
}
