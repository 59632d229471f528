package compress

import (
	"fmt"
	"strings"

	"github.com/gettynet/getty"
)

// Algorithm names a compression algorithm. Both ends of a connection must
// use the same one: its id travels in every frame, and a frame carrying
// another id ends the session with ErrAlgorithmMismatch.
type Algorithm uint8

// The algorithms. The zero value means the default, S2.
const (
	// S2 is klauspost's extension of Snappy: the fastest here by far and
	// stateless (no per-connection or per-call compressor memory), with a
	// modest ratio. The default.
	S2 Algorithm = iota + 1
	// Snappy is S2's Snappy-compatible block format: a little slower and
	// larger than S2; choose it when a Snappy decoder elsewhere must read
	// the payloads.
	Snappy
	// Zstd is Zstandard: the best ratio, several times slower than S2 to
	// compress and to decompress.
	Zstd
	// Deflate is RFC 1951 deflate (klauspost's implementation): a ratio
	// between S2 and zstd, slow to decompress. For compatibility with
	// deflate-only peers of the payloads.
	Deflate
)

// DefaultAlgorithm is used when Config.Algorithm is zero.
const DefaultAlgorithm = S2

// Algorithms lists every algorithm, in id order.
func Algorithms() []Algorithm { return []Algorithm{S2, Snappy, Zstd, Deflate} }

func (a Algorithm) String() string {
	switch a {
	case 0:
		return "default"
	case S2:
		return "s2"
	case Snappy:
		return "snappy"
	case Zstd:
		return "zstd"
	case Deflate:
		return "deflate"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// ParseAlgorithm returns the algorithm called name ("s2", "snappy", "zstd",
// "deflate"; case-insensitive).
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range Algorithms() {
		if strings.EqualFold(name, a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: compress: unknown algorithm %q (have s2|snappy|zstd|deflate)", getty.ErrInvalidOptions, name)
}

// Level trades speed for ratio. The zero value, LevelFast, favours speed.
//
// How each level maps onto each algorithm:
//
//	level        s2 / snappy      zstd                    deflate
//	LevelFast    Encode           SpeedFastest            level 1
//	LevelBetter  EncodeBetter     SpeedDefault            level 5
//	LevelBest    EncodeBest       SpeedBestCompression    level 9
//
// The level only affects the sender; any level decodes with the same
// decoder.
type Level uint8

// Levels.
const (
	LevelFast Level = iota
	LevelBetter
	LevelBest
)

func (l Level) String() string {
	switch l {
	case LevelFast:
		return "fast"
	case LevelBetter:
		return "better"
	case LevelBest:
		return "best"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel returns the level called name ("fast", "better", "best").
func ParseLevel(name string) (Level, error) {
	for _, l := range []Level{LevelFast, LevelBetter, LevelBest} {
		if strings.EqualFold(name, l.String()) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w: compress: unknown level %q (have fast|better|best)", getty.ErrInvalidOptions, name)
}

// Defaults used for zero-valued Config fields.
const (
	DefaultThreshold = 256
	DefaultBatchSize = 64 << 10
)

// Config chooses how a connection compresses. The zero value is ready to
// use: S2, fast level, frames under 256 bytes sent raw, consecutive writes
// batched into frames of up to 64 KiB.
//
// Only Algorithm must match on both ends. Level, Threshold and BatchSize
// concern the sender alone; a receiver decodes whatever a conforming sender
// chose.
type Config struct {
	// Algorithm is the compression algorithm. Default S2 (DefaultAlgorithm).
	Algorithm Algorithm

	// Level is the compression level. Default LevelFast.
	Level Level

	// Threshold is the smallest frame content, in bytes, worth
	// compressing: smaller frames travel raw (flagged as such), because
	// compressing a few dozen bytes costs CPU and saves nothing. Default
	// DefaultThreshold (256); negative: compress every frame. Whatever the
	// threshold, a frame whose compressed form is not smaller than its
	// content travels raw (random bytes cost one compression attempt and
	// no wire overhead beyond the frame header).
	Threshold int

	// BatchSize bounds the content of one frame when several messages are
	// written together (the session's write batching hands them over as
	// one batch): consecutive messages are packed into one frame of up to
	// BatchSize bytes, which compresses far better than each small message
	// alone. A message larger than BatchSize travels in a frame of its own.
	// A receiver accepts frames of up to the larger of its session's
	// MaxPackageSize and its own BatchSize (the codec still holds each
	// package to MaxPackageSize), so ends configured alike always accept each other's
	// batches; a sender's BatchSize above both of the receiver's is
	// refused there with getty.ErrMessageTooLarge. Default
	// DefaultBatchSize (64 KiB); negative: one frame per message.
	BatchSize int
}

// resolved is a validated Config with defaults applied.
type resolved struct {
	alg       Algorithm
	level     Level
	threshold int // 0: compress everything
	batch     int // 0: one frame per message
}

func (c *Config) resolve() (resolved, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	r := resolved{alg: cfg.Algorithm, level: cfg.Level, threshold: cfg.Threshold, batch: cfg.BatchSize}
	if r.alg == 0 {
		r.alg = DefaultAlgorithm
	}
	if r.alg > Deflate {
		return r, fmt.Errorf("%w: compress: unknown algorithm %d", getty.ErrInvalidOptions, uint8(r.alg))
	}
	if r.level > LevelBest {
		return r, fmt.Errorf("%w: compress: unknown level %d", getty.ErrInvalidOptions, uint8(r.level))
	}
	switch {
	case r.threshold == 0:
		r.threshold = DefaultThreshold
	case r.threshold < 0:
		r.threshold = 0
	}
	switch {
	case r.batch == 0:
		r.batch = DefaultBatchSize
	case r.batch < 0:
		r.batch = 0
	}
	return r, nil
}
