package compress_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
)

// fakeConn is an in-memory net.Conn: reads come from r, writes go to w.
type fakeConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return 0, io.EOF
	}
	return c.r.Read(p)
}
func (c *fakeConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "fake" }

// frames returns the wire bytes a Conn with cfg writes for one batch of
// messages.
func frames(t testing.TB, cfg *compress.Config, msgs ...[]byte) []byte {
	t.Helper()
	fc := &fakeConn{}
	c, err := compress.NewConn(fc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]getty.Message, len(msgs))
	for i, m := range msgs {
		ms[i] = getty.Message{Data: m}
	}
	if err := c.WriteMessages(ms); err != nil {
		t.Fatal(err)
	}
	return fc.w.Bytes()
}

// readAll reads messages from wire with a Conn of cfg until an error, and
// returns the messages (copied) and the error.
func readAll(t testing.TB, cfg *compress.Config, wire []byte, max int) ([][]byte, error) {
	t.Helper()
	c, err := compress.NewConn(&fakeConn{r: bytes.NewReader(wire)}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out [][]byte
	for {
		m, err := c.ReadMessage(max)
		if err != nil {
			return out, err
		}
		if len(m.Data) > max {
			t.Fatalf("message of %d bytes passed a limit of %d", len(m.Data), max)
		}
		out = append(out, append([]byte(nil), m.Data...))
		// Every message has a record header of at least one byte in its
		// frame's (decompressed) content: more messages than content bytes
		// would be made up. (Not than wire bytes: a compressed frame of
		// empty records holds many more records than it has bytes.)
		if raw := c.Stats().RawIn; uint64(len(out)) > raw {
			t.Fatalf("%d messages from %d bytes of frame content", len(out), raw)
		}
	}
}

// pushAll decodes wire push-style, as the event-loop engine does: the
// bytes arrive in two reads cut at cut, each appended to what is left of
// the previous one, and DecodeFrame and NextMessage take the whole frames.
// It returns the messages (copied), the bytes left undecoded (the start
// of a partial frame) and the error that stopped decoding, if any.
func pushAll(t testing.TB, cfg *compress.Config, wire []byte, limit, cut int) (msgs [][]byte, left int, err error) {
	t.Helper()
	c, err := compress.NewConn(&fakeConn{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cut = min(max(cut, 0), len(wire))
	var pending []byte
	for _, read := range [][]byte{wire[:cut], wire[cut:]} {
		pending = append(pending, read...)
		for {
			used, err := c.DecodeFrame(pending, limit)
			if err != nil {
				return msgs, len(pending), err
			}
			if used == 0 {
				break
			}
			if used > len(pending) {
				t.Fatalf("DecodeFrame used %d of %d bytes", used, len(pending))
			}
			for {
				m, ok := c.NextMessage()
				if !ok {
					break
				}
				if len(m.Data) > limit {
					t.Fatalf("message of %d bytes passed a limit of %d", len(m.Data), limit)
				}
				msgs = append(msgs, bytes.Clone(m.Data))
			}
			pending = pending[used:]
		}
	}
	return msgs, len(pending), nil
}
