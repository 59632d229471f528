package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gettynet/getty"
)

// wireConn is a net.Conn over an in-memory wire, for the read path.
type wireConn struct {
	net.Conn
	r *bytes.Reader
	w bytes.Buffer
}

func (c *wireConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *wireConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *wireConn) Close() error                { return nil }

// TestFrameRecordCap: a frame carries at most maxRecords messages. A
// sender splits a long run of empty messages (the cheapest to compress)
// into frames of maxRecords; a compressed frame of a few bytes holding
// more is refused before any of its messages is delivered, on the
// blocking and the push-style read paths.
func TestFrameRecordCap(t *testing.T) {
	const n = 10*maxRecords + 3
	for _, alg := range Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			cfg := &Config{Algorithm: alg, BatchSize: 1 << 20, Threshold: 1}
			w := &wireConn{}
			sender, err := NewConn(w, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sender.WriteMessages(make([]getty.Message, n)); err != nil {
				t.Fatal(err)
			}
			if got, want := sender.Stats().FramesOut, uint64((n+maxRecords-1)/maxRecords); got != want {
				t.Fatalf("%d empty messages went in %d frames, want %d", n, got, want)
			}
			r, err := NewConn(&wireConn{r: bytes.NewReader(w.w.Bytes())}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for {
				m, err := r.ReadMessage(1 << 20)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil || len(m.Data) != 0 {
					t.Fatalf("message %d: %q, %v", got, m.Data, err)
				}
				got++
			}
			if got != n {
				t.Fatalf("%d messages back, want %d", got, n)
			}

			// One compressed frame of maxRecords+1 empty messages, made by
			// hand: the sender would never write it.
			k, err := newCodec(cfg)
			if err != nil {
				t.Fatal(err)
			}
			content := make([]byte, maxRecords+1)
			z, err := k.compress(nil, content)
			if err != nil {
				t.Fatal(err)
			}
			body := append(binary.AppendUvarint(nil, uint64(len(content))), z...)
			wire := make([]byte, headerLen, headerLen+len(body))
			putHeader(wire, alg, true, len(body))
			wire = append(wire, body...)
			t.Logf("%d messages in a compressed frame of %d bytes", len(content), len(wire))

			r, _ = NewConn(&wireConn{r: bytes.NewReader(wire)}, cfg)
			if m, err := r.ReadMessage(1 << 20); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadMessage: %q, %v; want ErrCorrupt", m.Data, err)
			}
			p, _ := NewConn(&wireConn{}, cfg)
			if _, err := p.DecodeFrame(wire, 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeFrame: %v; want ErrCorrupt", err)
			}
			if _, ok := p.NextMessage(); ok {
				t.Fatal("a message of the refused frame was delivered")
			}
		})
	}
}
