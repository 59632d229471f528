package taskpool_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/taskpool"
	"github.com/gettynet/getty/transport/tcp"
)

// BenchmarkServerEcho pipelines small packages through one TCP session and
// an echo handler, inline and through an Ordered pool: allocs/op shows what
// the pooled path costs per package (the codec's Detach copy included).
func BenchmarkServerEcho(b *testing.B) {
	for _, pooled := range []bool{false, true} {
		name := "inline"
		if pooled {
			name = "pooled"
		}
		b.Run(name, func(b *testing.B) {
			var o getty.Options
			if pooled {
				pool, err := taskpool.New(&taskpool.Options{Workers: 2})
				if err != nil {
					b.Fatal(err)
				}
				defer pool.Close(context.Background())
				o.TaskPool = pool
			}
			h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], pkg []byte) { s.Write(pkg) }}
			srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &getty.ServerOptions{Options: o})
			if err != nil {
				b.Fatal(err)
			}
			l, err := tcp.Listen("127.0.0.1:0", nil)
			if err != nil {
				b.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			defer func() {
				srv.Close()
				if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
					b.Error(err)
				}
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			const size = 32
			const batch = 256
			chunk := make([]byte, 0, batch*(4+size))
			for i := range batch {
				chunk = append(chunk, frame(uint32(i), size)...)
			}
			b.ReportAllocs()
			b.SetBytes(4 + size)
			b.ResetTimer()
			werr := make(chan error, 1)
			go func() {
				for sent := 0; sent < b.N; sent += batch {
					if _, err := c.Write(chunk[:min(batch, b.N-sent)*(4+size)]); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}()
			buf := make([]byte, 64<<10)
			for want := b.N * (4 + size); want > 0; {
				n, err := io.ReadAtLeast(c, buf[:min(len(buf), want)], 1)
				if err != nil {
					b.Fatal(err)
				}
				want -= n
			}
			if err := <-werr; err != nil {
				b.Fatal(err)
			}
		})
	}
}
