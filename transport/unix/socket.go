//go:build linux

package unix

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/gettynet/getty"
	xunix "golang.org/x/sys/unix"
)

// maxPath is the longest name sun_path holds (108 bytes with its NUL).
const maxPath = len(xunix.RawSockaddrUnix{}.Path) - 1

// listenBacklog is passed to listen(2); the kernel caps it at
// net.core.somaxconn.
const listenBacklog = 1 << 16

func isAbstract(path string) bool { return strings.HasPrefix(path, "@") }

func sotypeOf(network Network) int {
	switch network {
	case Datagram:
		return xunix.SOCK_DGRAM
	case Seqpacket:
		return xunix.SOCK_SEQPACKET
	}
	return xunix.SOCK_STREAM
}

// sockFile is a socket file this process bound. remove deletes it once, and
// only if the path still names the same file (a successor may have replaced
// it).
type sockFile struct {
	path     string
	dev, ino uint64
	once     sync.Once
}

func newSockFile(path string) (*sockFile, error) {
	var st xunix.Stat_t
	if err := xunix.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return &sockFile{path: path, dev: st.Dev, ino: st.Ino}, nil
}

// remove deletes the file if it is still the one bound. A nil f is a no-op
// (abstract and autobind addresses have no file).
func (f *sockFile) remove() error {
	if f == nil {
		return nil
	}
	var err error
	f.once.Do(func() {
		var st xunix.Stat_t
		if xunix.Lstat(f.path, &st) != nil || st.Dev != f.dev || st.Ino != f.ino {
			return // gone or replaced: not ours any more
		}
		if rerr := os.Remove(f.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	})
	return err
}

func checkPath(path string) error {
	if path == "" {
		return fmt.Errorf("%w: unix: empty socket path", getty.ErrInvalidOptions)
	}
	if len(path) > maxPath {
		return fmt.Errorf("%w: unix: socket path is %d bytes, the kernel allows %d: %s", getty.ErrInvalidOptions, len(path), maxPath, path)
	}
	return nil
}

// clearStale makes path free to bind: nothing there, or a socket file no
// live socket of sotype owns (which it removes). A live owner, or anything
// that is not a socket, is reported as ErrAddrInUse.
func clearStale(path string, sotype int) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s exists and is not a socket", ErrAddrInUse, path)
	}
	err = probe(path, sotype)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s: a live server owns it", ErrAddrInUse, path)
	case errors.Is(err, xunix.ECONNREFUSED):
		// Nobody is bound to it: a server died without removing it.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unix: removing stale socket file: %w", err)
		}
		return nil
	case errors.Is(err, xunix.ENOENT):
		return nil // removed meanwhile
	case errors.Is(err, xunix.EPROTOTYPE):
		return fmt.Errorf("%w: %s: a live socket of another type owns it", ErrAddrInUse, path)
	}
	return fmt.Errorf("%w: %s: cannot tell whether a live server owns it: %w", ErrAddrInUse, path, err)
}

// probe connects a throwaway socket to path: nil means a live socket
// answered (a stream server then sees a connection close at once).
func probe(path string, sotype int) error {
	fd, err := xunix.Socket(xunix.AF_UNIX, sotype|xunix.SOCK_NONBLOCK|xunix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer xunix.Close(fd) //nolint:errcheck // a throwaway socket
	err = xunix.Connect(fd, &xunix.SockaddrUnix{Name: path})
	if err == xunix.EAGAIN || err == xunix.EINPROGRESS {
		return nil // a live listener with a full backlog
	}
	return err
}

// bindSocket creates a non-blocking socket of sotype bound to path ("" for
// an autobind abstract address), replacing a stale file and applying the
// mode and buffer sizes. The returned file is nil for abstract addresses.
func bindSocket(sotype int, path string, cfg *Config) (fd int, file *sockFile, err error) {
	fileBacked := path != "" && !isAbstract(path)
	if path != "" {
		if err := checkPath(path); err != nil {
			return -1, nil, err
		}
	}
	if fileBacked {
		if err := clearStale(path, sotype); err != nil {
			return -1, nil, err
		}
	}
	fd, err = xunix.Socket(xunix.AF_UNIX, sotype|xunix.SOCK_NONBLOCK|xunix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, os.NewSyscallError("socket", err)
	}
	fail := func(e error) (int, *sockFile, error) {
		xunix.Close(fd) //nolint:errcheck // the bind failed; its error is returned
		if file != nil {
			file.remove() //nolint:errcheck // best effort cleanup of our own file
		}
		return -1, nil, e
	}
	if cfg.ReadBuffer > 0 {
		if err := xunix.SetsockoptInt(fd, xunix.SOL_SOCKET, xunix.SO_RCVBUF, cfg.ReadBuffer); err != nil {
			return fail(os.NewSyscallError("setsockopt", err))
		}
	}
	if cfg.WriteBuffer > 0 {
		if err := xunix.SetsockoptInt(fd, xunix.SOL_SOCKET, xunix.SO_SNDBUF, cfg.WriteBuffer); err != nil {
			return fail(os.NewSyscallError("setsockopt", err))
		}
	}
	if fileBacked {
		// The kernel creates the file with the socket's own mode less the
		// umask: no peer ever sees wider permissions than Mode. The chmod
		// after bind then restores bits the umask took away.
		if err := xunix.Fchmod(fd, uint32(cfg.Mode.Perm())); err != nil {
			return fail(os.NewSyscallError("fchmod", err))
		}
	}
	if err := xunix.Bind(fd, &xunix.SockaddrUnix{Name: path}); err != nil {
		if errors.Is(err, xunix.EADDRINUSE) {
			return fail(fmt.Errorf("%w: %s: %w", ErrAddrInUse, path, err))
		}
		return fail(&net.OpError{Op: "bind", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("bind", err)})
	}
	if fileBacked {
		if file, err = newSockFile(path); err != nil {
			return fail(err)
		}
		if err := os.Chmod(path, cfg.Mode.Perm()); err != nil {
			return fail(err)
		}
	}
	return fd, file, nil
}

// fdFile wraps fd in an *os.File for net.FileListener and friends, which
// duplicate it; the caller closes the returned file.
func fdFile(fd int, name string) *os.File { return os.NewFile(uintptr(fd), name) }

func listenStream(network Network, path string, cfg *Config) (*net.UnixListener, *sockFile, error) {
	fd, file, err := bindSocket(sotypeOf(network), path, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := xunix.Listen(fd, listenBacklog); err != nil {
		xunix.Close(fd) //nolint:errcheck // the listen failed; its error is returned
		file.remove()   //nolint:errcheck // best effort cleanup of our own file
		return nil, nil, os.NewSyscallError("listen", err)
	}
	f := fdFile(fd, path)
	ln, err := net.FileListener(f)
	f.Close() //nolint:errcheck // FileListener holds its own duplicate
	if err != nil {
		file.remove() //nolint:errcheck // best effort cleanup of our own file
		return nil, nil, err
	}
	return ln.(*net.UnixListener), file, nil
}

func listenPacket(path string, cfg *Config) (*PacketConn, error) {
	fd, file, err := bindSocket(xunix.SOCK_DGRAM, path, cfg)
	if err != nil {
		return nil, err
	}
	return newPacketConn(fd, file, false, cfg)
}

func dialPacket(addr, local string, cfg *Config) (*PacketConn, error) {
	if err := checkPath(addr); err != nil {
		return nil, err
	}
	fd, file, err := bindSocket(xunix.SOCK_DGRAM, local, cfg)
	if err != nil {
		return nil, err
	}
	if err := xunix.Connect(fd, &xunix.SockaddrUnix{Name: addr}); err != nil {
		xunix.Close(fd) //nolint:errcheck // the dial failed; its error is returned
		file.remove()   //nolint:errcheck // best effort cleanup of our own file
		return nil, &net.OpError{Op: "dial", Net: string(Datagram), Addr: &net.UnixAddr{Name: addr, Net: string(Datagram)}, Err: os.NewSyscallError("connect", err)}
	}
	return newPacketConn(fd, file, true, cfg)
}

// rawControl runs f on the descriptor of a connection that has one.
func rawControl(c any, f func(fd uintptr)) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("unix: %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(f)
}
