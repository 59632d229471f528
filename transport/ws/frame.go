package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Frame opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

const (
	finBit  = 0x80
	rsv1Bit = 0x40 // permessage-deflate: the message is compressed
	rsv23   = 0x30
	maskBit = 0x80

	maxHeaderSize      = 14
	maxControlPayload  = 125
	closeReasonMaxSize = maxControlPayload - 2
)

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv    byte // the three RSV bits, in place (0x70 mask)
	op     byte
	masked bool
	mask   [4]byte
	length uint64
}

func isControl(op byte) bool { return op&0x8 != 0 }

// parseHeader parses a frame header at the front of b. It returns the
// header size, or 0 when b does not hold the whole header yet. It rejects
// only what can be told from the header bytes alone and is independent of
// role and negotiated extensions (see conn.checkHeader).
func parseHeader(b []byte) (h header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.fin = b[0]&finBit != 0
	h.rsv = b[0] & 0x70
	h.op = b[0] & 0x0f
	h.masked = b[1]&maskBit != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.length = uint64(binary.BigEndian.Uint16(b[2:4]))
		if h.length < 126 {
			return h, 0, protocolError("non-minimal frame length")
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		h.length = binary.BigEndian.Uint64(b[2:10])
		if h.length>>63 != 0 {
			return h, 0, protocolError("frame length has its most significant bit set")
		}
		if h.length <= 0xffff {
			return h, 0, protocolError("non-minimal frame length")
		}
		n = 10
	default:
		h.length = uint64(l)
	}
	if h.masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.mask[:], b[n:n+4])
		n += 4
	}
	if isControl(h.op) {
		if !h.fin {
			return h, 0, protocolError("fragmented control frame")
		}
		if h.length > maxControlPayload {
			return h, 0, protocolError("control frame payload over 125 bytes")
		}
	}
	switch h.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return h, 0, protocolError("reserved opcode")
	}
	return h, n, nil
}

// appendHeader appends a frame header. A non-nil mask is written after the
// length.
func appendHeader(b []byte, fin bool, rsv, op byte, length int, mask *[4]byte) []byte {
	b0 := rsv | op
	if fin {
		b0 |= finBit
	}
	var b1 byte
	if mask != nil {
		b1 = maskBit
	}
	switch {
	case length < 126:
		b = append(b, b0, b1|byte(length))
	case length <= 0xffff:
		b = append(b, b0, b1|126, byte(length>>8), byte(length))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	}
	if mask != nil {
		b = append(b, mask[:]...)
	}
	return b
}

// headerSize is the size appendHeader writes.
func headerSize(length int, masked bool) int {
	n := 2
	switch {
	case length >= 126 && length <= 0xffff:
		n = 4
	case length > 0xffff:
		n = 10
	}
	if masked {
		n += 4
	}
	return n
}

// parseClose decodes a close frame payload.
func parseClose(p []byte) (code StatusCode, reason string, err *CloseError) {
	switch {
	case len(p) == 0:
		return StatusNoStatus, "", nil
	case len(p) == 1:
		return 0, "", protocolError("close frame payload of one byte")
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !code.validWire() {
		return code, "", protocolError("invalid close status " + code.String())
	}
	if !utf8.Valid(p[2:]) {
		return code, "", &CloseError{Code: StatusInvalidPayload, Reason: "close reason is not UTF-8", Local: true, Err: ErrInvalidUTF8}
	}
	return code, string(p[2:]), nil
}

// appendClosePayload appends a close payload: the code and the reason,
// truncated to fit a control frame (on a UTF-8 boundary).
func appendClosePayload(b []byte, code StatusCode, reason string) []byte {
	if len(reason) > closeReasonMaxSize {
		reason = reason[:closeReasonMaxSize]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}
