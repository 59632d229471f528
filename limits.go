package getty

import (
	"net"
	"net/netip"
	"sync"
)

// ipLimiter counts the live sessions of each remote IP address for
// ServerOptions.MaxSessionsPerIP.
type ipLimiter struct {
	max int
	mu  sync.Mutex
	n   map[netip.Addr]int
}

func newIPLimiter(max int) *ipLimiter {
	if max <= 0 {
		return nil
	}
	return &ipLimiter{max: max, n: make(map[netip.Addr]int)}
}

// acquire counts a session from addr. It reports false when addr's IP holds
// the maximum already; addresses without an IP (Unix sockets) are not
// limited (ok is true, ip invalid).
func (l *ipLimiter) acquire(addr net.Addr) (ip netip.Addr, ok bool) {
	ip = ipOf(addr)
	if !ip.IsValid() {
		return ip, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] >= l.max {
		return netip.Addr{}, false
	}
	l.n[ip]++
	return ip, true
}

// release uncounts a session acquired for ip.
func (l *ipLimiter) release(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip]--; l.n[ip] <= 0 {
		delete(l.n, ip)
	}
}

func ipOf(addr net.Addr) netip.Addr {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort().Addr().Unmap()
	default:
		return netip.Addr{}
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}
