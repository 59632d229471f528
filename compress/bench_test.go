package compress_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/transport/tcp"
)

// benchAlgs are the compared configurations; 0 means no compression (the
// plain stream transport).
var benchAlgs = []compress.Algorithm{0, compress.S2, compress.Snappy, compress.Zstd, compress.Deflate}

func benchName(a compress.Algorithm) string {
	if a == 0 {
		return "none"
	}
	return a.String()
}

// benchPayloads returns 64 distinct packages of size bytes.
func benchPayloads(size int, compressible bool) [][]byte {
	ps := make([][]byte, 64)
	for i := range ps {
		ps[i] = payload(size, compressible, uint64(i+1))
	}
	return ps
}

func rusageCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSession streams 1 KiB packages from a getty client to a getty
// server over TCP loopback, with each algorithm and without compression,
// on JSON-like text and on random bytes. MB/s counts payload bytes;
// cpu-ms/MB is the process CPU time (both ends: encode, compress, write,
// read, decompress, decode) per MB of payload; wire/raw is the wire bytes
// per payload byte.
func BenchmarkSession(b *testing.B) {
	const size = 1 << 10
	for _, kind := range []string{"json", "random"} {
		ps := benchPayloads(size, kind == "json")
		for _, alg := range benchAlgs {
			b.Run(kind+"/"+benchName(alg), func(b *testing.B) {
				benchSession(b, alg, ps, getty.EngineGoroutine)
			})
		}
	}
}

// BenchmarkSessionEventLoop is BenchmarkSession on JSON-like text with the
// server and the client on getty.EngineEventLoop (Linux).
func BenchmarkSessionEventLoop(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("the event-loop engine runs on Linux")
	}
	ps := benchPayloads(1<<10, true)
	for _, alg := range benchAlgs {
		b.Run("json/"+benchName(alg), func(b *testing.B) {
			benchSession(b, alg, ps, getty.EngineEventLoop)
		})
	}
}

func benchSession(b *testing.B, alg compress.Algorithm, ps [][]byte, engine getty.Engine) {
	var cfg *compress.Config
	if alg != 0 {
		cfg = &compress.Config{Algorithm: alg}
	}
	got := make(chan int, 1)
	var total, want int
	srvH := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) {
			total += len(p)
			if total == want {
				got <- total
			}
		},
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	var gl getty.Listener = l
	var d getty.Dialer = tcp.Dialer{Addr: l.Addr().String()}
	if cfg != nil {
		if gl, err = compress.NewListener(l, cfg); err != nil {
			b.Fatal(err)
		}
		if d, err = compress.NewDialer(d, cfg); err != nil {
			b.Fatal(err)
		}
	}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, srvH, &getty.ServerOptions{Options: getty.Options{Engine: engine}})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(gl) //nolint:errcheck // ends with ErrServerClosed
	defer srv.Close()
	c, err := getty.Dial[[]byte](context.Background(), d, lengthfield.Codec{}, getty.NopHandler[[]byte]{},
		&getty.ClientOptions{Options: getty.Options{BlockOnBacklog: true, Engine: engine}, NoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.Session()
	if err != nil {
		b.Fatal(err)
	}
	want = b.N * len(ps[0]) // written before the first package, read after
	b.SetBytes(int64(len(ps[0])))
	b.ReportAllocs()
	cpu0 := rusageCPU(b)
	b.ResetTimer()
	for i := range b.N {
		if err := s.Write(ps[i%len(ps)]); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(time.Minute):
		b.Fatal("the server did not receive everything")
	}
	b.StopTimer()
	mb := float64(want) / 1e6
	b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(time.Millisecond)/mb, "cpu-ms/MB")
	if cc, ok := s.Conn().(*compress.Conn); ok {
		st := cc.Stats()
		b.ReportMetric(float64(st.WireOut)/float64(want), "wire/raw")
	} else {
		b.ReportMetric(float64(s.Stats().BytesOut)/float64(want), "wire/raw")
	}
}

// BenchmarkCodec measures one algorithm alone, in memory: 1 KiB messages,
// one frame each (as the per-frame figures), compressed then
// decompressed. MB/s counts payload bytes through both; cpu-ms/MB is the
// CPU time per MB (steadier than MB/s on a shared machine).
func BenchmarkCodec(b *testing.B) {
	for _, kind := range []string{"json", "random"} {
		ps := benchPayloads(1<<10, kind == "json")
		for _, alg := range compress.Algorithms() {
			b.Run(kind+"/"+alg.String(), func(b *testing.B) {
				cfg := &compress.Config{Algorithm: alg, BatchSize: -1, Threshold: -1}
				fc := &fakeConn{}
				w, err := compress.NewConn(fc, cfg)
				if err != nil {
					b.Fatal(err)
				}
				rd := &loopReader{}
				r, err := compress.NewConn(&fakeConn{r: rd}, cfg)
				if err != nil {
					b.Fatal(err)
				}
				ms := make([]getty.Message, 1)
				b.SetBytes(int64(len(ps[0])))
				b.ReportAllocs()
				cpu0 := rusageCPU(b)
				b.ResetTimer()
				for i := range b.N {
					fc.w.Reset()
					ms[0].Data = ps[i%len(ps)]
					if err := w.WriteMessages(ms); err != nil {
						b.Fatal(err)
					}
					rd.b = fc.w.Bytes()
					if _, err := r.ReadMessage(1 << 20); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				mb := float64(b.N*len(ps[0])) / 1e6
				b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(time.Millisecond)/mb, "cpu-ms/MB")
				st := w.Stats()
				b.ReportMetric(float64(st.WireOut)/float64(b.N*len(ps[0])), "wire/raw")
			})
		}
	}
}

// loopReader serves b once per fill.
type loopReader struct{ b []byte }

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
