//go:build linux

package unix

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"unsafe"

	xunix "golang.org/x/sys/unix"
)

// msgReader receives whole messages (datagrams or seqpacket records) with
// recvmsg(2) through the runtime poller, so read deadlines hold. One
// goroutine uses it at a time (the session's read loop).
//
// The recvmsg arguments and results live in the struct, and the callback
// that the poller runs is bound once, so receiving allocates nothing.
type msgReader struct {
	rc      syscall.RawConn
	network string // "unixgram" or "unixpacket", for addresses
	initial int    // first buffer size
	buf     []byte

	// One recvmsg call: arguments, then results.
	p      []byte
	flags  int
	n      int
	rflags int
	errno  error
	name   xunix.RawSockaddrUnix
	msg    xunix.Msghdr
	iov    xunix.Iovec
	fn     func(fd uintptr) bool

	// The last sender, whose *net.UnixAddr is reused while it repeats.
	lastName [len(xunix.RawSockaddrUnix{}.Path)]byte
	lastLen  int
	lastAddr *net.UnixAddr
}

func (r *msgReader) init(rc syscall.RawConn, network string, initial int) {
	if initial <= 0 {
		initial = DefaultMessageBuffer
	}
	r.rc, r.network, r.initial = rc, network, initial
	r.fn = r.call
}

// recv runs one recvmsg into p with flags, waiting for a message.
func (r *msgReader) recv(p []byte, flags int) (n, rflags int, err error) {
	r.p, r.flags = p, flags
	err = r.rc.Read(r.fn)
	r.p = nil
	r.iov.Base = nil
	if err == nil {
		err = r.errno
	}
	return r.n, r.rflags, err
}

// call is the poller callback: false means "would block, wait".
func (r *msgReader) call(fd uintptr) bool {
	r.iov = xunix.Iovec{}
	if len(r.p) > 0 {
		r.iov.Base = &r.p[0]
		r.iov.SetLen(len(r.p))
	}
	r.msg = xunix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(&r.name)),
		Namelen: uint32(unsafe.Sizeof(r.name)),
		Iov:     &r.iov,
	}
	r.msg.SetIovlen(1)
	for {
		n, _, e := xunix.Syscall(xunix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), uintptr(r.flags))
		switch e {
		case 0:
			r.n, r.rflags, r.errno = int(n), int(r.msg.Flags), nil
			return true
		case xunix.EINTR:
			continue
		case xunix.EAGAIN:
			return false
		}
		r.n, r.rflags, r.errno = 0, 0, os.NewSyscallError("recvmsg", e)
		return true
	}
}

// next receives the next message. It returns the message's real size; a
// message over limit is consumed and returned with data == nil. The data
// is valid until the next call.
//
// While the buffer holds more than limit bytes, one recvmsg does: whatever
// it truncates is over limit anyway. Otherwise the size is peeked first,
// and the buffer grows (up to limit+1) when a message needs it.
func (r *msgReader) next(limit int) (data []byte, size int, err error) {
	if r.buf == nil {
		r.buf = make([]byte, min(limit+1, r.initial))
	}
	if len(r.buf) > limit {
		n, _, err := r.recv(r.buf, xunix.MSG_TRUNC) // MSG_TRUNC: n is the real size
		if err != nil {
			return nil, 0, err
		}
		if n > limit {
			return nil, n, nil
		}
		return r.buf[:n], n, nil
	}
	n, _, err := r.recv(r.buf, xunix.MSG_PEEK|xunix.MSG_TRUNC)
	if err != nil {
		return nil, 0, err
	}
	if n > limit || n <= len(r.buf) {
		// The message is in buf already, or unwanted: consume it.
		if _, _, err := r.recv(nil, xunix.MSG_TRUNC); err != nil {
			return nil, 0, err
		}
		if n > limit {
			return nil, n, nil
		}
		return r.buf[:n], n, nil
	}
	size = max(len(r.buf), 1)
	for size < n {
		size *= 2
	}
	r.buf = make([]byte, min(size, limit+1))
	n, _, err = r.recv(r.buf, xunix.MSG_TRUNC)
	if err != nil {
		return nil, 0, err
	}
	if n > limit {
		return nil, n, nil
	}
	return r.buf[:n], n, nil
}

// from is the sender of the last message received, or nil if the sender's
// socket had no address (it never bound one).
func (r *msgReader) from() net.Addr {
	nl := int(r.msg.Namelen) - int(unsafe.Offsetof(r.name.Path))
	if nl <= 0 {
		return nil
	}
	nl = min(nl, len(r.name.Path))
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&r.name.Path[0])), nl)
	if r.lastAddr != nil && r.lastLen == nl && bytes.Equal(r.lastName[:nl], raw) {
		return r.lastAddr
	}
	name := addrName(raw)
	copy(r.lastName[:], raw)
	r.lastLen = nl
	r.lastAddr = &net.UnixAddr{Name: name, Net: r.network}
	return r.lastAddr
}

// addrName turns the sun_path bytes of a received address into a name as
// package net writes it: a path, or "@" and the abstract name.
func addrName(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == 0 {
		return "@" + string(raw[1:]) // abstract: no trailing NUL
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		return string(raw[:i])
	}
	return string(raw)
}
