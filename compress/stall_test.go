package compress_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
)

// TestPeerThatDoesNotReadStallsNoOne: a server with one event loop (and a
// goroutine-engine server alike) answers a peer that never reads with 16
// MiB of random data from the callback, more than the socket buffers hold.
// The write goes on in the background: another client of the same loop
// still gets its echoes, and the stalled session ends with ErrWriteTimeout
// after WriteTimeout (300 ms).
func TestPeerThatDoesNotReadStallsNoOne(t *testing.T) {
	t.Parallel()
	forEngines(t, netTCP, func(t *testing.T, n network) {
		cfg := &compress.Config{}
		flood := payload(16<<20, false, 11)
		log := newCloseLog()
		h := log.handler().(getty.HandlerFuncs[[]byte])
		h.Message = func(s *getty.Session[[]byte], p []byte) {
			if string(p) == "flood" {
				p = flood
			}
			s.Write(p) //nolint:errcheck // a failed write ends the session; the test sees it
		}
		opts := &getty.ServerOptions{Options: getty.Options{EventLoops: 1, MaxPackageSize: 32 << 20, WriteTimeout: 300 * time.Millisecond}}
		d := serve(t, n, cfg, opts, h)

		stuck := rawDial(t, d)
		if _, err := stuck.Write(frames(t, cfg, pkgFrame([]byte("flood")))); err != nil {
			t.Fatal(err)
		}
		col := newCollector(16)
		c := dial(t, d, cfg, nil, col.handler())
		s, err := c.Session()
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			p := payload(1000, true, uint64(i))
			if err := s.Write(p); err != nil {
				t.Fatal(err)
			}
			if got := col.next(t); !bytes.Equal(got, p) {
				t.Fatalf("echo %d differs", i)
			}
		}
		select {
		case id := <-log.events:
			log.mu.Lock()
			cause := log.causes[id]
			log.mu.Unlock()
			if !errors.Is(cause, getty.ErrWriteTimeout) {
				t.Fatalf("the stalled session ended with %v, want ErrWriteTimeout", cause)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the stalled session did not end")
		}
	})
}
