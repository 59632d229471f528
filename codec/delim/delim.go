// Package delim frames text records that end with a delimiter byte: lines
// by default. The delimiter is not part of the decoded package; with
// TrimCR, a "\r" before it is dropped too, so CRLF lines decode cleanly.
//
// Decoded packages alias the read buffer: they are valid until the handler
// returns (copy them to keep them). Codec implements getty.Detacher for that.
package delim

import (
	"bytes"
	"fmt"

	"github.com/gettynet/getty"
)

// Codec is the delimiter codec; it implements getty.Codec[[]byte]. The zero
// value splits on '\n' and keeps '\r'. It is safe for concurrent use.
type Codec struct {
	// Delim ends every record. Zero means '\n' (a NUL delimiter cannot be
	// chosen).
	Delim byte
	// TrimCR drops one '\r' before the delimiter when decoding.
	TrimCR bool
}

// Lines returns the codec for text lines ending in "\n" or "\r\n".
func Lines() Codec { return Codec{Delim: '\n', TrimCR: true} }

func (c Codec) delim() byte {
	if c.Delim == 0 {
		return '\n'
	}
	return c.Delim
}

// Decode returns the first record in data. A record (with its delimiter)
// longer than max fails with getty.ErrMessageTooLarge as soon as max bytes
// arrived without a delimiter.
func (c Codec) Decode(data []byte, max int) ([]byte, int, error) {
	limit := data
	if len(limit) > max {
		limit = limit[:max]
	}
	i := bytes.IndexByte(limit, c.delim())
	if i < 0 {
		if len(data) >= max {
			return nil, 0, fmt.Errorf("%w: no delimiter within %d bytes", getty.ErrMessageTooLarge, max)
		}
		return nil, 0, nil
	}
	rec := data[:i:i]
	if c.TrimCR && i > 0 && rec[i-1] == '\r' {
		rec = rec[: i-1 : i-1]
	}
	return rec, i + 1, nil
}

// Encode appends p and the delimiter to dst. A p that contains the delimiter
// would split into two records, so it fails with getty.ErrBadPackage.
func (c Codec) Encode(dst []byte, p []byte) ([]byte, error) {
	if bytes.IndexByte(p, c.delim()) >= 0 {
		return dst, fmt.Errorf("%w: record contains the delimiter %q", getty.ErrBadPackage, c.delim())
	}
	dst = append(dst, p...)
	return append(dst, c.delim()), nil
}

// Detach returns a copy of p that owns its memory.
func (Codec) Detach(p []byte) []byte { return append([]byte(nil), p...) }
