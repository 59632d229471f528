package compress

import (
	"encoding/binary"
	"fmt"

	"github.com/gettynet/getty"
)

// The wire format (docs/compression.md has the full description):
//
//	frame   = flags:1 length:4 body          length is big-endian, of body
//	flags   = 0b101 C AAAA                   marker, compressed bit, algorithm id
//	body    = content                        when C = 0 (raw)
//	        | uvarint(len(content)) data     when C = 1; data decompresses to content
//	content = record{1,256}                  one record per message
//	record  = uvarint(len(message)) message

const (
	headerLen    = 5
	markerMask   = 0xE0
	marker       = 0xA0 // 0b101 in the top three bits: format version 1
	flagCompress = 0x10
	algMask      = 0x0F

	// recordSlack is the most a record header adds to a message.
	recordSlack = binary.MaxVarintLen32
	// maxBody is the largest body the 32-bit length can describe.
	maxBody = 1<<32 - 1
	// maxRecords is the most messages one frame carries. Without a bound
	// a few bytes of compressed frame could stand for millions of empty
	// messages, each a callback (S2 makes 1 MiB of them out of 20 bytes).
	maxRecords = 256
)

// frameCap is the largest content (and body) a receiver with MaxPackageSize
// maxPkg and batch size batch accepts: one message of maxPkg bytes plus its
// record header, or a batch of smaller messages as large as this end would
// send itself (so that ends configured alike never refuse each other's
// batches, even with a MaxPackageSize below the batch size).
func frameCap(maxPkg, batch int) int { return max(maxPkg, batch) + recordSlack }

func flags(alg Algorithm, compressed bool) byte {
	f := marker | byte(alg)&algMask
	if compressed {
		f |= flagCompress
	}
	return f
}

func putHeader(b []byte, alg Algorithm, compressed bool, bodyLen int) {
	b[0] = flags(alg, compressed)
	binary.BigEndian.PutUint32(b[1:headerLen], uint32(bodyLen))
}

// parseHeader checks a frame header against the local algorithm and the
// cap. first says whether it is the first frame of the connection: a bad
// marker there most likely means a peer that does not compress.
func parseHeader(h []byte, alg Algorithm, max, limit int, first bool) (compressed bool, bodyLen int, err error) {
	f := h[0]
	if f&markerMask != marker {
		if first {
			return false, 0, fmt.Errorf("%w: the first bytes (0x%02x...) are not a compressed frame: the peer does not compress, or speaks another protocol", ErrAlgorithmMismatch, f)
		}
		return false, 0, fmt.Errorf("%w: bad frame flags 0x%02x", ErrCorrupt, f)
	}
	if got := Algorithm(f & algMask); got != alg {
		return false, 0, fmt.Errorf("%w: the peer sends %v, this end expects %v", ErrAlgorithmMismatch, got, alg)
	}
	n := binary.BigEndian.Uint32(h[1:headerLen])
	if uint64(n) > uint64(limit) {
		return false, 0, fmt.Errorf("%w: frame of %d bytes exceeds the limit of %d (MaxPackageSize %d; is the sender's BatchSize above this end's?)", getty.ErrMessageTooLarge, n, limit, max)
	}
	return f&flagCompress != 0, int(n), nil
}

// uvarintLen is the size of the uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
