package main

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/udp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// A variant sends n datagrams of size bytes to a receiver, one way. It
// prepares its socket, then runs the timed part through measure.
type variant struct {
	name string
	what string
	send func(to *net.UDPAddr, n, size int) (result, error)
}

// batch is how many datagrams the batched variants give one system call.
const batch = 64

func variants() []variant {
	return []variant{
		{"unconnected", "WriteToUDP per datagram on an unconnected socket", sendUnconnected(false)},
		{"connected", "Write per datagram on a connected socket", sendConnected(false)},
		{"unconnected+deadline", "SetWriteDeadline, then WriteToUDP, per datagram", sendUnconnected(true)},
		{"connected+deadline", "SetWriteDeadline, then Write, per datagram", sendConnected(true)},
		{"batched-unconnected", fmt.Sprintf("ipv4.PacketConn.WriteBatch (sendmmsg), %d datagrams per call, address each", batch), sendBatched(false)},
		{"batched-connected", fmt.Sprintf("ipv4.PacketConn.WriteBatch (sendmmsg), %d datagrams per call, connected", batch), sendBatched(true)},
		{"getty-single", "udp.Conn.WriteMessages, connected, WriteBatch 1 (one datagram per call)", sendGetty(1, true)},
		{"getty-sendmmsg", fmt.Sprintf("udp.Conn.WriteMessages, connected, %d datagrams per sendmmsg, NoGSO", batch), sendGetty(batch, true)},
		{"getty-batched", fmt.Sprintf("udp.Conn.WriteMessages, connected, %d datagrams per call, default (sendmmsg + UDP_SEGMENT offload)", batch), sendGetty(batch, false)},
	}
}

func sendUnconnected(deadline bool) func(*net.UDPAddr, int, int) (result, error) {
	return func(to *net.UDPAddr, n, size int) (result, error) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		b := make([]byte, size)
		return measure(func() error {
			for range n {
				if deadline {
					if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
						return err
					}
				}
				if _, err := c.WriteToUDP(b, to); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func sendConnected(deadline bool) func(*net.UDPAddr, int, int) (result, error) {
	return func(to *net.UDPAddr, n, size int) (result, error) {
		c, err := net.DialUDP("udp4", nil, to)
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		b := make([]byte, size)
		return measure(func() error {
			for range n {
				if deadline {
					if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
						return err
					}
				}
				if _, err := c.Write(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func sendBatched(connected bool) func(*net.UDPAddr, int, int) (result, error) {
	return func(to *net.UDPAddr, n, size int) (result, error) {
		var (
			uc  *net.UDPConn
			err error
		)
		if connected {
			uc, err = net.DialUDP("udp4", nil, to)
		} else {
			uc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		}
		if err != nil {
			return result{}, err
		}
		defer uc.Close()
		pc := ipv4.NewPacketConn(uc)
		b := make([]byte, size)
		ms := make([]ipv4.Message, batch)
		for i := range ms {
			ms[i].Buffers = [][]byte{b}
			if !connected {
				ms[i].Addr = to
			}
		}
		return measure(func() error {
			for left := n; left > 0; {
				k, err := pc.WriteBatch(ms[:min(left, batch)], 0)
				if err != nil {
					return err
				}
				left -= k
			}
			return nil
		})
	}
}

func sendGetty(perCall int, noGSO bool) func(*net.UDPAddr, int, int) (result, error) {
	return func(to *net.UDPAddr, n, size int) (result, error) {
		d := udp.Dialer{Addr: to.String(), ProbeWait: -1, Config: udp.Config{WriteBatch: perCall, NoGSO: noGSO}}
		c, err := d.DialUDP(contextBackground())
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		b := make([]byte, size)
		ms := make([]getty.Message, batch)
		for i := range ms {
			ms[i].Data = b
		}
		res, err := measure(func() error {
			for left := n; left > 0; left -= min(left, batch) {
				if err := c.WriteMessages(ms[:min(left, batch)]); err != nil {
					return err
				}
			}
			return nil
		})
		if st := c.Stats(); err == nil && st.DatagramsOut != uint64(n) {
			return result{}, fmt.Errorf("sent %d datagrams of %d", st.DatagramsOut, n)
		}
		return res, err
	}
}

// result is the cost of one run: wall-clock time and the CPU time (user and
// system) of the sending thread, which on loopback includes delivering the
// datagram into the receiver's queue. CPU time is what other processes on a
// busy machine disturb least.
type result struct {
	wall, cpu time.Duration
}

// measure runs f on a thread of its own and times it.
func measure(f func() error) (result, error) {
	type out struct {
		r   result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine: its CPU time is f's alone
		c0 := threadCPU()
		t0 := time.Now()
		err := f()
		ch <- out{result{wall: time.Since(t0), cpu: threadCPU() - c0}, err}
	}()
	o := <-ch
	return o.r, o.err
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// receiver drains a socket with batched reads so that the senders' datagrams
// are delivered, not dropped at a full queue.
// With drain off nobody reads: once the queue is full the kernel drops each
// datagram on arrival, and the senders' cost is the send path alone.
type receiver struct {
	c    *net.UDPConn
	got  atomic.Uint64
	done sync.WaitGroup
}

func newReceiver(drain bool) (*receiver, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(4 << 20) //nolint:errcheck // best effort: the kernel caps it
	r := &receiver{c: c}
	if drain {
		r.done.Add(1)
		go r.drain()
	}
	return r, nil
}

func (r *receiver) drain() {
	defer r.done.Done()
	pc := ipv4.NewPacketConn(r.c)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	for {
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			return
		}
		r.got.Add(uint64(n))
	}
}

func (r *receiver) addr() *net.UDPAddr { return r.c.LocalAddr().(*net.UDPAddr) }

func (r *receiver) close() {
	r.c.Close()
	r.done.Wait()
}
