// Command goepoll is the "physical limit" reference of the benchmark
// harness in Go: one thread, one level-triggered epoll set, non-blocking
// sockets, one shared 64 KiB read buffer; bytes are written straight back,
// and only what the socket does not take is kept (per connection) until
// EPOLLOUT. No framing, no goroutines, no allocation per read.
package main

import (
	"flag"
	"log"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

type conn struct {
	pending []byte // bytes the socket did not take yet
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	runtime.LockOSThread()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) //nolint:errcheck // best effort
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		log.Fatal(err)
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		log.Fatal(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		log.Fatal(err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		log.Fatal(err)
	}
	conns := map[int]*conn{}
	buf := make([]byte, 64<<10)
	events := make([]unix.EpollEvent, 256)
	closeConn := func(fd int) {
		unix.Close(fd) //nolint:errcheck // closing a dead connection
		delete(conns, fd)
	}
	for {
		n, err := unix.EpollWait(ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					nfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) //nolint:errcheck // best effort
					conns[nfd] = &conn{}
					unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, nfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(nfd)}) //nolint:errcheck // a failure leaves it idle
				}
				continue
			}
			c := conns[fd]
			if c == nil {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 && len(c.pending) > 0 {
				w, err := unix.Write(fd, c.pending)
				if err != nil && err != unix.EAGAIN {
					closeConn(fd)
					continue
				}
				if w > 0 {
					c.pending = c.pending[:copy(c.pending, c.pending[w:])]
				}
				if len(c.pending) == 0 {
					unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}) //nolint:errcheck // best effort
				}
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 || len(c.pending) > 0 {
				continue // wait for the backlog to drain before reading more
			}
			r, err := unix.Read(fd, buf)
			if r <= 0 {
				if err == unix.EAGAIN {
					continue
				}
				closeConn(fd)
				continue
			}
			w, err := unix.Write(fd, buf[:r])
			if err != nil && err != unix.EAGAIN {
				closeConn(fd)
				continue
			}
			if w < 0 {
				w = 0
			}
			if w < r {
				c.pending = append(c.pending, buf[w:r]...)
				unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}) //nolint:errcheck // best effort
			}
		}
	}
}
