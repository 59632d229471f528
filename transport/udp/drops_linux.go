package udp

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropOOBSize is the control-message space each received datagram needs for
// the kernel's drop counter.
var dropOOBSize = unix.CmsgSpace(4)

// enableDropCount asks the kernel to attach the socket's cumulative count of
// dropped datagrams (SO_RXQ_OVFL) to every datagram it delivers.
func enableDropCount(rc syscall.RawConn) bool {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// parseDropCount finds the SO_RXQ_OVFL counter in a datagram's control
// messages. The kernel leaves it out while the count is zero.
func parseDropCount(oob []byte) (uint32, bool) {
	// struct cmsghdr is {size_t len; int level; int type}, then the data.
	const hdr = unix.SizeofCmsghdr
	const lenSize = hdr - 8
	for len(oob) >= hdr {
		var l int
		if lenSize == 8 {
			l = int(binary.NativeEndian.Uint64(oob))
		} else {
			l = int(binary.NativeEndian.Uint32(oob))
		}
		level := int32(binary.NativeEndian.Uint32(oob[lenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[lenSize+4:]))
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if level == unix.SOL_SOCKET && typ == unix.SO_RXQ_OVFL && l >= hdr+4 {
			return binary.NativeEndian.Uint32(oob[hdr : hdr+4]), true
		}
		oob = oob[min(unix.CmsgSpace(l-hdr), len(oob)):]
	}
	return 0, false
}
