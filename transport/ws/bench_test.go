package ws

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

// loopConn serves the same bytes again and again to ReadMessage, and
// discards writes: framing cost without the kernel.
type loopConn struct {
	data []byte
	off  int
}

func (l *loopConn) Read(b []byte) (int, error) {
	n := copy(b, l.data[l.off:])
	l.off += n
	if l.off == len(l.data) {
		l.off = 0
	}
	return n, nil
}
func (l *loopConn) Write(b []byte) (int, error)      { return len(b), nil }
func (l *loopConn) Close() error                     { return nil }
func (l *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (l *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (l *loopConn) SetDeadline(time.Time) error      { return nil }
func (l *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (l *loopConn) SetWriteDeadline(time.Time) error { return nil }

// clientFrames returns n masked client frames of msg, as a client sends them.
func clientFrames(msg []byte, kind getty.MessageKind, n int, deflate bool) []byte {
	var out bytes.Buffer
	cc := newConn(&loopConn{}, true, 0, nil)
	cc.deflate.on = deflate
	cc.comp, _ = Compression{Enabled: deflate, Threshold: -1}.withDefaults()
	cc.nc = &writerConn{w: &out}
	for range n {
		cc.WriteMessages([]getty.Message{{Kind: kind, Data: msg}})
	}
	return out.Bytes()
}

type writerConn struct {
	loopConn
	w io.Writer
}

func (w *writerConn) Write(b []byte) (int, error) { return w.w.Write(b) }

func jsonText(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"hello from the benchmark","ok":true},`, i, i%17)
	}
	return []byte(b.String()[:n])
}

func BenchmarkReadMessage(b *testing.B) {
	for _, tc := range []struct {
		name    string
		size    int
		deflate bool
	}{{"64B", 64, false}, {"4KiB", 4096, false}, {"4KiB-JSON-deflate", 4096, true}} {
		b.Run(tc.name, func(b *testing.B) {
			msg := jsonText(tc.size)
			c := newConn(&loopConn{data: clientFrames(msg, getty.Text, 64, tc.deflate)}, false, 0, nil)
			c.deflate.on = tc.deflate
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				m, err := c.ReadMessage(1 << 20)
				if err != nil || len(m.Data) != tc.size {
					b.Fatal(err, len(m.Data))
				}
			}
		})
	}
}

func BenchmarkWriteMessages(b *testing.B) {
	for _, tc := range []struct {
		name    string
		size    int
		batch   int
		deflate bool
	}{{"64B", 64, 1, false}, {"64Bx16", 64, 16, false}, {"4KiB", 4096, 1, false}, {"4KiB-JSON-deflate", 4096, 1, true}} {
		b.Run(tc.name, func(b *testing.B) {
			msg := jsonText(tc.size)
			c := newConn(&loopConn{}, false, 0, nil)
			c.deflate.on = tc.deflate
			c.comp, _ = Compression{Enabled: tc.deflate}.withDefaults()
			ms := make([]getty.Message, tc.batch)
			for i := range ms {
				ms[i] = getty.Message{Kind: getty.Text, Data: msg}
			}
			b.SetBytes(int64(tc.size * tc.batch))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessages(ms); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
