package getty

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// rawWriter makes single non-blocking write attempts on a socket's file
// descriptor, so that the goroutine that flushes a session never waits for
// a slow peer: what the kernel does not take at once is left to a
// background flusher. Only the session's current flusher uses it.
type rawWriter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // bound once, so attempts do not allocate
	bufs [][]byte
	one  [1][]byte // scratch for tryOne
	iov  []syscall.Iovec
	n    int
	err  error
}

// newRawWriter returns nil when c gives no access to its descriptor.
func newRawWriter(c net.Conn) *rawWriter {
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawWriter{rc: rc}
	r.fn = r.attempt
	return r
}

// try writes as much of bufs as the kernel takes now. It returns the bytes
// written; a full socket buffer is not an error.
func (r *rawWriter) try(bufs [][]byte) (int, error) {
	r.bufs, r.n, r.err = bufs, 0, nil
	if err := r.rc.Write(r.fn); err != nil {
		r.bufs = nil
		return 0, err
	}
	r.bufs = nil
	return r.n, r.err
}

// tryOne is try with one buffer.
func (r *rawWriter) tryOne(b []byte) (int, error) {
	r.one[0] = b
	n, err := r.try(r.one[:])
	r.one[0] = nil
	return n, err
}

func (r *rawWriter) attempt(fd uintptr) bool {
	for {
		var n int
		var err error
		if len(r.bufs) == 1 {
			n, err = syscall.Write(int(fd), r.bufs[0])
		} else {
			n, err = r.writev(fd)
		}
		switch {
		case err == nil:
			r.n = n
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			r.n = 0
		default:
			r.err = err
		}
		return true
	}
}

const maxIovecs = 1024 // IOV_MAX on Linux

func (r *rawWriter) writev(fd uintptr) (int, error) {
	r.iov = r.iov[:0]
	for _, b := range r.bufs {
		if len(b) == 0 {
			continue
		}
		if len(r.iov) == maxIovecs {
			break
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		r.iov = append(r.iov, v)
	}
	if len(r.iov) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(len(r.iov)))
	clear(r.iov)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
