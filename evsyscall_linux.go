package getty

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event-loop engine's sockets are non-blocking: a read or write
// returns at once, so it is made as a raw system call, without handing
// the processor to the scheduler and taking it back (entersyscall and
// exitsyscall, about 2% of the CPU of a small-message ping-pong). A raw
// call must never block: only these, on these sockets, are made raw.

// zeroBuf stands in for the buffer of an empty read or write.
var zeroBuf byte

func bufPtr(b []byte) uintptr {
	if len(b) == 0 {
		return uintptr(unsafe.Pointer(&zeroBuf))
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// rawRead is read(2) on a non-blocking descriptor.
func rawRead(fd int32, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), bufPtr(b), uintptr(len(b)))
	return rawResult(n, errno)
}

// rawWrite is write(2) on a non-blocking descriptor.
func rawWrite(fd int32, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), bufPtr(b), uintptr(len(b)))
	return rawResult(n, errno)
}

// rawWritev is writev(2) of iov (not empty) on a non-blocking descriptor;
// write(2) when iov has one segment (frames sent on as they came merge
// into one), which spares the kernel the iovec import.
func rawWritev(fd int32, iov []iovec) (int, error) {
	call, arg, cnt := uintptr(unix.SYS_WRITEV), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov))
	if len(iov) == 1 {
		call, arg, cnt = unix.SYS_WRITE, uintptr(unsafe.Pointer(iov[0].Base)), uintptr(iov[0].Len)
	}
	n, _, errno := syscall.RawSyscall(call, uintptr(fd), arg, cnt)
	return rawResult(n, errno)
}

func rawResult(n uintptr, errno syscall.Errno) (int, error) {
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
