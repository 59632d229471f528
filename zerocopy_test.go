package getty_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
)

// TestRepliesFromTheReadBuffer checks replies that the event-loop engine
// sends straight from the bytes it read (ZeroCopyReplies, HeaderEncoder):
// echoes
// (whole frames, merged), sub-slices (new headers), the same payload twice,
// raw bytes in between, a write from another goroutine during the
// callback, and a peer that reads slowly so that the kernel takes a batch
// only in part. The goroutine engine runs the same cases.
func TestRepliesFromTheReadBuffer(t *testing.T) { forEngines(t, testRepliesFromTheReadBuffer) }

func testRepliesFromTheReadBuffer(t *testing.T, env *testutil.Env) {
	type reply func(s *getty.Session[[]byte], p []byte)
	other := func(s *getty.Session[[]byte], p []byte) {
		done := make(chan error, 1)
		go func() { done <- s.Write(p) }()
		if err := <-done; err != nil {
			t.Errorf("write from another goroutine: %v", err)
		}
	}
	cases := []struct {
		name  string
		reply reply
		want  func(p []byte) [][]byte
	}{
		{"echo", func(s *getty.Session[[]byte], p []byte) { s.Write(p) }, //nolint:errcheck // a failed write fails the comparison
			func(p []byte) [][]byte { return [][]byte{p} }},
		{"tail", func(s *getty.Session[[]byte], p []byte) { s.Write(p[7:]) }, //nolint:errcheck // as above
			func(p []byte) [][]byte { return [][]byte{p[7:]} }},
		{"twice with raw bytes between", func(s *getty.Session[[]byte], p []byte) {
			s.Write(p)                       //nolint:errcheck // as above
			s.WriteBytes(frame([]byte("-"))) //nolint:errcheck // as above
			s.Write(p)                       //nolint:errcheck // as above
		}, func(p []byte) [][]byte { return [][]byte{p, []byte("-"), p} }},
		{"from another goroutine", other, func(p []byte) [][]byte { return [][]byte{p} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := getty.HandlerFuncs[[]byte]{Message: c.reply}
			_, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{ZeroCopyReplies: true}})
			for _, slow := range []bool{false, true} {
				conn := dialRaw(t, l)
				var in []byte
				var want [][]byte
				n := 96
				if slow {
					n = 1200 // about 3 MB: more than the socket buffers hold
				}
				for i := range n {
					p := payload(i, 600+i*97%5000)
					in = append(in, frame(p)...)
					want = append(want, c.want(p)...)
				}
				if err := exchange(conn, in, want, slow); err != nil {
					t.Fatalf("slow reader %v: %v", slow, err)
				}
				conn.Close()
			}
		})
	}
}

// exchange sends in (one write per 64 KiB) while reading the replies, and
// compares them with want. A slow reader waits before it starts reading, so
// the server's socket buffer fills.
func exchange(c net.Conn, in []byte, want [][]byte, slow bool) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	sent := make(chan error, 1)
	go func() {
		for len(in) > 0 {
			n := min(len(in), 64<<10)
			if _, err := c.Write(in[:n]); err != nil {
				sent <- err
				return
			}
			in = in[n:]
		}
		sent <- nil
	}()
	if slow {
		time.Sleep(200 * time.Millisecond)
	}
	r := bufio.NewReaderSize(c, 1<<10)
	for i, w := range want {
		got, err := readFrame(readerConn{c, r})
		if err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		if !bytes.Equal(got, w) {
			return fmt.Errorf("reply %d: %d bytes, want %d (first difference at %d)", i, len(got), len(w), firstDiff(got, w))
		}
		if slow && i%8 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := <-sent; err != nil {
		return err
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// readerConn reads through a buffered reader.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (rc readerConn) Read(p []byte) (int, error) { return rc.r.Read(p) }

// TestWrittenBytesMayChangeAfterWrite checks the default: without
// ZeroCopyReplies a callback may overwrite a package it has just written
// (the write copied it), on both engines.
func TestWrittenBytesMayChangeAfterWrite(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) {
			s.Write(p) //nolint:errcheck // a failed write fails the comparison
			for i := range p {
				p[i] = '#'
			}
		}}
		_, l := serve(t, env, h, nil)
		conn := dialRaw(t, l)
		var in []byte
		var want [][]byte
		for i := range 64 {
			p := payload(i, 700+i*31)
			in = append(in, frame(p)...)
			want = append(want, p)
		}
		if err := exchange(conn, in, want, false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRepliesFromTheReadBufferBesideAnotherWriter checks zero-copy replies
// while another goroutine keeps writing to the same session: that
// goroutine is often the flusher when the loop's callback queues its
// replies, and may write them from the read buffer while the callback goes
// on queueing more. Every echo must arrive whole and in order, between the
// other goroutine's packages.
func TestRepliesFromTheReadBufferBesideAnotherWriter(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		tick := bytes.Repeat([]byte("tick"), 256)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		t.Cleanup(func() { close(stop); wg.Wait() })
		h := getty.HandlerFuncs[[]byte]{
			Open: func(s *getty.Session[[]byte]) error {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if s.Stats().Backlog > 64<<10 {
							runtime.Gosched()
							continue
						}
						if s.Write(tick) != nil {
							return
						}
						runtime.Gosched()
					}
				}()
				return nil
			},
			Message: func(s *getty.Session[[]byte], p []byte) {
				if err := s.Write(p); err != nil {
					t.Errorf("echo: %v", err)
				}
			},
		}
		_, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{ZeroCopyReplies: true, MaxWriteBacklog: 64 << 20}})
		conn := dialRaw(t, l)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReaderSize(conn, 64<<10)
		// Bursts of a few packages, each answered before the next: many
		// dispatches, each corked over its burst.
		const bursts, burst = 2000, 4
		var in []byte
		for b := range bursts {
			in = in[:0]
			for i := range burst {
				in = append(in, frame(payload(b*burst+i, 512+i*100))...)
			}
			if _, err := conn.Write(in); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < burst; {
				got, err := readFrame(readerConn{conn, r})
				if err != nil {
					t.Fatalf("burst %d, echo %d: %v", b, i, err)
				}
				if bytes.Equal(got, tick) {
					continue
				}
				if want := payload(b*burst+i, 512+i*100); !bytes.Equal(got, want) {
					t.Fatalf("burst %d, echo %d: %d bytes, want %d (first difference at %d)", b, i, len(got), len(want), firstDiff(got, want))
				}
				i++
			}
		}
	})
}
