package compress_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/compress"
)

// TestCorruptFrames feeds malformed input to a reader: each ends reading
// with the documented error, and the error is final (a second ReadMessage
// returns it again without reading).
func TestCorruptFrames(t *testing.T) {
	t.Parallel()
	const max = corruptMax
	for _, alg := range compress.Algorithms() {
		for _, tc := range corruptCases(t, alg) {
			t.Run(alg.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c, err := compress.NewConn(&fakeConn{r: bytes.NewReader(tc.wire)}, &compress.Config{Algorithm: alg})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var rerr error
				for range 10 {
					if _, rerr = c.ReadMessage(max); rerr != nil {
						break
					}
				}
				if !errors.Is(rerr, tc.want) {
					t.Fatalf("got %v, want %v", rerr, tc.want)
				}
				if errors.Is(tc.want, io.EOF) {
					return
				}
				if _, again := c.ReadMessage(max); again != rerr { //nolint:errorlint // the very same error value again
					t.Fatalf("second read: %v, want the same final error %v", again, rerr)
				}
			})
		}
	}
}

// TestCorruptFramesEndSession sends each malformed input of
// TestCorruptFrames to a compressed server from a raw socket, on both
// engines, and closes the socket's write side: the session ends with the
// documented error (io.EOF for the well-formed input, whose messages are
// echoed first), reported once.
func TestCorruptFramesEndSession(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			t.Run(alg.String()+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel()
				log := newCloseLog()
				d := serve(t, n, &compress.Config{Algorithm: alg}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: corruptMax}}, log.handler())
				for _, tc := range corruptCases(t, alg) {
					// The server may refuse a frame by its header and close
					// before all of it is written: the write and the close
					// of the write side may fail, the session's verdict
					// below is what counts.
					c := rawDial(t, d)
					if _, err := c.Write(tc.wire); err != nil {
						t.Logf("%s: write: %v", tc.name, err)
					}
					if err := c.(*net.TCPConn).CloseWrite(); err != nil {
						t.Logf("%s: close write: %v", tc.name, err)
					}
					select {
					case id := <-log.events:
						log.mu.Lock()
						cause, errs := log.causes[id], log.errs[id]
						log.mu.Unlock()
						if !errors.Is(cause, tc.want) {
							t.Errorf("%s: session ended with %v, want %v", tc.name, cause, tc.want)
						}
						if wantErrs := 1 - b2i(errors.Is(tc.want, io.EOF)); len(errs) != wantErrs {
							t.Errorf("%s: errors reported %v, want %d", tc.name, errs, wantErrs)
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("%s: the session did not end", tc.name)
					}
					c.Close()
				}
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// corruptMax is the MaxPackageSize of the corrupt-input tests.
const corruptMax = 1 << 20

type corruptCase struct {
	name string
	wire []byte
	want error
}

// corruptCases are malformed inputs for alg, and the error each ends
// reading with.
func corruptCases(t *testing.T, alg compress.Algorithm) []corruptCase {
	const max = corruptMax
	good := func(alg compress.Algorithm, msgs ...[]byte) []byte {
		return frames(t, &compress.Config{Algorithm: alg}, msgs...)
	}
	big := pkgFrame(payload(8<<10, true, 5))
	{
		valid := good(alg, big)
		if valid[0]&0x10 == 0 {
			t.Fatalf("%v: test frame not compressed", alg)
		}
		body := valid[5:]
		_, k := binary.Uvarint(body)
		declared, _ := binary.Uvarint(body)
		data := body[k:]

		garbage := bytes.Repeat([]byte{0xEE}, 64)
		truncated := data[:len(data)/2]
		wrongSize := compressedBody(declared+7, data)
		shortSize := compressedBody(declared-7, data)
		trailing := compressedBody(declared, append(bytes.Clone(data), 1, 2, 3))

		return []corruptCase{
			{"garbage data", rawFrame(alg, true, compressedBody(100, garbage)), compress.ErrCorrupt},
			{"truncated data", rawFrame(alg, true, compressedBody(declared, truncated)), compress.ErrCorrupt},
			{"declared size too big", rawFrame(alg, true, wrongSize), compress.ErrCorrupt},
			{"declared size too small", rawFrame(alg, true, shortSize), compress.ErrCorrupt},
			{"trailing bytes", rawFrame(alg, true, trailing), compress.ErrCorrupt},
			{"zero declared size", rawFrame(alg, true, compressedBody(0, data)), compress.ErrCorrupt},
			{"bad content length", rawFrame(alg, true, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), compress.ErrCorrupt},
			{"empty raw frame", rawFrame(alg, false, nil), compress.ErrCorrupt},
			{"record overruns frame", rawFrame(alg, false, []byte{10, 'a', 'b'}), compress.ErrCorrupt},
			{"bad record header", rawFrame(alg, false, []byte{0xFF, 0xFF}), compress.ErrCorrupt},
			{"257 records in a frame", rawFrame(alg, false, make([]byte, 257)), compress.ErrCorrupt},
			{"frame above max", rawFrame(alg, false, make([]byte, max+100)), getty.ErrMessageTooLarge},
			{"bad flags after a good frame", append(good(alg, pkgFrame([]byte("ok"))), 0x00, 0, 0, 0, 1, 0), compress.ErrCorrupt},
			{"peer closed inside a header", valid[:3], io.ErrUnexpectedEOF},
			{"peer closed inside a body", valid[:len(valid)-1], io.ErrUnexpectedEOF},
			{"orderly end between frames", good(alg, pkgFrame([]byte("a")), pkgFrame([]byte("b"))), io.EOF},
		}
	}
}

// TestAlgorithmMismatch: frames of one algorithm read as another, and
// uncompressed traffic read by a compressing end, fail with
// ErrAlgorithmMismatch on the first frame, small or large.
func TestAlgorithmMismatch(t *testing.T) {
	t.Parallel()
	for _, from := range compress.Algorithms() {
		for _, to := range compress.Algorithms() {
			if from == to {
				continue
			}
			for _, msg := range [][]byte{[]byte("hi"), payload(4<<10, true, 6)} {
				wire := frames(t, &compress.Config{Algorithm: from}, msg)
				if _, err := readAll(t, &compress.Config{Algorithm: to}, wire, 1<<20); !errors.Is(err, compress.ErrAlgorithmMismatch) {
					t.Errorf("%v read as %v: %v", from, to, err)
				}
			}
		}
		// A peer that does not compress at all: length-prefixed and
		// line-delimited packages.
		for _, plain := range [][]byte{pkgFrame([]byte("hello")), []byte("hello\n")} {
			if _, err := readAll(t, &compress.Config{Algorithm: from}, plain, 1<<20); !errors.Is(err, compress.ErrAlgorithmMismatch) {
				t.Errorf("plain %q read as %v: %v", plain, from, err)
			}
		}
	}
}

// TestMismatchEndsSession runs mismatched ends through real sessions: a
// server expecting S2 facing a zstd client, and one facing a client that
// does not compress. The server session ends with ErrAlgorithmMismatch.
func TestMismatchEndsSession(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"zstd-client", "plain-client"} {
		for _, n := range engines(netTCP) {
			t.Run(name+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel()
				testMismatch(t, n, name)
			})
		}
	}
}

func testMismatch(t *testing.T, n network, name string) {
	log := newCloseLog()
	d := serve(t, n, &compress.Config{Algorithm: compress.S2}, nil, log.handler())
	cd := getty.Dialer(d)
	if name == "zstd-client" {
		var err error
		if cd, err = compress.NewDialer(d, &compress.Config{Algorithm: compress.Zstd}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &getty.ClientOptions{NoReconnect: true}
	opts.Engine = n.engine()
	cl, err := getty.Dial[[]byte](ctx, cd, lengthfield.Codec{}, getty.NopHandler[[]byte]{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s, err := cl.Session()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-log.events:
		log.mu.Lock()
		cause, errs := log.causes[id], log.errs[id]
		log.mu.Unlock()
		if !errors.Is(cause, compress.ErrAlgorithmMismatch) || len(errs) != 1 {
			t.Fatalf("session ended with %v (reported %v), want ErrAlgorithmMismatch once", cause, errs)
		}
		t.Logf("cause: %v", cause)
	case <-time.After(10 * time.Second):
		t.Fatal("the mismatch did not end the session")
	}
}

// TestConfigValidation: unknown algorithms and levels are refused at
// construction, names parse both ways.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []compress.Config{{Algorithm: 9}, {Level: 7}} {
		if _, err := compress.NewConn(&fakeConn{}, &cfg); !errors.Is(err, getty.ErrInvalidOptions) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := compress.NewListener(nil, nil); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Errorf("nil listener: %v", err)
	}
	if _, err := compress.NewDialer(nil, nil); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Errorf("nil dialer: %v", err)
	}
	for _, a := range compress.Algorithms() {
		if got, err := compress.ParseAlgorithm(a.String()); got != a || err != nil {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", a, got, err)
		}
	}
	if _, err := compress.ParseAlgorithm("lz4"); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Errorf("lz4: %v", err)
	}
	for _, l := range []compress.Level{compress.LevelFast, compress.LevelBetter, compress.LevelBest} {
		if got, err := compress.ParseLevel(l.String()); got != l || err != nil {
			t.Errorf("ParseLevel(%q) = %v, %v", l, got, err)
		}
	}
	c, err := compress.NewConn(&fakeConn{}, nil)
	if err != nil || c.Algorithm() != compress.S2 {
		t.Errorf("default algorithm: %v, %v", c.Algorithm(), err)
	}
}

// TestNotStream: a transport yielding message connections is refused.
func TestNotStream(t *testing.T) {
	t.Parallel()
	d, err := compress.NewDialer(getty.DialerFunc(func(context.Context) (getty.Conn, error) {
		return msgConn{}, nil
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dial(context.Background()); !errors.Is(err, compress.ErrNotStream) {
		t.Fatalf("got %v, want ErrNotStream", err)
	}
}

type msgConn struct{ getty.MessageConn }

func (msgConn) Close() error { return nil }
