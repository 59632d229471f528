// Package lengthfield frames binary packages with a 4-byte big-endian length
// prefix: the wire form of a package p is uint32(len(p)) followed by p.
//
// Decoded packages alias the read buffer: they are valid until the handler
// returns (copy them to keep them). Codec implements getty.Detacher for that.
package lengthfield

import (
	"encoding/binary"
	"fmt"

	"github.com/gettynet/getty"
)

// HeaderLen is the size of the length prefix.
const HeaderLen = 4

// Codec is the length-prefixed codec. The zero value is ready to use and
// safe for concurrent use; it implements getty.Codec[[]byte].
type Codec struct{}

// Decode returns the payload of the first frame in data. A length that would
// make the frame larger than max fails with getty.ErrMessageTooLarge before
// any payload is buffered.
func (Codec) Decode(data []byte, max int) ([]byte, int, error) {
	if len(data) < HeaderLen {
		return nil, 0, nil
	}
	n := uint64(binary.BigEndian.Uint32(data))
	if n+HeaderLen > uint64(max) {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes exceeds %d", getty.ErrMessageTooLarge, n+HeaderLen, max)
	}
	end := HeaderLen + int(n)
	if len(data) < end {
		return nil, 0, nil
	}
	return data[HeaderLen:end:end], end, nil
}

// Encode appends the frame of p to dst.
func (Codec) Encode(dst []byte, p []byte) ([]byte, error) {
	if uint64(len(p)) > 1<<32-1-HeaderLen {
		return dst, fmt.Errorf("%w: payload of %d bytes does not fit a 32-bit length", getty.ErrMessageTooLarge, len(p))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...), nil
}

// EncodeHeader appends the length prefix of p to dst; p is the rest of the
// frame (getty.HeaderEncoder).
func (Codec) EncodeHeader(dst []byte, p []byte) ([]byte, []byte, error) {
	if uint64(len(p)) > 1<<32-1-HeaderLen {
		return dst, nil, fmt.Errorf("%w: payload of %d bytes does not fit a 32-bit length", getty.ErrMessageTooLarge, len(p))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(len(p))), p, nil
}

// Detach returns a copy of p that owns its memory.
func (Codec) Detach(p []byte) []byte { return append([]byte(nil), p...) }
