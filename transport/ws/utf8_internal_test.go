package ws

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// feedAll feeds p split at the given cut points and reports validity.
func feedAll(p []byte, cuts []int) bool {
	var v utf8Validator
	prev := 0
	for _, c := range cuts {
		if !v.feed(p[prev:c]) {
			return false
		}
		prev = c
	}
	return v.feed(p[prev:]) && v.complete()
}

// The validator agrees with utf8.Valid on every split of every input.
func TestUTF8ValidatorSplits(t *testing.T) {
	inputs := []string{
		"", "a", "héllo wörld", "κόσμε", "\u00e9\u20ac\U0001F600", "\uFFFD", "\U0010FFFF",
		"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xe2\x82", "\xe2\x82\x28", "a\xce", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
		"\xf0\x9f\x98", "\xf0\x9f\x98\x80\x80", "\x80", "ab\xbf",
	}
	checked := 0
	for _, s := range inputs {
		p := []byte(s)
		want := utf8.Valid(p)
		// Every single cut and every pair of cuts.
		for i := 0; i <= len(p); i++ {
			for j := i; j <= len(p); j++ {
				if got := feedAll(p, []int{i, j}); got != want {
					t.Fatalf("%q cut at %d,%d: %v, want %v", s, i, j, got, want)
				}
				checked++
			}
		}
		// One byte at a time.
		cuts := make([]int, 0, len(p))
		for i := 1; i < len(p); i++ {
			cuts = append(cuts, i)
		}
		if got := feedAll(p, cuts); got != want {
			t.Fatalf("%q byte by byte: %v, want %v", s, got, want)
		}
	}
	// Random byte soup from a small alphabet of lead and continuation
	// bytes, at random cuts.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 0x80, 0xbf, 0x9f, 0xa0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff}
	for range 20000 {
		p := make([]byte, r.IntN(12))
		for i := range p {
			p[i] = alphabet[r.IntN(len(alphabet))]
		}
		var cuts []int
		for i := 1; i < len(p); i++ {
			if r.IntN(3) == 0 {
				cuts = append(cuts, i)
			}
		}
		if got, want := feedAll(p, cuts), utf8.Valid(p); got != want {
			t.Fatalf("%x cuts %v: %v, want %v", p, cuts, got, want)
		}
		checked++
	}
	t.Logf("%d splits checked", checked)
}

// Invalid bytes fail the piece that carries them, before the rest arrives.
func TestUTF8ValidatorFailsFast(t *testing.T) {
	var v utf8Validator
	if !v.feed([]byte("κόσμε")) {
		t.Fatal("valid prefix refused")
	}
	if v.feed([]byte{0xce, 0xba, 0xed, 0xa0}) { // a surrogate starts: no continuation can fix it
		t.Fatal("surrogate prefix accepted")
	}
	v.reset()
	if !v.feed([]byte{0xf0, 0x9f}) || v.complete() {
		t.Fatal("incomplete rune mishandled")
	}
	if v.feed([]byte{0x28}) {
		t.Fatal("broken continuation accepted")
	}
}
