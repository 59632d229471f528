package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/gettynet/getty"
)

// Dialer opens connected UDP sockets for a getty.Client.
//
// A plain connect(2) succeeds whether or not anybody listens, so Dial does
// not stop there. It (1) refuses a socket connected to itself, (2) sends a
// probe datagram (Config.Probe, which getty endpoints drop), and (3) waits
// up to ProbeWait: if the kernel reports "connection refused" (an ICMP port
// unreachable came back), nobody listens and Dial fails with an error
// wrapping ErrUnreachable; silence or any reply means the peer is there. A
// reply to the probe is consumed by Dial.
//
// A Dialer is a value; it is safe to use from several goroutines.
type Dialer struct {
	// Addr is the peer, "host:port". A name resolves to its first address;
	// an empty host means 127.0.0.1.
	Addr string
	// LocalAddr, if set, is the local "host:port" to bind.
	LocalAddr string
	Config
	// ProbeWait is how long Dial waits for the answer to its probe (also
	// bounded by the context). Default DefaultProbeWait (100 ms); negative:
	// send no probe (only the self-connection check remains).
	ProbeWait time.Duration
}

// Dial implements getty.Dialer.
func (d Dialer) Dial(ctx context.Context) (getty.Conn, error) {
	c, err := d.DialUDP(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialUDP is Dial returning the *Conn.
func (d Dialer) DialUDP(ctx context.Context) (*Conn, error) {
	raddr, err := resolve(ctx, d.Addr)
	if err != nil {
		return nil, err
	}
	network := "udp4"
	if raddr.IP.To4() == nil {
		network = "udp6"
	}
	laddr := d.LocalAddr
	if laddr == "" {
		laddr = ":0"
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, network, laddr)
	if err != nil {
		return nil, err
	}
	uc := pc.(*net.UDPConn)
	c, err := newConn(uc, &d.Config, network == "udp6")
	if err != nil {
		uc.Close() //nolint:errcheck // the configuration error is what matters
		return nil, err
	}
	if err := d.establish(ctx, c, raddr); err != nil {
		c.Close() //nolint:errcheck // the dial failed; its error is returned
		return nil, err
	}
	return c, nil
}

func (d Dialer) establish(ctx context.Context, c *Conn, raddr *net.UDPAddr) error {
	if err := c.Connect(raddr); err != nil {
		return err
	}
	if la, _ := c.LocalAddr().(*net.UDPAddr); sameAddr(la, raddr) {
		return fmt.Errorf("%w: %v", ErrSelfConnect, raddr)
	}
	wait := d.ProbeWait
	if wait < 0 {
		return nil
	}
	if wait == 0 {
		wait = DefaultProbeWait
	}
	return c.probe(ctx, wait)
}

// probe sends the probe datagram and waits for a verdict.
func (c *Conn) probe(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		c.SetReadDeadline(time.Unix(1, 0)) //nolint:errcheck // wakes the probe read; a failure fails the read anyway
	})
	err := c.WriteMessages([]getty.Message{{Data: c.cfg.Probe}})
	if err == nil {
		err = c.awaitProbe()
	}
	if !stop() {
		return errors.Join(err, ctx.Err())
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.SetReadDeadline(time.Time{})
}

// awaitProbe reads until the probe's verdict: nil for a reply or silence.
func (c *Conn) awaitProbe() error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if pe := c.pending.Swap(nil); pe != nil {
			return pe.Err // the probe could not be sent
		}
		if c.rpos >= c.rn {
			if err := c.fill(0); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return nil // silence: somebody may be listening
				}
				var pe *getty.PacketError
				if errors.As(c.readError(err), &pe) {
					return pe.Err // ICMP: nobody listens
				}
				return err
			}
		}
		m := &c.rms[c.rpos]
		c.rpos++
		if from, _ := m.Addr.(*net.UDPAddr); sameAddr(from, c.peer.Load()) {
			c.st.probes.Add(1) // the peer answered; its answer is the probe's
			return nil
		}
		c.st.foreign.Add(1)
	}
}

// resolve turns "host:port" into one UDP address, honouring ctx.
func resolve(ctx context.Context, addr string) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("udp: address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		pn, lerr := net.DefaultResolver.LookupPort(ctx, "udp", port)
		if lerr != nil {
			return nil, fmt.Errorf("udp: address %q: %w", addr, lerr)
		}
		p = uint64(pn)
	}
	if host == "" {
		return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(p)}, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(p))), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(p))), nil
}
