//go:build linux

package unix

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gettynet/getty"
	xunix "golang.org/x/sys/unix"
)

func FuzzAddrName(f *testing.F) {
	for _, seed := range []string{"", "\x00", "\x0012345", "/tmp/g/s\x00", "/tmp/g/s", "rel\x00junk", "\x00a\x00b"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > maxPath+1 {
			return
		}
		name := addrName(raw)
		switch {
		case len(raw) == 0:
			if name != "" {
				t.Fatalf("addrName(empty) = %q", name)
			}
		case raw[0] == 0:
			if name != "@"+string(raw[1:]) {
				t.Fatalf("abstract %q named %q", raw, name)
			}
		default:
			if strings.IndexByte(name, 0) >= 0 || !bytes.HasPrefix(raw, []byte(name)) {
				t.Fatalf("path %q named %q", raw, name)
			}
		}
	})
}

// FuzzReadMessage sends one datagram of size bytes through a socket pair
// and reads it with a session limit of max and a first buffer of buf
// bytes: the one-call path, the peek path and buffer growth must all
// return it whole, or refuse it when it is over max, and the next datagram
// must still come through.
func FuzzReadMessage(f *testing.F) {
	f.Add(uint32(0), uint32(1), uint32(1))
	f.Add(uint32(100), uint32(100), uint32(16))
	f.Add(uint32(101), uint32(100), uint32(16))
	f.Add(uint32(101), uint32(100), uint32(1000))
	f.Add(uint32(70000), uint32(1<<20), uint32(1024))
	f.Add(uint32(200000), uint32(150000), uint32(256<<10))
	f.Fuzz(func(t *testing.T, size, max, buf uint32) {
		size, max, buf = size%(210<<10), max%(300<<10)+4, buf%(300<<10)
		fds, err := xunix.Socketpair(xunix.AF_UNIX, xunix.SOCK_DGRAM|xunix.SOCK_NONBLOCK|xunix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer xunix.Close(fds[1])
		c, err := newPacketConn(fds[0], nil, false, &Config{MessageBuffer: int(buf)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i % 251)
		}
		for _, m := range [][]byte{msg, []byte("next")} {
			if _, err := xunix.Write(fds[1], m); err != nil {
				t.Fatal(err)
			}
		}
		m, err := c.ReadMessage(int(max))
		if int(size) > int(max) {
			if !errors.Is(err, getty.ErrMessageTooLarge) {
				t.Fatalf("%d-byte datagram over max %d: err = %v", size, max, err)
			}
		} else if err != nil || !bytes.Equal(m.Data, msg) {
			t.Fatalf("%d-byte datagram (max %d, buffer %d): got %d bytes, err %v", size, max, buf, len(m.Data), err)
		}
		if m, err := c.ReadMessage(int(max)); err != nil || string(m.Data) != "next" {
			t.Fatalf("next datagram: %q, %v", m.Data, err)
		}
	})
}
