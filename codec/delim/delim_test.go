package delim_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		codec   delim.Codec
		in      string
		max     int
		want    string
		n       int
		wantErr error
	}{
		{name: "no delimiter yet", codec: delim.Lines(), in: "abc", max: 100},
		{name: "line", codec: delim.Lines(), in: "abc\ndef", max: 100, want: "abc", n: 4},
		{name: "crlf trimmed", codec: delim.Lines(), in: "abc\r\n", max: 100, want: "abc", n: 5},
		{name: "crlf kept", codec: delim.Codec{}, in: "abc\r\n", max: 100, want: "abc\r", n: 5},
		{name: "empty line", codec: delim.Lines(), in: "\n", max: 100, want: "", n: 1},
		{name: "custom delimiter", codec: delim.Codec{Delim: 0x1e}, in: "a\nb\x1e", max: 100, want: "a\nb", n: 4},
		{name: "at the limit", codec: delim.Lines(), in: "12345\n", max: 6, want: "12345", n: 6},
		{name: "over the limit", codec: delim.Lines(), in: "123456", max: 6, wantErr: getty.ErrMessageTooLarge},
		{name: "delimiter past the limit", codec: delim.Lines(), in: "123456\n", max: 6, wantErr: getty.ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := tt.codec.Decode([]byte(tt.in), tt.max)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.n || string(got) != tt.want {
				t.Fatalf("got %q, %d; want %q, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

func TestEncodeRefusesDelimiter(t *testing.T) {
	if _, err := delim.Lines().Encode(nil, []byte("a\nb")); !errors.Is(err, getty.ErrBadPackage) {
		t.Fatalf("err = %v", err)
	}
	got, err := delim.Lines().Encode([]byte("x"), []byte("yz"))
	if err != nil || string(got) != "xyz\n" {
		t.Fatalf("%q %v", got, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), 8, byte('\n'), true)
	f.Add([]byte("\r\n\r\n"), 3, byte('\n'), true)
	f.Add([]byte("no delimiter"), 5, byte(';'), false)
	f.Fuzz(func(t *testing.T, data []byte, max int, d byte, trim bool) {
		if max < 1 {
			max = 1
		}
		c := delim.Codec{Delim: d, TrimCR: trim}
		p, n, err := c.Decode(data, max)
		switch {
		case err != nil:
			if !errors.Is(err, getty.ErrMessageTooLarge) || len(data) < max {
				t.Fatalf("error %v on %d bytes (max %d)", err, len(data), max)
			}
		case n == 0:
			if len(data) >= max {
				t.Fatal("waits for more beyond the limit")
			}
		default:
			if n > len(data) || n > max {
				t.Fatalf("n %d beyond input %d or max %d", n, len(data), max)
			}
			if want := c.Delim; want == 0 && data[n-1] != '\n' || want != 0 && data[n-1] != want {
				t.Fatal("record does not end at the delimiter")
			}
			if !bytes.HasPrefix(data, p) {
				t.Fatal("record is not a prefix of the input")
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	c := delim.Lines()
	in := []byte("a line of about sixty four bytes, give or take a few more ones\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, n, err := c.Decode(in, 1<<20); n == 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}
