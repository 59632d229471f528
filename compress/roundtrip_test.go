package compress_test

import (
	"bytes"
	"net"
	"runtime"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/compress"
)

var roundTripSizes = []int{0, 1, 100, 255, 256, 1000, 4 << 10, 64<<10 - 7, 64 << 10, 64<<10 + 1, 1 << 20, 4 << 20}

// TestRoundTrip sends random and compressible packages of 0 B to 4 MiB
// through a getty client and an echo server over TCP loopback, for every
// algorithm, on every write path and both engines, and checks what comes
// back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			t.Run(alg.String()+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel()
				roundTrip(t, n, &compress.Config{Algorithm: alg}, roundTripSizes)
			})
		}
	}
}

// TestRoundTripTransports runs the round trip over TLS, IPv6 and Unix
// stream sockets, and with the level, threshold and batching options varied.
func TestRoundTripTransports(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 300, 70 << 10, 1 << 20}
	cases := []struct {
		name  string
		n     network
		cfg   compress.Config
		sizes []int // default: sizes
	}{
		{"tls/s2", netTLS, compress.Config{}, nil},
		{"tcp6/s2", network("tcp6"), compress.Config{}, nil},
		{"tls/zstd", netTLS, compress.Config{Algorithm: compress.Zstd}, nil},
		{"unix/deflate", netUnix, compress.Config{Algorithm: compress.Deflate}, nil},
		{"unix/snappy", netUnix, compress.Config{Algorithm: compress.Snappy}, nil},
		{"tcp6/eventloop/s2", network("tcp6/eventloop"), compress.Config{}, nil},
		{"unix/eventloop/deflate", network("unix/eventloop"), compress.Config{Algorithm: compress.Deflate}, nil},
		{"unix/eventloop/zstd", network("unix/eventloop"), compress.Config{Algorithm: compress.Zstd}, nil},
		{"tcp/s2-best", netTCP, compress.Config{Level: compress.LevelBest}, []int{0, 300, 70 << 10}},
		{"tcp/zstd-better-nobatch", netTCP, compress.Config{Algorithm: compress.Zstd, Level: compress.LevelBetter, BatchSize: -1}, nil},
		{"tcp/deflate-best-nothreshold", netTCP, compress.Config{Algorithm: compress.Deflate, Level: compress.LevelBest, Threshold: -1}, []int{0, 1, 300, 70 << 10}},
		{"tcp/snappy-better-smallbatch", netTCP, compress.Config{Algorithm: compress.Snappy, Level: compress.LevelBetter, BatchSize: 512}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.n.engine() == getty.EngineEventLoop && len(engines(netTCP)) == 1 {
				t.Skip("no event-loop engine on " + runtime.GOOS)
			}
			sz := tc.sizes
			if sz == nil {
				sz = sizes
			}
			roundTrip(t, tc.n, &tc.cfg, sz)
		})
	}
}

func roundTrip(t *testing.T, n network, cfg *compress.Config, sizes []int) {
	d := serve(t, n, cfg, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: maxPkg}}, echo())
	col := newCollector(64)
	c := dial(t, d, cfg, &getty.ClientOptions{Options: getty.Options{MaxPackageSize: maxPkg}}, col.handler())
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	if inner := s.Conn().(*compress.Conn).NetConn(); n.engine() == getty.EngineEventLoop && isNetConn(inner) {
		t.Fatalf("%s: the session runs over %T", n, inner)
	}
	paths := []struct {
		name  string
		write func(p []byte) error
	}{
		{"Write", func(p []byte) error { return s.Write(p) }},
		{"WriteBytes", func(p []byte) error { return s.WriteBytes(pkgFrame(p)) }},
		{"WriteBuffers", func(p []byte) error {
			f := pkgFrame(p)
			h := lengthfield.HeaderLen + len(p)/2
			return s.WriteBuffers([][]byte{f[:lengthfield.HeaderLen], f[lengthfield.HeaderLen:h], f[h:]})
		}},
	}
	seed, big := uint64(0), 0
	for _, size := range sizes {
		for _, compressible := range []bool{false, true} {
			if size >= 1<<20 {
				big++
			}
			for pi, path := range paths {
				seed++
				// Packages of 1 MiB and more take one path each, in turn:
				// under the race detector they cost seconds apiece.
				if size >= 1<<20 && pi != big%len(paths) {
					continue
				}
				p := payload(size, compressible, seed)
				if err := path.write(p); err != nil {
					t.Fatalf("%s of %d bytes: %v", path.name, size, err)
				}
				if got := col.next(t); !bytes.Equal(got, p) {
					t.Fatalf("%s of %d bytes (compressible %t): echo differs (got %d bytes)", path.name, size, compressible, len(got))
				}
			}
		}
	}
	// A burst of small packages leaves in batches; order and content hold.
	var want [][]byte
	for i := range 200 {
		p := payload(40+i, true, uint64(1000+i))
		want = append(want, p)
		if err := s.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range want {
		if got := col.next(t); !bytes.Equal(got, p) {
			t.Fatalf("burst package %d differs", i)
		}
	}
	if st := s.Conn().(*compress.Conn).Stats(); st.FramesOut == 0 || st.FramesIn == 0 || st.WireOut == 0 {
		t.Fatalf("stats not counted: %+v", st)
	}
}

// isNetConn reports whether c is a socket of package net (the event-loop
// engine replaces it with its own).
func isNetConn(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// TestCompressionShrinksTheWire checks that compressible data really goes
// compressed and random data really goes raw (no growth past the headers).
func TestCompressionShrinksTheWire(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			forEngines(t, netTCP, func(t *testing.T, n network) {
				testShrinks(t, n, alg)
			})
		})
	}
}

func testShrinks(t *testing.T, n network, alg compress.Algorithm) {
	for _, compressible := range []bool{true, false} {
		d := serve(t, n, &compress.Config{Algorithm: alg}, nil, echo())
		col := newCollector(4)
		c := dial(t, d, &compress.Config{Algorithm: alg}, nil, col.handler())
		s, err := c.Session()
		if err != nil {
			t.Fatal(err)
		}
		p := payload(256<<10, compressible, 99)
		if err := s.Write(p); err != nil {
			t.Fatal(err)
		}
		if got := col.next(t); !bytes.Equal(got, p) {
			t.Fatal("echo differs")
		}
		st := s.Conn().(*compress.Conn).Stats()
		ratio := float64(st.RawOut) / float64(st.WireOut)
		t.Logf("%v compressible=%t: raw %d wire %d ratio %.2f", alg, compressible, st.RawOut, st.WireOut, ratio)
		if compressible && ratio < 1.5 {
			t.Errorf("compressible data: ratio %.2f, want >= 1.5", ratio)
		}
		if !compressible && st.WireOut > st.RawOut+uint64(5*st.FramesOut) {
			t.Errorf("random data grew on the wire: %d > %d + headers", st.WireOut, st.RawOut)
		}
		c.Close() //nolint:errcheck // closing the client of this round
	}
}

// TestRepliesToOneFrameLeaveInOneFrame: a frame carrying 50 requests makes
// the echo server answer with one frame (Conn.Buffered keeps the session's
// writes corked until the frame's last message is dispatched; the event
// loop corks them while it dispatches the frames of one read).
func TestRepliesToOneFrameLeaveInOneFrame(t *testing.T) {
	t.Parallel()
	forEngines(t, netTCP, testRepliesInOneFrame)
}

func testRepliesInOneFrame(t *testing.T, n network) {
	cfg := &compress.Config{}
	d := serve(t, n, cfg, nil, echo())
	var reqs [][]byte
	for i := range 50 {
		reqs = append(reqs, pkgFrame(payload(100+i, true, uint64(i))))
	}
	nc := rawDial(t, d)
	if _, err := nc.Write(frames(t, cfg, reqs...)); err != nil {
		t.Fatal(err)
	}
	c, err := compress.NewConn(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range reqs {
		m, err := c.ReadMessage(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Data, want) {
			t.Fatalf("reply %d differs", i)
		}
	}
	if st := c.Stats(); st.FramesIn != 1 {
		t.Fatalf("50 replies came in %d frames, want 1", st.FramesIn)
	}
}

// TestSmallMaxPackageSizeAcceptsBatches: with MaxPackageSize (2 KiB) below
// the batch size (64 KiB), ends configured alike still exchange batched
// frames of many small packages.
func TestSmallMaxPackageSizeAcceptsBatches(t *testing.T) {
	t.Parallel()
	forEngines(t, netTCP, testSmallMaxPackageSize)
}

func testSmallMaxPackageSize(t *testing.T, n network) {
	opts := getty.Options{MaxPackageSize: 2 << 10}
	cfg := &compress.Config{}
	d := serve(t, n, cfg, &getty.ServerOptions{Options: opts}, echo())
	col := newCollector(200)
	c := dial(t, d, cfg, &getty.ClientOptions{Options: opts}, col.handler())
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	bufs := make([][]byte, 0, 100)
	for i := range 100 {
		p := payload(1000, true, uint64(i))
		want = append(want, p)
		bufs = append(bufs, pkgFrame(p))
	}
	// One WriteBuffers: 50 packages in one message of about 50 KiB.
	if err := s.WriteBuffers(bufs[:50]); err != nil {
		t.Fatal(err)
	}
	for _, p := range want[50:] {
		if err := s.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range want {
		if got := col.next(t); !bytes.Equal(got, p) {
			t.Fatalf("package %d differs", i)
		}
	}
}
