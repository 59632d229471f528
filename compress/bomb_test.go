package compress_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

const gib = 1 << 30

// rawFrame builds a frame by hand: flags (marker, compressed bit,
// algorithm id), 32-bit body length, body.
func rawFrame(alg compress.Algorithm, compressed bool, body []byte) []byte {
	f := byte(0xA0) | byte(alg)
	if compressed {
		f |= 0x10
	}
	b := []byte{f, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)))
	return append(b, body...)
}

// compressedBody is a compressed frame's body: the declared content size,
// then the algorithm's data.
func compressedBody(declared uint64, data []byte) []byte {
	return append(binary.AppendUvarint(nil, declared), data...)
}

// s2Bomb is an S2 block of zeros whose header declares claim bytes and
// whose copy operations produce n: one literal, one copy, then repeat
// operations of up to 16 MiB at 5 bytes each (1 GiB in about 330 bytes).
func s2Bomb(claim, n int) []byte {
	b := binary.AppendUvarint(nil, uint64(claim))
	b = append(b, 0x00, 0x00) // literal of length 1: a zero
	b = append(b, 0x01, 0x01) // copy1: length 4, offset 1
	left := n - 5
	for left > 0 {
		l := min(left, 1<<24-1+1<<16)
		if l < 8 { // the short forms are not needed for this test
			l = 8
		}
		b = appendRepeat(b, l)
		left -= l
	}
	return b
}

// appendRepeat appends an S2 repeat operation (copy1 with offset 0) of
// length l, 8 <= l < 1<<24 + 1<<16.
func appendRepeat(b []byte, l int) []byte {
	l -= 4
	switch {
	case l < 1<<8+4:
		return append(b, 5<<2|1, 0, byte(l-4))
	case l < 1<<16+1<<8:
		l -= 1 << 8
		return append(b, 6<<2|1, 0, byte(l), byte(l>>8))
	default:
		l -= 1 << 16
		return append(b, 7<<2|1, 0, byte(l), byte(l>>8), byte(l>>16))
	}
}

// zstdBomb is a zstd frame of RLE blocks producing n zero bytes (128 KiB
// per 4-byte block: 1 GiB in 32 KiB, the most the format allows). fcs is
// the declared content size, or nil for a frame without one.
func zstdBomb(fcs *uint64, n int) []byte {
	b := []byte{0x28, 0xB5, 0x2F, 0xFD} // magic
	if fcs != nil {
		b = append(b, 0x80, 13<<3) // FCS field of 4 bytes; window 8 MiB
		b = binary.LittleEndian.AppendUint32(b, uint32(*fcs))
	} else {
		b = append(b, 0x00, 13<<3) // no FCS; window 8 MiB
	}
	const block = 128 << 10
	for n > 0 {
		size := min(n, block)
		n -= size
		h := uint32(size)<<3 | 1<<1 // RLE
		if n == 0 {
			h |= 1 // last block
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0x00)
	}
	return b
}

// deflateBomb is a deflate stream producing n zero bytes (a multiple of 1
// MiB): the compressed form of the first MiB, then the (identical)
// compressed form of each following MiB, then an empty final block. Deflate
// cannot beat about 1:1000, so 1 GiB takes about 1 MiB.
func deflateBomb(t testing.TB, n int) []byte {
	p, err := deflatePieces()
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), p.first...)
	for range n/(1<<20) - 1 {
		out = append(out, p.next...)
	}
	return append(out, p.final...)
}

// deflatePieces compresses zeros once per test binary.
var deflatePieces = sync.OnceValues(func() (p struct{ first, next, final []byte }, err error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return p, err
	}
	zeros := make([]byte, 1<<20)
	piece := func() []byte {
		buf.Reset()
		w.Write(zeros) //nolint:errcheck // writes to a bytes.Buffer
		w.Flush()      //nolint:errcheck // ditto
		return bytes.Clone(buf.Bytes())
	}
	p.first, p.next = piece(), piece()
	if third := piece(); !bytes.Equal(p.next, third) {
		return p, errors.New("deflate chunks differ: the bomb construction does not hold")
	}
	buf.Reset()
	w.Close() //nolint:errcheck // writes to a bytes.Buffer
	p.final = bytes.Clone(buf.Bytes())
	return p, nil
})

// TestBombConstructions checks, at 8 MiB, that the bomb builders produce
// what they claim, so that the 1 GiB versions below are real bombs.
func TestBombConstructions(t *testing.T) {
	t.Parallel()
	const n = 8 << 20
	zeros := make([]byte, n)
	if out, err := s2.Decode(nil, s2Bomb(n, n)); err != nil || !bytes.Equal(out, zeros) {
		t.Errorf("s2 bomb: %d bytes, %v", len(out), err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	fcs := uint64(n)
	for _, b := range [][]byte{zstdBomb(&fcs, n), zstdBomb(nil, n)} {
		if out, err := dec.DecodeAll(b, nil); err != nil || !bytes.Equal(out, zeros) {
			t.Errorf("zstd bomb: %d bytes, %v", len(out), err)
		}
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflateBomb(t, n))))
	if err != nil || !bytes.Equal(out, zeros) {
		t.Errorf("deflate bomb: %d bytes, %v", len(out), err)
	}
	t.Logf("sizes for 1 GiB: s2 %d B, zstd %d B, deflate %d B", len(s2Bomb(gib, gib)), len(zstdBomb(&fcs, gib)), len(deflateBomb(t, gib)))
}

// TestDecompressionBombs feeds each algorithm's bombs (inflating to 1 GiB)
// to a reader with a 2 MiB cap. Each is rejected, with ErrMessageTooLarge
// when a header declares more than the cap and ErrCorrupt when the data
// inflates past what its headers declare; the bytes allocated while
// rejecting it stay near the cap, and so does the peak heap, sampled while
// the reader works on the bomb.
//
// Not parallel: allocation counts and the heap are process-wide.
func TestDecompressionBombs(t *testing.T) {
	const max = bombMax
	for _, tc := range bombCases(t) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		heap := testutil.SampleHeap(t)
		start := time.Now()
		msgs, err := readAll(t, &compress.Config{Algorithm: tc.alg}, tc.wire, max)
		took := time.Since(start)
		peak := heap.Done()
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%-30s %7d wire bytes, inflates to %d x the cap: %v; allocated %d KiB, peak heap +%d KiB (%.2f x the cap) in %v",
			tc.name, len(tc.wire), tc.expands()/max, err, alloc>>10, peak>>10, float64(peak)/max, took)
		if len(msgs) != 0 || !errors.Is(err, tc.want) {
			t.Errorf("%s: %d messages, error %v; want %v", tc.name, len(msgs), err, tc.want)
		}
		// The buffered reader, one frame body (at most the cap) and one
		// content buffer (at most the cap), plus decoder state.
		if limit := uint64(len(tc.wire)) + 2*max + 1<<20; alloc > limit {
			t.Errorf("%s: allocated %d bytes rejecting the bomb, limit %d", tc.name, alloc, limit)
		}
		if limit := uint64(len(tc.wire)) + 4*max + 1<<20; peak > limit {
			t.Errorf("%s: peak heap grew %d bytes rejecting the bomb, limit %d", tc.name, peak, limit)
		}
	}
}

// TestDecompressionBombsOnSessions sends each bomb of
// TestDecompressionBombs from a raw socket to a compressed server with a
// 2 MiB MaxPackageSize, on each engine: the session ends with the same
// error, and the peak heap of the process while the server takes the bomb
// in and rejects it stays within the bound of the reader test (on the
// event loop, the frame waits in the session's pooled tail buffer instead
// of the reader's body buffer).
//
// Not parallel: the heap is process-wide.
func TestDecompressionBombsOnSessions(t *testing.T) {
	const max = bombMax
	cases := bombCases(t)
	for _, n := range engines(netTCP) {
		t.Run(n.engine().String(), func(t *testing.T) {
			for _, tc := range cases {
				log := newCloseLog()
				d := serve(t, n, &compress.Config{Algorithm: tc.alg}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: max}}, log.handler())
				c := rawDial(t, d)
				heap := testutil.SampleHeap(t)
				start := time.Now()
				go func() {
					c.Write(tc.wire) //nolint:errcheck // the server may refuse the frame by its header and close first
				}()
				var cause error
				select {
				case id := <-log.events:
					log.mu.Lock()
					cause = log.causes[id]
					log.mu.Unlock()
				case <-time.After(30 * time.Second):
					t.Fatalf("%s: the bomb did not end the session", tc.name)
				}
				took := time.Since(start)
				peak := heap.Done()
				c.Close()
				t.Logf("%-30s %7d wire bytes: %v; peak heap +%d KiB (%.2f x the cap) in %v",
					tc.name, len(tc.wire), cause, peak>>10, float64(peak)/max, took)
				if !errors.Is(cause, tc.want) {
					t.Errorf("%s: session ended with %v, want %v", tc.name, cause, tc.want)
				}
				if limit := uint64(len(tc.wire)) + 4*max + 1<<20; peak > limit {
					t.Errorf("%s: peak heap grew %d bytes rejecting the bomb, limit %d", tc.name, peak, limit)
				}
			}
		})
	}
}

// bombMax is the cap (MaxPackageSize) of the bomb tests.
const bombMax = 2 << 20

type bombCase struct {
	name string
	alg  compress.Algorithm
	wire []byte
	want error
}

// expands is how much the bomb inflates to: 1 GiB for all but the 6-byte
// one, which only claims 4 GiB.
func (b bombCase) expands() uint64 {
	if len(b.wire) < 100 {
		return 4 * gib
	}
	return gib
}

// bombCases are bombs inflating to 1 GiB (or claiming 4 GiB) for a cap of
// bombMax, and the error each is refused with.
func bombCases(t *testing.T) []bombCase {
	const max = bombMax
	honest := uint64(gib)
	lying := uint64(64 << 10)
	return []bombCase{
		{"s2/frame declares 1 GiB", compress.S2, rawFrame(compress.S2, true, compressedBody(honest, s2Bomb(gib, gib))), getty.ErrMessageTooLarge},
		{"s2/block declares 1 GiB", compress.S2, rawFrame(compress.S2, true, compressedBody(lying, s2Bomb(gib, gib))), getty.ErrMessageTooLarge},
		{"s2/block lies", compress.S2, rawFrame(compress.S2, true, compressedBody(lying, s2Bomb(int(lying), gib))), compress.ErrCorrupt},
		{"snappy/6 bytes claim 4 GiB", compress.Snappy, rawFrame(compress.Snappy, true, compressedBody(lying, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00})), getty.ErrMessageTooLarge},
		{"snappy/frame declares 1 GiB", compress.Snappy, rawFrame(compress.Snappy, true, compressedBody(honest, s2Bomb(gib, gib))), getty.ErrMessageTooLarge},
		{"zstd/frame declares 1 GiB", compress.Zstd, rawFrame(compress.Zstd, true, compressedBody(honest, zstdBomb(&honest, gib))), getty.ErrMessageTooLarge},
		{"zstd/content size 1 GiB", compress.Zstd, rawFrame(compress.Zstd, true, compressedBody(lying, zstdBomb(&honest, gib))), getty.ErrMessageTooLarge},
		{"zstd/no content size", compress.Zstd, rawFrame(compress.Zstd, true, compressedBody(lying, zstdBomb(nil, gib))), compress.ErrCorrupt},
		{"zstd/content size lies", compress.Zstd, rawFrame(compress.Zstd, true, compressedBody(lying, zstdBomb(&lying, gib))), compress.ErrCorrupt},
		{"deflate/frame declares 1 GiB", compress.Deflate, rawFrame(compress.Deflate, true, compressedBody(honest, deflateBomb(t, gib))), getty.ErrMessageTooLarge},
		{"deflate/frame lies", compress.Deflate, rawFrame(compress.Deflate, true, compressedBody(max, deflateBomb(t, gib))), compress.ErrCorrupt},
	}
}

// TestBombEndsSession sends a bomb to a compressed getty server from a raw
// socket: the session ends with ErrMessageTooLarge, and the server goes on
// serving others.
func TestBombEndsSession(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			t.Run(alg.String()+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel()
				testBombEndsSession(t, n, alg)
			})
		}
	}
}

func testBombEndsSession(t *testing.T, n network, alg compress.Algorithm) {
	log := newCloseLog()
	d := serve(t, n, &compress.Config{Algorithm: alg}, nil, log.handler())
	size := uint64(gib)
	var data []byte
	switch alg {
	case compress.S2, compress.Snappy:
		data = s2Bomb(gib, gib)
	case compress.Zstd:
		data = zstdBomb(&size, gib)
	case compress.Deflate:
		data = deflateBomb(t, 64<<20)
	}
	c := rawDial(t, d)
	if _, err := c.Write(rawFrame(alg, true, compressedBody(size, data))); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-log.events:
		log.mu.Lock()
		cause := log.causes[id]
		log.mu.Unlock()
		if !errors.Is(cause, getty.ErrMessageTooLarge) {
			t.Fatalf("session ended with %v, want ErrMessageTooLarge", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bomb did not end the session")
	}
	// The server still serves.
	col := newCollector(1)
	cl := dial(t, d, &compress.Config{Algorithm: alg}, nil, col.handler())
	s, err := cl.Session()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if got := col.next(t); string(got) != "after" {
		t.Fatalf("echo %q", got)
	}
}
