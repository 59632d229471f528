package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrNoHeader means the connection did not start with a PROXY protocol
	// signature: the peer is not a proxy that sends one (or the proxy is not
	// configured to).
	ErrNoHeader = errors.New("proxyproto: connection did not start with a PROXY protocol header")
	// ErrMalformed means the header started with a signature but broke the
	// specification.
	ErrMalformed = errors.New("proxyproto: malformed PROXY protocol header")
	// ErrHeaderTimeout means the header did not arrive within
	// Config.HeaderTimeout. It wraps os.ErrDeadlineExceeded.
	ErrHeaderTimeout = errors.New("proxyproto: PROXY protocol header timeout")
	// ErrUntrusted means the connection came from an address outside
	// Config.Trusted.
	ErrUntrusted = errors.New("proxyproto: connection from an untrusted address")
)

// Command says whether a header carries addresses.
type Command uint8

// Commands. A LOCAL header (v2) comes from the proxy itself (a health
// check); PROXY relays a client.
const (
	Local Command = 0
	Proxy Command = 1
)

func (c Command) String() string {
	if c == Local {
		return "LOCAL"
	}
	return "PROXY"
}

// TLV is one type-length-value extension of a version 2 header (the
// PP2_TYPE_* values of the specification: ALPN, authority, CRC32C, unique
// id, SSL details, cloud-provider specific types...).
type TLV struct {
	Type  byte
	Value []byte
}

// TLV types defined by the specification.
const (
	TypeALPN      byte = 0x01
	TypeAuthority byte = 0x02
	TypeCRC32C    byte = 0x03
	TypeNoop      byte = 0x04
	TypeUniqueID  byte = 0x05
	TypeSSL       byte = 0x20
	TypeNetNS     byte = 0x30
)

// Header is a parsed PROXY protocol header.
type Header struct {
	// Version is 1 (the text format) or 2 (binary).
	Version int
	// Command is Proxy, or Local for a v2 header sent by the proxy on its
	// own behalf.
	Command Command
	// Source and Destination are the client's address and the address it
	// connected to, as the proxy saw them: *net.TCPAddr (v1, and v2 over
	// stream), *net.UDPAddr (v2 over datagrams) or *net.UnixAddr (v2 AF_UNIX).
	// They are nil for a LOCAL header, v1 "UNKNOWN" and v2 AF_UNSPEC: the
	// connection's own addresses apply.
	Source, Destination net.Addr
	// TLVs are the extensions of a v2 header, in order. Their values point
	// into a buffer owned by the Header.
	TLVs []TLV
}

// TLV returns the value of the first extension of type typ.
func (h *Header) TLV(typ byte) ([]byte, bool) {
	for _, t := range h.TLVs {
		if t.Type == typ {
			return t.Value, true
		}
	}
	return nil, false
}

const (
	v1Prefix  = "PROXY "
	v1MaxLine = 107 // the longest v1 line, CRLF included
	v2HdrLen  = 16
	// MaxHeaderLen is the longest possible header: a v2 header with 64 KiB
	// of addresses and extensions.
	MaxHeaderLen = v2HdrLen + 0xFFFF
)

// v2Signature starts every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Parse parses the header at the start of b. It returns the header and its
// length; n == 0 with a nil error means b holds only the beginning of a
// header and more bytes are needed. The Header does not point into b.
func Parse(b []byte) (h *Header, n int, err error) {
	switch {
	case len(b) == 0:
		return nil, 0, nil
	case b[0] == v2Signature[0]:
		if len(b) < len(v2Signature) {
			if !bytes.HasPrefix(v2Signature, b) {
				return nil, 0, ErrNoHeader
			}
			return nil, 0, nil
		}
		if !bytes.HasPrefix(b, v2Signature) {
			return nil, 0, ErrNoHeader
		}
		return parseV2(b)
	case b[0] == v1Prefix[0]:
		if len(b) < len(v1Prefix) {
			if !bytes.HasPrefix([]byte(v1Prefix), b) {
				return nil, 0, ErrNoHeader
			}
			return nil, 0, nil
		}
		if !bytes.HasPrefix(b, []byte(v1Prefix)) {
			return nil, 0, ErrNoHeader
		}
		return parseV1(b)
	}
	return nil, 0, ErrNoHeader
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func parseV1(b []byte) (*Header, int, error) {
	end := bytes.Index(b[:min(len(b), v1MaxLine)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= v1MaxLine {
			return nil, 0, malformed("v1: no CRLF within %d bytes", v1MaxLine)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return nil, 0, malformed("v1: line ends without CR")
		}
		return nil, 0, nil
	}
	line := string(b[:end])
	f := splitSpaces(line)
	h := &Header{Version: 1, Command: Proxy}
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return h, end + 2, nil // the rest of the line is to be ignored
	}
	if len(f) != 6 {
		return nil, 0, malformed("v1: %q: want PROXY TCP4|TCP6 src dst sport dport", line)
	}
	var want6 bool
	switch f[1] {
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return nil, 0, malformed("v1: unknown protocol %q", f[1])
	}
	src, err := v1Addr(f[2], f[4], want6)
	if err != nil {
		return nil, 0, err
	}
	dst, err := v1Addr(f[3], f[5], want6)
	if err != nil {
		return nil, 0, err
	}
	h.Source, h.Destination = src, dst
	return h, end + 2, nil
}

// splitSpaces splits on single spaces; two spaces in a row give an empty
// field, which the callers refuse.
func splitSpaces(s string) []string {
	var f []string
	for {
		i := 0
		for i < len(s) && s[i] != ' ' {
			i++
		}
		f = append(f, s[:i])
		if i == len(s) || len(f) > 6 {
			return f
		}
		s = s[i+1:]
	}
}

func v1Addr(ip, port string, want6 bool) (*net.TCPAddr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4() == want6 {
		fam := "TCP4"
		if want6 {
			fam = "TCP6"
		}
		return nil, malformed("v1: %q is not an %s address", ip, fam)
	}
	p, err := v1Port(port)
	if err != nil {
		return nil, err
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, p)), nil
}

func v1Port(s string) (uint16, error) {
	if len(s) == 0 || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, malformed("v1: bad port %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, malformed("v1: bad port %q", s)
		}
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, malformed("v1: bad port %q", s)
	}
	return uint16(p), nil
}

// Address families and transport protocols of v2 headers.
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoUnspec = 0x0
	protoStream = 0x1
	protoDgram  = 0x2
)

func parseV2(b []byte) (*Header, int, error) {
	if len(b) < v2HdrLen {
		return nil, 0, nil
	}
	verCmd, famProto := b[12], b[13]
	if verCmd>>4 != 2 {
		return nil, 0, malformed("v2: version %d", verCmd>>4)
	}
	cmd := Command(verCmd & 0xF)
	if cmd != Local && cmd != Proxy {
		return nil, 0, malformed("v2: command %d", cmd)
	}
	fam, proto := famProto>>4, famProto&0xF
	if fam > famUnix || proto > protoDgram {
		return nil, 0, malformed("v2: address family %d, protocol %d", fam, proto)
	}
	n := v2HdrLen + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < n {
		return nil, 0, nil
	}
	body := b[v2HdrLen:n]
	var addrLen int
	switch fam {
	case famInet:
		addrLen = 12
	case famInet6:
		addrLen = 36
	case famUnix:
		addrLen = 216
	}
	if len(body) < addrLen {
		return nil, 0, malformed("v2: %d bytes of addresses, the family needs %d", len(body), addrLen)
	}
	h := &Header{Version: 2, Command: cmd}
	if cmd == Proxy && fam != famUnspec && proto != protoUnspec {
		h.Source, h.Destination = v2Addrs(fam, proto, body[:addrLen])
	}
	tlvs := body[addrLen:]
	if len(tlvs) > 0 {
		own := bytes.Clone(tlvs)
		for len(own) > 0 {
			if len(own) < 3 {
				return nil, 0, malformed("v2: %d stray bytes after the extensions", len(own))
			}
			l := 3 + int(binary.BigEndian.Uint16(own[1:3]))
			if l > len(own) {
				return nil, 0, malformed("v2: extension 0x%02x of %d bytes overruns the header", own[0], l-3)
			}
			h.TLVs = append(h.TLVs, TLV{Type: own[0], Value: own[3:l:l]})
			own = own[l:]
		}
	}
	return h, n, nil
}

func v2Addrs(fam, proto byte, a []byte) (src, dst net.Addr) {
	mk := func(ip []byte, port []byte) net.Addr {
		addr, _ := netip.AddrFromSlice(ip)
		ap := netip.AddrPortFrom(addr, binary.BigEndian.Uint16(port))
		if proto == protoDgram {
			return net.UDPAddrFromAddrPort(ap)
		}
		return net.TCPAddrFromAddrPort(ap)
	}
	switch fam {
	case famInet:
		return mk(a[0:4], a[8:10]), mk(a[4:8], a[10:12])
	case famInet6:
		return mk(a[0:16], a[32:34]), mk(a[16:32], a[34:36])
	}
	network := "unix"
	if proto == protoDgram {
		network = "unixgram"
	}
	return &net.UnixAddr{Net: network, Name: cString(a[0:108])}, &net.UnixAddr{Net: network, Name: cString(a[108:216])}
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Append appends the header in its Version's format (1 or 2) to dst. A
// version 1 header carries TCP4 or TCP6 addresses, or says UNKNOWN when
// Source or Destination is nil; it cannot carry TLVs nor a LOCAL command.
func (h *Header) Append(dst []byte) ([]byte, error) {
	switch h.Version {
	case 1:
		return h.appendV1(dst)
	case 2:
		return h.appendV2(dst)
	}
	return dst, fmt.Errorf("proxyproto: version %d", h.Version)
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort(), true
	case *net.UDPAddr:
		return a.AddrPort(), true
	}
	return netip.AddrPort{}, false
}

func (h *Header) appendV1(dst []byte) ([]byte, error) {
	if h.Command != Proxy || len(h.TLVs) > 0 {
		return dst, errors.New("proxyproto: a v1 header has neither LOCAL nor TLVs")
	}
	src, ok1 := addrPort(h.Source)
	dstA, ok2 := addrPort(h.Destination)
	if !ok1 || !ok2 {
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	}
	s, d := src.Addr().Unmap(), dstA.Addr().Unmap()
	fam := "TCP4"
	if !s.Is4() || !d.Is4() {
		fam = "TCP6"
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	dst = append(dst, v1Prefix+fam+" "...)
	dst = append(dst, s.WithZone("").String()+" "+d.WithZone("").String()+" "...)
	dst = strconv.AppendUint(dst, uint64(src.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(dstA.Port()), 10)
	return append(dst, "\r\n"...), nil
}

func (h *Header) appendV2(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, v2Signature...)
	dst = append(dst, 0x20|byte(h.Command&1), 0, 0, 0)
	famAt := start + 12 + 1
	var body int
	src, ok1 := addrPort(h.Source)
	dstA, ok2 := addrPort(h.Destination)
	su, uok1 := h.Source.(*net.UnixAddr)
	du, uok2 := h.Destination.(*net.UnixAddr)
	proto := byte(protoStream)
	if _, ok := h.Source.(*net.UDPAddr); ok {
		proto = protoDgram
	}
	switch {
	case h.Command == Local:
	case ok1 && ok2:
		s, d := src.Addr().Unmap(), dstA.Addr().Unmap()
		if s.Is4() && d.Is4() {
			dst[famAt] = famInet<<4 | proto
			a4, b4 := s.As4(), d.As4()
			dst = append(dst, a4[:]...)
			dst = append(dst, b4[:]...)
			body = 12
		} else {
			dst[famAt] = famInet6<<4 | proto
			a16, b16 := s.As16(), d.As16()
			dst = append(dst, a16[:]...)
			dst = append(dst, b16[:]...)
			body = 36
		}
		dst = binary.BigEndian.AppendUint16(dst, src.Port())
		dst = binary.BigEndian.AppendUint16(dst, dstA.Port())
	case uok1 && uok2:
		if len(su.Name) > 108 || len(du.Name) > 108 {
			return dst[:start], errors.New("proxyproto: unix path longer than 108 bytes")
		}
		proto = protoStream
		if su.Net == "unixgram" {
			proto = protoDgram
		}
		dst[famAt] = famUnix<<4 | proto
		var p [216]byte
		copy(p[:108], su.Name)
		copy(p[108:], du.Name)
		dst = append(dst, p[:]...)
		body = 216
	}
	for _, t := range h.TLVs {
		if len(t.Value) > 0xFFFF {
			return dst[:start], errors.New("proxyproto: TLV longer than 64 KiB")
		}
		dst = append(dst, t.Type)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(t.Value)))
		dst = append(dst, t.Value...)
		body += 3 + len(t.Value)
	}
	if body > 0xFFFF {
		return dst[:start], errors.New("proxyproto: header longer than 64 KiB")
	}
	binary.BigEndian.PutUint16(dst[start+14:], uint16(body))
	return dst, nil
}
