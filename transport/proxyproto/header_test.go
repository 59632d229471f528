package proxyproto_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/gettynet/getty/transport/proxyproto"
)

func tcpAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// v2Sig is the version 2 signature in hex.
const v2Sig = "0d0a0d0a000d0a515549540a"

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       []byte
		version  int
		cmd      proxyproto.Command
		src, dst string // "" for nil
		tlvs     int
	}{
		{name: "v1 tcp4", in: []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), version: 1, cmd: proxyproto.Proxy,
			src: "192.168.0.1:56324", dst: "192.168.0.11:443"},
		{name: "v1 tcp6", in: []byte("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"), version: 1, cmd: proxyproto.Proxy,
			src: "[2001:db8::1]:65535", dst: "[::1]:0"},
		{name: "v1 unknown", in: []byte("PROXY UNKNOWN\r\n"), version: 1, cmd: proxyproto.Proxy},
		{name: "v1 unknown with addresses", in: []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), version: 1, cmd: proxyproto.Proxy},
		{name: "v2 tcp4", in: mustHex(v2Sig + "21 11 000c 7f000001 7f000002 3039 0050"), version: 2, cmd: proxyproto.Proxy,
			src: "127.0.0.1:12345", dst: "127.0.0.2:80"},
		{name: "v2 tcp6", in: mustHex(v2Sig + "21 21 0024" + "20010db8000000000000000000000001" + "00000000000000000000000000000001" + "0001 0002"),
			version: 2, cmd: proxyproto.Proxy, src: "[2001:db8::1]:1", dst: "[::1]:2"},
		{name: "v2 local", in: mustHex(v2Sig + "20 00 0000"), version: 2, cmd: proxyproto.Local},
		{name: "v2 local with addresses ignored", in: mustHex(v2Sig + "20 11 000c 7f000001 7f000002 3039 0050"), version: 2, cmd: proxyproto.Local},
		{name: "v2 unspec", in: mustHex(v2Sig + "21 00 0003 040000"), version: 2, cmd: proxyproto.Proxy, tlvs: 1},
		{name: "v2 tlvs", in: mustHex(v2Sig + "21 11 0015 7f000001 7f000002 3039 0050 01 0002 6832 04 0001 00"), version: 2, cmd: proxyproto.Proxy,
			src: "127.0.0.1:12345", dst: "127.0.0.2:80", tlvs: 2},
		{name: "v2 udp4", in: mustHex(v2Sig + "21 12 000c 0a000001 0a000002 0035 0035"), version: 2, cmd: proxyproto.Proxy,
			src: "10.0.0.1:53", dst: "10.0.0.2:53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append(bytes.Clone(tt.in), "payload"...)
			h, n, err := proxyproto.Parse(data)
			if err != nil || n != len(tt.in) {
				t.Fatalf("Parse = %v, %d, %v; want length %d", h, n, err, len(tt.in))
			}
			if h.Version != tt.version || h.Command != tt.cmd || len(h.TLVs) != tt.tlvs {
				t.Errorf("header %+v", h)
			}
			str := func(a net.Addr) string {
				if a == nil {
					return ""
				}
				return a.String()
			}
			if str(h.Source) != tt.src || str(h.Destination) != tt.dst {
				t.Errorf("addresses %v -> %v, want %q -> %q", h.Source, h.Destination, tt.src, tt.dst)
			}
			// Every strict prefix asks for more bytes.
			for i := range len(tt.in) {
				if h, n, err := proxyproto.Parse(tt.in[:i]); h != nil || n != 0 || err != nil {
					t.Fatalf("prefix of %d bytes: %v, %d, %v", i, h, n, err)
				}
			}
		})
	}
}

func TestParseTLV(t *testing.T) {
	t.Parallel()
	h, _, err := proxyproto.Parse(mustHex(v2Sig + "21 11 0015 7f000001 7f000002 3039 0050 01 0002 6832 04 0001 00"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.TLV(proxyproto.TypeALPN); !ok || string(v) != "h2" {
		t.Errorf("ALPN = %q, %v", v, ok)
	}
	if _, ok := h.TLV(proxyproto.TypeAuthority); ok {
		t.Error("found an absent TLV")
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{name: "plain data", in: []byte("GET / HTTP/1.1\r\n"), want: proxyproto.ErrNoHeader},
		{name: "binary data", in: []byte{0, 0, 0, 5, 'h'}, want: proxyproto.ErrNoHeader},
		{name: "almost v1", in: []byte("PROXX TCP4"), want: proxyproto.ErrNoHeader},
		{name: "almost v2", in: mustHex("0d0a0d0a000d0a5155495400"), want: proxyproto.ErrNoHeader},
		{name: "v1 short prefix mismatch", in: []byte("PRX"), want: proxyproto.ErrNoHeader},
		{name: "v1 no CRLF", in: []byte("PROXY TCP4 " + strings.Repeat("1", 120)), want: proxyproto.ErrMalformed},
		{name: "v1 LF only", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), want: proxyproto.ErrMalformed},
		{name: "v1 bad family", in: []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 v6 address as TCP4", in: []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 v4 address as TCP6", in: []byte("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 bad address", in: []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 port too large", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 port sign", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 port leading zero", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 missing field", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 extra field", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 double space", in: []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "v2 version 1", in: mustHex(v2Sig + "11 11 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
		{name: "v2 command 2", in: mustHex(v2Sig + "22 11 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
		{name: "v2 family 4", in: mustHex(v2Sig + "21 41 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
		{name: "v2 protocol 3", in: mustHex(v2Sig + "21 13 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
		{name: "v2 short inet", in: mustHex(v2Sig + "21 11 0008 7f000001 7f000002"), want: proxyproto.ErrMalformed},
		{name: "v2 short inet6", in: mustHex(v2Sig + "21 21 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
		{name: "v2 tlv overrun", in: mustHex(v2Sig + "21 11 0010 7f000001 7f000002 3039 0050 01 0005 68"), want: proxyproto.ErrMalformed},
		{name: "v2 stray tlv bytes", in: mustHex(v2Sig + "21 11 000e 7f000001 7f000002 3039 0050 0100"), want: proxyproto.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := proxyproto.Parse(tt.in)
			if !errors.Is(err, tt.want) || h != nil || n != 0 {
				t.Errorf("Parse = %v, %d, %v; want %v", h, n, err, tt.want)
			}
		})
	}
}

func TestAppendRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    proxyproto.Header
		want string // for v1
	}{
		{name: "v1 tcp4", h: proxyproto.Header{Version: 1, Command: proxyproto.Proxy, Source: tcpAddr("1.2.3.4:5"), Destination: tcpAddr("6.7.8.9:10")},
			want: "PROXY TCP4 1.2.3.4 6.7.8.9 5 10\r\n"},
		{name: "v1 tcp6", h: proxyproto.Header{Version: 1, Command: proxyproto.Proxy, Source: tcpAddr("[::1]:5"), Destination: tcpAddr("[2001:db8::2]:10")},
			want: "PROXY TCP6 ::1 2001:db8::2 5 10\r\n"},
		{name: "v1 mixed families", h: proxyproto.Header{Version: 1, Command: proxyproto.Proxy, Source: tcpAddr("1.2.3.4:5"), Destination: tcpAddr("[::1]:10")},
			want: "PROXY TCP6 ::ffff:1.2.3.4 ::1 5 10\r\n"},
		{name: "v1 unknown", h: proxyproto.Header{Version: 1, Command: proxyproto.Proxy}, want: "PROXY UNKNOWN\r\n"},
		{name: "v2 tcp4 tlv", h: proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: tcpAddr("1.2.3.4:5"), Destination: tcpAddr("6.7.8.9:10"),
			TLVs: []proxyproto.TLV{{Type: proxyproto.TypeAuthority, Value: []byte("example.com")}}}},
		{name: "v2 tcp6", h: proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: tcpAddr("[::1]:5"), Destination: tcpAddr("[::2]:10")}},
		{name: "v2 udp", h: proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: &net.UDPAddr{IP: net.IPv4(1, 2, 3, 4).To4(), Port: 53}, Destination: &net.UDPAddr{IP: net.IPv4(5, 6, 7, 8).To4(), Port: 53}}},
		{name: "v2 unix", h: proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: &net.UnixAddr{Net: "unix", Name: "/tmp/a"}, Destination: &net.UnixAddr{Net: "unix", Name: "/tmp/b"}}},
		{name: "v2 local", h: proxyproto.Header{Version: 2, Command: proxyproto.Local}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.h.Append([]byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:1]) != "x" {
				t.Fatal("Append clobbered dst")
			}
			b = b[1:]
			if tt.want != "" && string(b) != tt.want {
				t.Errorf("Append = %q, want %q", b, tt.want)
			}
			got, n, err := proxyproto.Parse(b)
			if err != nil || n != len(b) {
				t.Fatalf("Parse(Append) = %v, %d, %v", got, n, err)
			}
			if got.Version != tt.h.Version || got.Command != tt.h.Command || len(got.TLVs) != len(tt.h.TLVs) {
				t.Errorf("round trip %+v -> %+v", tt.h, got)
			}
			if tt.h.Source != nil && tt.want == "" && (got.Source.String() != tt.h.Source.String() || got.Destination.String() != tt.h.Destination.String() ||
				got.Source.Network() != tt.h.Source.Network()) {
				t.Errorf("addresses %v %v -> %v %v", tt.h.Source, tt.h.Destination, got.Source, got.Destination)
			}
		})
	}
	if _, err := (&proxyproto.Header{Version: 1, Command: proxyproto.Local}).Append(nil); err == nil {
		t.Error("v1 LOCAL accepted")
	}
	if _, err := (&proxyproto.Header{Version: 3}).Append(nil); err == nil {
		t.Error("version 3 accepted")
	}
}

// FuzzParse checks that Parse never panics, never claims more than it was
// given, agrees with itself on longer input, and that what it accepts
// survives Append and Parse again.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nhello"))
	f.Add([]byte("PROXY TCP6 ::1 ::1 1 2\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(mustHex(v2Sig + "21 11 000c 7f000001 7f000002 3039 0050"))
	f.Add(mustHex(v2Sig + "21 11 0015 7f000001 7f000002 3039 0050 01 0002 6832 04 0001 00"))
	f.Add(mustHex(v2Sig + "20 00 0000"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := proxyproto.Parse(b)
		if err != nil {
			if h != nil || n != 0 {
				t.Fatalf("error %v with header %v, n %d", err, h, n)
			}
			if !errors.Is(err, proxyproto.ErrNoHeader) && !errors.Is(err, proxyproto.ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if n == 0 {
			if h != nil {
				t.Fatal("header without length")
			}
			return
		}
		if n < 0 || n > len(b) || n > proxyproto.MaxHeaderLen {
			t.Fatalf("n = %d of %d", n, len(b))
		}
		// The same header with different bytes after it parses the same.
		h2, n2, err := proxyproto.Parse(append(bytes.Clone(b[:n]), "trailing"...))
		if err != nil || n2 != n || h2.Version != h.Version {
			t.Fatalf("reparse: %v %d %v", h2, n2, err)
		}
		if h.Version == 1 && h.Source == nil {
			return // UNKNOWN: the rest of the line is not kept
		}
		if h.Command == proxyproto.Local && h.Version == 2 {
			h.Source, h.Destination = nil, nil
		}
		out, err := h.Append(nil)
		if err != nil {
			if h.Version == 2 && h.Source == nil {
				return
			}
			t.Fatalf("Append(%+v): %v", h, err)
		}
		h3, n3, err := proxyproto.Parse(out)
		if err != nil || n3 != len(out) || h3.Command != h.Command || len(h3.TLVs) != len(h.TLVs) {
			t.Fatalf("round trip %+v: %v %d %v", h, h3, n3, err)
		}
		if (h.Source == nil) != (h3.Source == nil) || (h.Source != nil && h.Source.String() != h3.Source.String()) {
			t.Fatalf("source %v became %v", h.Source, h3.Source)
		}
	})
}
