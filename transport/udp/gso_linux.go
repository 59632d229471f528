package udp

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSegments caps the datagrams of one segmentation-offload send (the
// kernel's UDP_MAX_SEGMENTS is 64 on older kernels).
const maxSegments = 64

// segmentOOBSize is the control-message space of UDP_SEGMENT.
var segmentOOBSize = unix.CmsgSpace(2)

// gsoSupported reports whether the kernel segments UDP for us (UDP_SEGMENT,
// Linux 4.18): one send then carries several equal-size datagrams to one
// destination through the stack at once.
func gsoSupported(rc syscall.RawConn) bool {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		_, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); cerr != nil {
		return false
	}
	return err == nil
}

// putSegmentSize writes a UDP_SEGMENT control message for segments of size
// bytes into b, which has segmentOOBSize bytes, and returns it.
func putSegmentSize(b []byte, size int) []byte {
	const hdr = unix.SizeofCmsghdr
	const lenSize = hdr - 8
	b = b[:segmentOOBSize]
	clear(b)
	if lenSize == 8 {
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(2)))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(2)))
	}
	binary.NativeEndian.PutUint32(b[lenSize:], uint32(unix.SOL_UDP))
	binary.NativeEndian.PutUint32(b[lenSize+4:], uint32(unix.UDP_SEGMENT))
	binary.NativeEndian.PutUint16(b[hdr:], uint16(size))
	return b
}

// gsoFailure reports send errors after which segmentation offload is off
// for the socket: the device or the kernel cannot do it.
func gsoFailure(err error) bool {
	return errorIs(err, syscall.EIO) || errorIs(err, syscall.EOPNOTSUPP) || errorIs(err, syscall.ENOPROTOOPT)
}
