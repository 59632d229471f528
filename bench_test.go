package getty_test

import (
	"encoding/binary"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

// echoHandler writes every package back.
type echoHandler struct{ getty.NopHandler[[]byte] }

func (echoHandler) OnMessage(s *getty.Session[[]byte], p []byte) { s.Write(p) } //nolint:errcheck // benchmark

// BenchmarkEchoRoundTrip measures one 64-byte package to a getty echo
// server and back over TCP loopback (ping-pong), with allocations. The
// client is a bare net.Conn with preallocated buffers, so the allocations
// reported are the server's.
func BenchmarkEchoRoundTrip(b *testing.B) { benchEngines(b, benchEchoRoundTrip) }

func benchEchoRoundTrip(b *testing.B, engine getty.Engine) {
	for _, size := range []int{64, 4096} {
		b.Run(byteSize(size), func(b *testing.B) {
			env := tcpEnv(b)
			env.Engine = engine
			_, l := serve(b, env, echoHandler{}, nil)
			c := dialRaw(b, l)
			msg := frame(payload(1, size))
			in := make([]byte, len(msg))
			c.SetDeadline(time.Now().Add(time.Minute))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEchoPipelined keeps 16 packages in flight.
func BenchmarkEchoPipelined(b *testing.B) {
	benchEngines(b, func(b *testing.B, engine getty.Engine) {
		for _, size := range []int{64, 4096} {
			b.Run(byteSize(size), func(b *testing.B) { benchEchoPipelined(b, engine, size) })
		}
	})
}

func benchEchoPipelined(b *testing.B, engine getty.Engine, size int) {
	env := tcpEnv(b)
	env.Engine = engine
	_, l := serve(b, env, echoHandler{}, nil)
	c := dialRaw(b, l)
	const depth = 16
	msg := frame(payload(1, size))
	batch := make([]byte, 0, depth*len(msg))
	for range depth {
		batch = append(batch, msg...)
	}
	in := make([]byte, len(batch))
	c.SetDeadline(time.Now().Add(time.Minute))
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			b.Fatal(err)
		}
		if binary.BigEndian.Uint32(in) != uint32(size) {
			b.Fatal("bad frame")
		}
	}
}

// benchEngines runs a benchmark on each engine.
func benchEngines(b *testing.B, bench func(b *testing.B, engine getty.Engine)) {
	b.Run("goroutine", func(b *testing.B) { bench(b, getty.EngineGoroutine) })
	if runtime.GOOS == "linux" {
		b.Run("eventloop", func(b *testing.B) { bench(b, getty.EngineEventLoop) })
	}
}

func byteSize(n int) string {
	if n >= 1024 {
		return string(rune('0'+n/1024)) + "KiB"
	}
	return "64B"
}
