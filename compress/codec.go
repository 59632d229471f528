package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/bufpool"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest window accepted in a zstd frame that is not
// single-segment (this package's encoder writes single-segment frames,
// whose window is their content size). A frame header asking for more is
// refused.
const zstdMaxWindow = 8 << 20

// zstdMaxMemory is the zstd decoder's own ceiling on one decode; the real
// limit is the frame's declared size (see decodeZstd). Frame bodies have a
// 32-bit length, so nothing legitimate exceeds it.
const zstdMaxMemory = 1 << 32

// codec holds what every connection of one Listener, Dialer or Conn shares:
// the resolved configuration, a buffer pool and the (pooled) compressors.
// It is safe for concurrent use.
type codec struct {
	cfg  resolved
	bufs bufpool.Pool

	zenc *zstd.Encoder // safe for concurrent EncodeAll; its encoders are pooled inside
	zdec *zstd.Decoder // safe for concurrent DecodeAll; its block decoders are pooled inside

	flateW freeList[*flateEncoder]
	flateR freeList[*flateDecoder]
}

// freeList keeps up to cap(c) idle compressors for reuse. Unlike a
// sync.Pool it does not drop them at every garbage collection, so a busy
// endpoint never rebuilds a deflate state (hundreds of KiB) per collection;
// beyond its capacity, extra ones are left to the collector.
type freeList[T any] struct {
	c   chan T
	new func() T
}

func newFreeList[T any](newT func() T) freeList[T] {
	return freeList[T]{c: make(chan T, 2*runtime.GOMAXPROCS(0)), new: newT}
}

func (f *freeList[T]) get() T {
	select {
	case v := <-f.c:
		return v
	default:
		return f.new()
	}
}

func (f *freeList[T]) put(v T) {
	select {
	case f.c <- v:
	default:
	}
}

func newCodec(c *Config) (*codec, error) {
	cfg, err := c.resolve()
	if err != nil {
		return nil, err
	}
	k := &codec{cfg: cfg}
	switch cfg.alg {
	case Zstd:
		level := [...]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBestCompression}[cfg.level]
		// A nil writer starts no goroutine: only EncodeAll is used.
		k.zenc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(level),
			zstd.WithWindowSize(zstdMaxWindow),
			zstd.WithEncoderCRC(false), // the transport checks integrity
			// Frames are decoded whole into a buffer of their content
			// size, which a single-segment frame always declares (without
			// it, contents under 256 bytes get no size field at all).
			zstd.WithSingleSegment(true),
		)
		if err != nil {
			return nil, fmt.Errorf("compress: zstd encoder: %w", err)
		}
		// A nil reader starts no goroutine: only DecodeAll is used.
		k.zdec, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0), // GOMAXPROCS block decoders
			zstd.WithDecoderLowmem(true),
			// The window of a single-segment frame is its content size,
			// already held to the frame's cap by decodeZstd; decodeZstd
			// also holds other frames to zstdMaxWindow.
			zstd.WithDecoderMaxWindow(zstdMaxMemory),
			zstd.WithDecoderMaxMemory(zstdMaxMemory),
			zstd.WithDecodeAllCapLimit(true), // never grow dst past its capacity
		)
		if err != nil {
			return nil, fmt.Errorf("compress: zstd decoder: %w", err)
		}
	case Deflate:
		level := [...]int{flate.BestSpeed, 5, flate.BestCompression}[cfg.level]
		k.flateW = newFreeList(func() *flateEncoder {
			e := &flateEncoder{}
			e.w, _ = flate.NewWriter(&e.out, level) // cannot fail: the level is valid
			return e
		})
		k.flateR = newFreeList(func() *flateDecoder {
			d := &flateDecoder{}
			d.r = flate.NewReader(&d.in)
			return d
		})
	}
	return k, nil
}

// frameCap is the largest frame content this end accepts from a session
// whose MaxPackageSize is max (see the frame format).
func (k *codec) frameCap(max int) int { return frameCap(max, k.cfg.batch) }

// maxCompressedLen bounds the compressed size of n bytes for every
// algorithm (S2's bound is the loosest).
func maxCompressedLen(n int) int {
	if m := s2.MaxEncodedLen(n); m > 0 {
		return m + 64
	}
	return n + n/6 + 64
}

// compress appends the compressed form of src to dst.
func (k *codec) compress(dst, src []byte) ([]byte, error) {
	switch k.cfg.alg {
	case S2, Snappy:
		need := s2.MaxEncodedLen(len(src))
		if need < 0 {
			return dst, fmt.Errorf("%w: %d bytes are too many for one S2 block", getty.ErrMessageTooLarge, len(src))
		}
		start := len(dst)
		dst = grow(dst, need)
		out := dst[start : start+need]
		var enc []byte
		switch {
		case k.cfg.alg == S2 && k.cfg.level == LevelFast:
			enc = s2.Encode(out, src)
		case k.cfg.alg == S2 && k.cfg.level == LevelBetter:
			enc = s2.EncodeBetter(out, src)
		case k.cfg.alg == S2:
			enc = s2.EncodeBest(out, src)
		case k.cfg.level == LevelFast:
			enc = s2.EncodeSnappy(out, src)
		case k.cfg.level == LevelBetter:
			enc = s2.EncodeSnappyBetter(out, src)
		default:
			enc = s2.EncodeSnappyBest(out, src)
		}
		return dst[:start+len(enc)], nil
	case Zstd:
		return k.zenc.EncodeAll(src, dst), nil
	case Deflate:
		e := k.flateW.get()
		defer k.flateW.put(e)
		e.out.b = dst
		e.w.Reset(&e.out)
		_, err := e.w.Write(src)
		if err == nil {
			err = e.w.Close()
		}
		dst, e.out.b = e.out.b, nil
		return dst, err
	}
	return dst, fmt.Errorf("%w: compress: algorithm %v", getty.ErrInvalidOptions, k.cfg.alg)
}

// decompress fills dst, whose length is the size the frame declares, with
// the decompressed src. It never writes more than len(dst) bytes into
// memory it allocates for the output: each algorithm is bounded before or
// while it decodes (see the guards below). max is the session's
// MaxPackageSize: an inner header claiming more than a frame may hold is a
// bomb (ErrMessageTooLarge); one that merely disagrees with the frame is
// ErrCorrupt.
func (k *codec) decompress(dst, src []byte, max int) error {
	limit := k.frameCap(max)
	switch k.cfg.alg {
	case S2, Snappy:
		return decodeS2(dst, src, limit)
	case Zstd:
		return k.decodeZstd(dst, src, limit)
	case Deflate:
		return k.decodeDeflate(dst, src)
	}
	return fmt.Errorf("%w: compress: algorithm %v", getty.ErrInvalidOptions, k.cfg.alg)
}

// decodeS2 guards S2 and Snappy blocks: the block header declares the
// decoded length (a 6-byte block can claim 4 GiB), and s2.Decode allocates
// that much when dst is too small. The declared length is checked against
// the cap and against the frame before anything is decoded.
func decodeS2(dst, src []byte, limit int) error {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return fmt.Errorf("%w: s2 block header: %w", ErrCorrupt, err)
	}
	if n > limit {
		return fmt.Errorf("%w: s2 block declares %d decompressed bytes, the limit is %d", getty.ErrMessageTooLarge, n, limit)
	}
	if n != len(dst) {
		return fmt.Errorf("%w: s2 block declares %d bytes, the frame %d", ErrCorrupt, n, len(dst))
	}
	out, err := s2.Decode(dst, src)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err) // s2.ErrCorrupt says "s2: ..."
	}
	if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
		return fmt.Errorf("%w: s2 decoded %d bytes outside the frame buffer", ErrCorrupt, len(out))
	}
	return nil
}

// decodeZstd guards zstd frames. DecodeAll trusts the frame header: without
// a content size it sizes its output from the input and grows it while
// decoding, and a window size far beyond the content makes it allocate
// history for it (a small frame without a size header can cost ~100 MiB).
// So the header must carry a content size equal to the frame's, a window
// within zstdMaxWindow and no dictionary; and DecodeAll runs with
// WithDecodeAllCapLimit into a dst whose capacity is exactly the declared
// size, so a lying block stops it after at most one block (128 KiB) more.
func (k *codec) decodeZstd(dst, src []byte, limit int) error {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return fmt.Errorf("%w: zstd frame header: %w", ErrCorrupt, err)
	}
	switch {
	case h.Skippable || !h.HasFCS:
		return fmt.Errorf("%w: zstd frame without a content size", ErrCorrupt)
	case h.FrameContentSize > uint64(limit):
		return fmt.Errorf("%w: zstd frame declares %d decompressed bytes, the limit is %d", getty.ErrMessageTooLarge, h.FrameContentSize, limit)
	case h.FrameContentSize != uint64(len(dst)):
		return fmt.Errorf("%w: zstd frame declares %d bytes, the frame %d", ErrCorrupt, h.FrameContentSize, len(dst))
	case !h.SingleSegment && h.WindowSize > zstdMaxWindow:
		return fmt.Errorf("%w: zstd window of %d bytes exceeds %d", ErrCorrupt, h.WindowSize, zstdMaxWindow)
	case h.DictionaryID != 0:
		return fmt.Errorf("%w: zstd frame needs dictionary %d", ErrCorrupt, h.DictionaryID)
	}
	out, err := k.zdec.DecodeAll(src, dst[:0:len(dst)])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrFrameSizeExceeded) {
			return fmt.Errorf("%w: zstd data inflates past the %d bytes its frame declares", ErrCorrupt, len(dst))
		}
		return fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
	}
	if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
		return fmt.Errorf("%w: zstd decoded %d of %d bytes", ErrCorrupt, len(out), len(dst))
	}
	return nil
}

// decodeDeflate guards deflate, which declares no size at all: the
// decompressor is read through a window exactly the declared size (a
// limited read), then asked for one byte more, which must not exist. A bomb
// is stopped after at most the declared size, which is at most the cap.
func (k *codec) decodeDeflate(dst, src []byte) error {
	d := k.flateR.get()
	defer k.flateR.put(d)
	d.in.Reset(src)
	if err := d.r.(flate.Resetter).Reset(&d.in, nil); err != nil {
		return fmt.Errorf("%w: deflate: %w", ErrCorrupt, err)
	}
	if _, err := io.ReadFull(d.r, dst); err != nil {
		return fmt.Errorf("%w: deflate: %w", ErrCorrupt, err)
	}
	if n, err := d.r.Read(d.one[:]); n != 0 || err != io.EOF {
		if n != 0 {
			return fmt.Errorf("%w: deflate data inflates past the %d bytes its frame declares", ErrCorrupt, len(dst))
		}
		return fmt.Errorf("%w: deflate: %w", ErrCorrupt, noEOF(err))
	}
	if d.in.Len() != 0 {
		return fmt.Errorf("%w: %d bytes after the end of the deflate stream", ErrCorrupt, d.in.Len())
	}
	return nil
}

func noEOF(err error) error {
	if err == nil {
		return io.ErrNoProgress
	}
	return err
}

// flateEncoder is a pooled deflate writer and the sink it appends to.
type flateEncoder struct {
	w   *flate.Writer
	out appendWriter
}

// flateDecoder is a pooled deflate reader and the source it reads.
type flateDecoder struct {
	r   io.ReadCloser // implements flate.Resetter
	in  bytes.Reader
	one [1]byte
}

// appendWriter appends everything written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// grow returns b with room for n more bytes beyond len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
