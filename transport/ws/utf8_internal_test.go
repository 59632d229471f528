package ws

import (
	"testing"
	"unicode/utf8"
)

func TestValidUTF8Prefix(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ok       bool
		complete int
	}{
		{"", true, 0},
		{"abc", true, 3},
		{"a\xe2\x82", true, 1},         // € cut after two bytes
		{"a\xe2\x82\xac", true, 4},     // € whole
		{"\xf0\x9f", true, 0},          // 😀 cut
		{"\xf0\x9f\x98", true, 0},      // 😀 cut
		{"\xff", false, 0},             // never valid
		{"a\xc0", false, 0},            // overlong lead
		{"\xe0\x80", false, 0},         // overlong three-byte form
		{"\xed\xa0", false, 0},         // surrogate half
		{"\xf4\x90", false, 0},         // above U+10FFFF
		{"ok\xce\xbaos\xff", false, 0}, // invalid after valid text
	} {
		ok, complete := validUTF8Prefix([]byte(tc.in))
		if ok != tc.ok || (ok && complete != tc.complete) {
			t.Errorf("%q: got %v %d, want %v %d", tc.in, ok, complete, tc.ok, tc.complete)
		}
	}
}

// FuzzValidUTF8Prefix checks validUTF8Prefix against utf8.Valid: a valid
// string is a valid prefix at every cut, and a prefix judged valid can be
// completed.
func FuzzValidUTF8Prefix(f *testing.F) {
	f.Add([]byte("κόσμε"), 3)
	f.Add([]byte("\xf0\x9f\x98\x80"), 2)
	f.Fuzz(func(t *testing.T, p []byte, cut int) {
		if utf8.Valid(p) {
			if cut < 0 || cut > len(p) {
				cut = len(p) / 2
			}
			if ok, _ := validUTF8Prefix(p[:cut]); !ok {
				t.Fatalf("valid %q judged invalid at cut %d", p, cut)
			}
		}
		if ok, complete := validUTF8Prefix(p); ok && !utf8.Valid(p[:complete]) {
			t.Fatalf("%q: %d complete bytes are not valid", p, complete)
		}
	})
}
