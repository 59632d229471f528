package ws

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/gettynet/getty"
	"github.com/gobwas/httphead"
	"github.com/klauspost/compress/flate"
)

// DefaultCompressionThreshold is the Compression.Threshold used when it is
// zero: shorter messages are not worth compressing.
const DefaultCompressionThreshold = 256

// Compression configures permessage-deflate (RFC 7692). The zero value
// turns it off.
//
// Outgoing messages are compressed without context takeover, so compressors
// hold no per-connection state and are shared, through a pool, by every
// connection of the process. Incoming messages are inflated from memory,
// after the whole compressed message has been read: network errors and
// deadlines never reach a decompressor.
type Compression struct {
	// Enabled offers permessage-deflate (client) or accepts it when a client
	// offers it (server).
	Enabled bool
	// Level is the flate level of outgoing messages: 1 (fastest) to 9
	// (smallest). Default 1.
	Level int
	// Threshold: messages shorter than this many bytes are sent
	// uncompressed. Default DefaultCompressionThreshold (256); negative:
	// compress every message.
	Threshold int
}

func (c Compression) withDefaults() (Compression, error) {
	if c.Level == 0 {
		c.Level = flate.BestSpeed
	}
	if c.Level < flate.BestSpeed || c.Level > flate.BestCompression {
		return c, fmt.Errorf("%w: ws: compression level %d is not within 1..9", getty.ErrInvalidOptions, c.Level)
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultCompressionThreshold
	}
	if c.Threshold < 0 {
		c.Threshold = 0
	}
	return c, nil
}

// deflateState is what a handshake agreed on.
type deflateState struct {
	on bool
	// readTakeover: the peer compresses with context takeover, so inflating
	// needs the last 32 KiB of its previous messages.
	readTakeover bool
}

const extensionName = "permessage-deflate"

// serverNegotiate looks at one extension offer of a client. It returns
// the response option when the server accepts it; a zero Option declines.
// The server always answers with no context takeover both ways, which RFC
// 7692 allows whatever the offer says; it declines offers that ask it for a
// window smaller than 32 KiB, which flate cannot promise.
func serverNegotiate(opt httphead.Option) (httphead.Option, bool) {
	if string(opt.Name) != extensionName {
		return httphead.Option{}, false
	}
	ok := true
	seen := map[string]bool{}
	opt.Parameters.ForEach(func(k, v []byte) bool {
		key := string(k)
		if seen[key] {
			ok = false
			return false
		}
		seen[key] = true
		switch key {
		case "server_no_context_takeover", "client_no_context_takeover":
			ok = v == nil
		case "server_max_window_bits":
			bits, err := windowBits(v)
			ok = err == nil && bits == 15
		case "client_max_window_bits":
			if v != nil {
				_, err := windowBits(v)
				ok = err == nil
			}
		default:
			ok = false
		}
		return ok
	})
	if !ok {
		return httphead.Option{}, false
	}
	return httphead.NewOption(extensionName, map[string]string{
		"server_no_context_takeover": "",
		"client_no_context_takeover": "",
	}), true
}

// clientOffers are the extension offers a client sends: no context takeover
// both ways first (no per-connection window on either side), then one that
// lets the server keep its context.
func clientOffers() []httphead.Option {
	return []httphead.Option{
		httphead.NewOption(extensionName, map[string]string{"client_no_context_takeover": "", "server_no_context_takeover": ""}),
		httphead.NewOption(extensionName, map[string]string{"client_no_context_takeover": ""}),
	}
}

// clientAccept checks the extensions a server selected.
func clientAccept(exts []httphead.Option) (deflateState, error) {
	var st deflateState
	for _, opt := range exts {
		if string(opt.Name) != extensionName || st.on {
			return st, fmt.Errorf("%w: server selected extension %q", ErrHandshake, opt.Name)
		}
		st.on, st.readTakeover = true, true
		var bad error
		opt.Parameters.ForEach(func(k, v []byte) bool {
			switch string(k) {
			case "server_no_context_takeover":
				st.readTakeover = false
			case "client_no_context_takeover":
			case "server_max_window_bits":
				if _, err := windowBits(v); err != nil {
					bad = err
				}
			default:
				// client_max_window_bits was not offered, so it may not
				// come back; nor may anything unknown.
				bad = fmt.Errorf("unexpected parameter %q", k)
			}
			return bad == nil
		})
		if bad != nil {
			return st, fmt.Errorf("%w: permessage-deflate: %w", ErrHandshake, bad)
		}
	}
	return st, nil
}

func windowBits(v []byte) (int, error) {
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 8 || n > 15 || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("bad window bits %q", v)
	}
	return n, nil
}

// Flate coders are pooled per process: they are caches that carry no state
// from one message to the next.
var (
	flateWriters [flate.BestCompression + 1]sync.Pool
	flateReaders sync.Pool
)

// deflateTail ends every compressed message on the wire (RFC 7692 7.2.1);
// the sender strips it and the receiver appends it back. finalBlock is an
// empty final stored block, so that the decompressor reaches io.EOF.
var (
	deflateTail = []byte{0x00, 0x00, 0xff, 0xff}
	finalBlock  = []byte{0x01, 0x00, 0x00, 0xff, 0xff}
)

// appendWriter lets a flate.Writer append to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// compress appends the compressed form of p (without the trailing empty
// block) to dst, through aw.
func compress(aw *appendWriter, dst, p []byte, level int) []byte {
	aw.b = dst
	fw, _ := flateWriters[level].Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(aw, level) // level was validated
	} else {
		fw.Reset(aw)
	}
	fw.Write(p) //nolint:errcheck // appendWriter never fails
	fw.Flush()  //nolint:errcheck // appendWriter never fails
	fw.Reset(io.Discard)
	flateWriters[level].Put(fw)
	out := aw.b
	aw.b = nil
	if len(out)-len(dst) >= 4 {
		out = out[:len(out)-4] // the 00 00 ff ff of the sync flush
	}
	return out
}

// inflateSource feeds a decompressor from memory: the message, the tail,
// then a final block. It implements io.ByteReader so flate reads it without
// a bufio.Reader of its own.
type inflateSource struct {
	parts [3][]byte
	i     int
}

func (s *inflateSource) reset(p []byte) {
	s.parts = [3][]byte{p, deflateTail, finalBlock}
	s.i = 0
}

func (s *inflateSource) Read(b []byte) (int, error) {
	for s.i < len(s.parts) {
		if len(s.parts[s.i]) == 0 {
			s.i++
			continue
		}
		n := copy(b, s.parts[s.i])
		s.parts[s.i] = s.parts[s.i][n:]
		return n, nil
	}
	return 0, io.EOF
}

func (s *inflateSource) ReadByte() (byte, error) {
	for s.i < len(s.parts) {
		if len(s.parts[s.i]) == 0 {
			s.i++
			continue
		}
		c := s.parts[s.i][0]
		s.parts[s.i] = s.parts[s.i][1:]
		return c, nil
	}
	return 0, io.EOF
}

// emptySource is an exhausted reader, to park pooled decompressors on.
type emptySource struct{}

func (emptySource) Read([]byte) (int, error) { return 0, io.EOF }
func (emptySource) ReadByte() (byte, error)  { return 0, io.EOF }

var errBadDeflate = errors.New("ws: invalid deflate data")

// inflate decompresses src into buffers from the pool, refusing output
// beyond max (a decompression bomb). dict is the peer's window under context
// takeover, or nil.
func inflate(src *inflateSource, dict []byte, max int) (*[]byte, error) {
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReaderDict(src, dict)
	} else if err := fr.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, err
	}
	defer func() {
		fr.(flate.Resetter).Reset(emptySource{}, nil) //nolint:errcheck // dropping references before pooling
		flateReaders.Put(fr)
	}()
	tooBig := func() error {
		return &CloseError{Code: StatusMessageTooBig, Reason: "message too big", Local: true,
			Err: fmt.Errorf("%w: inflated message exceeds %d bytes", getty.ErrMessageTooLarge, max)}
	}
	// Buffers never grow past max (pool size classes may give more
	// capacity: it is not used), so no more than max bytes are inflated.
	out := bufs.Get(min(4*len(src.parts[0])+64, max))
	for {
		end := min(cap(*out), max)
		if len(*out) == end {
			if end == max {
				// Full at the limit: one more byte is one too many.
				switch err := probe(fr); {
				case err == nil:
					bufs.Put(out)
					return nil, tooBig()
				case errors.Is(err, io.EOF):
					return out, nil
				default:
					bufs.Put(out)
					return nil, badDeflate(err)
				}
			}
			nb := bufs.Get(min(2*cap(*out), max))
			*nb = append(*nb, *out...)
			bufs.Put(out)
			out = nb
			end = min(cap(*out), max)
		}
		n, err := fr.Read((*out)[len(*out):end])
		*out = (*out)[:len(*out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			bufs.Put(out)
			return nil, badDeflate(err)
		}
	}
}

// probe reads one more byte from r: nil when there is one, otherwise why
// not (io.EOF at the end of the stream).
func probe(r io.Reader) error {
	var b [1]byte
	for range 100 { // a decompressor makes progress; bounded all the same
		n, err := r.Read(b[:])
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

func badDeflate(err error) error {
	return &CloseError{Code: StatusInvalidPayload, Reason: "invalid compressed data", Local: true,
		Err: fmt.Errorf("%w: %w: %w", getty.ErrBadPackage, errBadDeflate, err)}
}
