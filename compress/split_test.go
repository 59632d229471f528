package compress_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
)

// splitWire is a compressed frame of several messages, a raw frame, and a
// frame of one empty message, for every algorithm.
func splitWire(t *testing.T, cfg *compress.Config) (wire []byte, msgs [][]byte) {
	t.Helper()
	big := [][]byte{pkgFrame(payload(300, true, 1)), pkgFrame(payload(200, true, 2)), pkgFrame(nil)}
	small := [][]byte{pkgFrame([]byte("hi"))}
	wire = append(frames(t, cfg, big...), frames(t, cfg, small...)...)
	if wire[0]&0x10 == 0 {
		t.Fatal("the first frame was not compressed")
	}
	return wire, append(big, small...)
}

// TestDecodeFrameSplitAtEveryByte feeds a stream push-style, as the event
// loop does, cut at every byte: DecodeFrame takes nothing until a frame is
// whole, and the messages come out whole and in order.
func TestDecodeFrameSplitAtEveryByte(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		cfg := &compress.Config{Algorithm: alg}
		wire, want := splitWire(t, cfg)
		for cut := range len(wire) + 1 {
			got, left, err := pushAll(t, cfg, wire, 1<<20, cut)
			if err != nil || left != 0 || len(got) != len(want) {
				t.Fatalf("%v cut %d: %d messages, %d bytes left, %v; want %d, 0, nil", alg, cut, len(got), left, err, len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%v cut %d: message %d differs", alg, cut, i)
				}
			}
		}
	}
}

// TestSessionReadsFramesByteByByte writes frames to echo servers one byte
// per write (each a TCP segment of its own), on both engines: the partial
// frames wait (on the event loop, in the session's tail buffer) and every
// package is echoed whole and in order.
func TestSessionReadsFramesByteByByte(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			t.Run(alg.String()+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel()
				cfg := &compress.Config{Algorithm: alg}
				wire, want := splitWire(t, cfg)
				d := serve(t, n, cfg, nil, echo())
				c := rawDial(t, d)
				for i := range wire {
					if _, err := c.Write(wire[i : i+1]); err != nil {
						t.Fatalf("byte %d: %v", i, err)
					}
				}
				r, err := compress.NewConn(c, cfg)
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				for len(got) < len(bytes.Join(want, nil)) {
					m, err := readWithin(r)
					if err != nil {
						t.Fatalf("after %d echoed bytes: %v", len(got), err)
					}
					got = append(got, m.Data...)
				}
				if !bytes.Equal(got, bytes.Join(want, nil)) {
					t.Fatal("the echoed packages differ")
				}
			})
		}
	}
}

// readWithin reads one message within 10 s.
func readWithin(c *compress.Conn) (getty.Message, error) {
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return getty.Message{}, err
	}
	return c.ReadMessage(1 << 20)
}
