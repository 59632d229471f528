package lengthfield_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
)

func TestDecode(t *testing.T) {
	c := lengthfield.Codec{}
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    []byte
		n       int
		wantErr error
	}{
		{name: "empty input", in: nil, max: 100},
		{name: "partial header", in: []byte{0, 0, 0}, max: 100},
		{name: "zero length", in: []byte{0, 0, 0, 0}, max: 100, want: []byte{}, n: 4},
		{name: "partial payload", in: []byte{0, 0, 0, 3, 'a', 'b'}, max: 100},
		{name: "whole", in: []byte{0, 0, 0, 2, 'h', 'i', 0xff}, max: 100, want: []byte("hi"), n: 6},
		{name: "at the limit", in: append([]byte{0, 0, 0, 6}, "123456"...), max: 10, want: []byte("123456"), n: 10},
		{name: "one over the limit", in: []byte{0, 0, 0, 7}, max: 10, wantErr: getty.ErrMessageTooLarge},
		{name: "negative as int32", in: []byte{0x80, 0, 0, 0}, max: 1 << 30, wantErr: getty.ErrMessageTooLarge},
		{name: "max uint32", in: []byte{0xff, 0xff, 0xff, 0xff}, max: 1<<31 - 1, wantErr: getty.ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := c.Decode(tt.in, tt.max)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.n || !bytes.Equal(got, tt.want) || (tt.want != nil) != (got != nil) {
				t.Fatalf("got %q, %d; want %q, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

func TestRoundTripAndDetach(t *testing.T) {
	c := lengthfield.Codec{}
	var wire []byte
	msgs := [][]byte{nil, []byte("a"), bytes.Repeat([]byte("xy"), 5000)}
	for _, m := range msgs {
		var err error
		if wire, err = c.Encode(wire, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range msgs {
		got, n, err := c.Decode(wire, 1<<20)
		if err != nil || n == 0 || !bytes.Equal(got, m) {
			t.Fatalf("got %q %d %v", got, n, err)
		}
		kept := c.Detach(got)
		if len(got) > 0 {
			got[0] ^= 0xff
			if kept[0] == got[0] {
				t.Fatal("Detach shares memory")
			}
		}
		wire = wire[n:]
	}
	if len(wire) != 0 {
		t.Fatalf("%d bytes left", len(wire))
	}
}

func FuzzDecode(f *testing.F) {
	c := lengthfield.Codec{}
	f.Add([]byte{0, 0, 0, 1, 'x'}, 16)
	f.Add([]byte{0x80, 0, 0, 0}, 1<<20)
	f.Add([]byte{0, 0, 0, 5, 'a'}, 9)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < lengthfield.HeaderLen {
			max = lengthfield.HeaderLen
		}
		p, n, err := c.Decode(data, max)
		switch {
		case err != nil:
			if !errors.Is(err, getty.ErrMessageTooLarge) || n != 0 {
				t.Fatalf("error %v with n %d", err, n)
			}
		case n == 0:
			if p != nil {
				t.Fatal("package without consuming input")
			}
		default:
			if n > len(data) || n > max || n != lengthfield.HeaderLen+len(p) {
				t.Fatalf("n %d, len %d, max %d, payload %d", n, len(data), max, len(p))
			}
			if uint32(len(p)) != binary.BigEndian.Uint32(data) {
				t.Fatal("payload length differs from header")
			}
			again, err := c.Encode(nil, p)
			if err != nil || !bytes.Equal(again, data[:n]) {
				t.Fatal("re-encoding differs")
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	c := lengthfield.Codec{}
	wire, _ := c.Encode(nil, make([]byte, 64))
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, n, err := c.Decode(wire, 1<<20); n == 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c := lengthfield.Codec{}
	p := make([]byte, 64)
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(p) + 4))
	for b.Loop() {
		dst, _ = c.Encode(dst[:0], p)
	}
}
