package compress_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
)

// fuzzMax is the cap the fuzz targets read with: small enough that a bomb
// would show as a huge allocation, large enough for real frames.
const fuzzMax = 64 << 10

// FuzzReadMessage feeds arbitrary bytes to the read path (framing,
// decompression, records) of every algorithm. It must never panic, never
// return a message above the cap, and end with one of the documented
// errors. The push-style path of the event-loop engine (DecodeFrame,
// NextMessage, with the input cut in two reads) must agree with it:
// the same messages, the same error, and bytes left over exactly when
// ReadMessage met the end inside a frame. The seed corpus
// (testdata/fuzz/FuzzReadMessage) holds valid frames of each algorithm
// (raw, compressed, batched), a bomb of each algorithm and a peer that
// does not compress.
func FuzzReadMessage(f *testing.F) {
	for _, alg := range compress.Algorithms() {
		cfg := &compress.Config{Algorithm: alg}
		f.Add(byte(alg), frames(f, cfg, []byte("hi"), payload(3000, true, 1)))
		f.Add(byte(alg), frames(f, cfg, payload(20000, true, 2)))
		f.Add(byte(alg), frames(f, cfg, payload(500, false, 3)))
	}
	f.Fuzz(func(t *testing.T, alg byte, wire []byte) {
		a := compress.Algorithms()[int(alg)%len(compress.Algorithms())]
		msgs, err := readAll(t, &compress.Config{Algorithm: a}, wire, fuzzMax)
		total := 0
		for _, m := range msgs {
			total += len(m)
		}
		switch {
		case errors.Is(err, io.EOF),
			errors.Is(err, io.ErrUnexpectedEOF),
			errors.Is(err, compress.ErrCorrupt),
			errors.Is(err, compress.ErrAlgorithmMismatch),
			errors.Is(err, getty.ErrMessageTooLarge):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		cut := 0
		if len(wire) > 0 {
			cut = int(wire[len(wire)-1]) * len(wire) / 256
		}
		pushed, left, perr := pushAll(t, &compress.Config{Algorithm: a}, wire, fuzzMax, cut)
		switch {
		case errors.Is(err, io.EOF):
			if perr != nil || left != 0 {
				t.Fatalf("ReadMessage ended cleanly; push-style: %v, %d bytes left", perr, left)
			}
		case errors.Is(err, io.ErrUnexpectedEOF):
			if perr != nil || left == 0 {
				t.Fatalf("ReadMessage ended inside a frame; push-style: %v, %d bytes left", perr, left)
			}
		default:
			if perr == nil || errors.Is(err, getty.ErrMessageTooLarge) != errors.Is(perr, getty.ErrMessageTooLarge) ||
				errors.Is(err, compress.ErrCorrupt) != errors.Is(perr, compress.ErrCorrupt) ||
				errors.Is(err, compress.ErrAlgorithmMismatch) != errors.Is(perr, compress.ErrAlgorithmMismatch) {
				t.Fatalf("ReadMessage: %v; push-style: %v", err, perr)
			}
		}
		if len(pushed) != len(msgs) {
			t.Fatalf("ReadMessage: %d messages; push-style: %d", len(msgs), len(pushed))
		}
		for i := range msgs {
			if !bytes.Equal(pushed[i], msgs[i]) {
				t.Fatalf("message %d differs between ReadMessage and push-style", i)
			}
		}
	})
}

// FuzzRoundTrip writes arbitrary messages with every algorithm and option
// set and reads them back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint8(3), int16(0), int16(0), byte(0))
	f.Add(payload(5000, true, 1), uint8(1), int16(-1), int16(100), byte(2))
	f.Add(payload(300, false, 2), uint8(7), int16(10), int16(-1), byte(1))
	f.Fuzz(func(t *testing.T, data []byte, parts uint8, threshold, batch int16, level byte) {
		for _, alg := range compress.Algorithms() {
			cfg := &compress.Config{Algorithm: alg, Level: compress.Level(level % 3), Threshold: int(threshold), BatchSize: int(batch)}
			n := int(parts%16) + 1
			var msgs [][]byte
			for i := range n {
				msgs = append(msgs, data[i*len(data)/n:(i+1)*len(data)/n])
			}
			got, err := readAll(t, cfg, frames(t, cfg, msgs...), fuzzMax)
			if !errors.Is(err, io.EOF) {
				if len(data) <= fuzzMax {
					t.Fatalf("%v: %v", alg, err)
				}
				continue
			}
			if len(got) != len(msgs) {
				t.Fatalf("%v: %d messages back, want %d", alg, len(got), len(msgs))
			}
			for i := range msgs {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Fatalf("%v: message %d differs", alg, i)
				}
			}
		}
	})
}
