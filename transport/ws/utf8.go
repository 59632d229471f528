package ws

import "unicode/utf8"

// utf8Validator checks text that arrives in pieces (fragments, or the
// chunks of one frame as reads return them), so that invalid UTF-8 fails
// the connection as soon as it arrives rather than once the message is
// whole. A rune cut by a piece boundary is carried over to the next piece.
type utf8Validator struct {
	carry [utf8.UTFMax]byte
	n     int // bytes of an incomplete rune in carry
}

// feed checks p as the continuation of the text fed so far. It returns
// false once the text can no longer be valid UTF-8, whatever follows.
func (v *utf8Validator) feed(p []byte) bool {
	if v.n > 0 {
		k := copy(v.carry[v.n:], p)
		b := v.carry[:v.n+k]
		if !utf8.FullRune(b) {
			// Still a proper prefix of a valid encoding (FullRune reports an
			// invalid one as full), and p is used up.
			v.n += k
			return true
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		p = p[size-v.n:]
		v.n = 0
	}
	// Hold back a trailing rune that is incomplete but could still be
	// valid: its start byte is within the last UTFMax-1 bytes.
	tail := 0
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				tail = len(p) - i
			}
			break
		}
	}
	if !utf8.Valid(p[:len(p)-tail]) {
		return false
	}
	v.n = copy(v.carry[:], p[len(p)-tail:])
	return true
}

// complete reports whether the text fed so far ends on a rune boundary.
func (v *utf8Validator) complete() bool { return v.n == 0 }

// reset forgets what was fed.
func (v *utf8Validator) reset() { v.n = 0 }
