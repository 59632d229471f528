package udp_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/udp"
)

// 100,000 small datagrams go to a getty echo server and back. UDP may lose
// some; whatever happens, every datagram is accounted for exactly: sent on
// one side equals received plus dropped on the other.
func TestEcho100kDatagramsExactCounts(t *testing.T) {
	t.Parallel()
	const (
		n      = 100_000
		window = 64 // datagrams in flight: well under what a receive queue holds
	)
	if testing.Short() {
		t.Skip("100,000 round trips")
	}
	cfg := &udp.Config{ReadBuffer: 1 << 20, WriteBuffer: 1 << 20}

	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], p []byte, from net.Addr) {
			if err := s.WriteTo(p, from); err != nil {
				t.Errorf("echo: %v", err)
			}
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := udp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	var data atomic.Int64
	progress := make(chan struct{}, 1)
	fences := make(chan uint64, 16)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) {
			if p[0] == 'f' {
				fences <- binary.BigEndian.Uint64(p[1:])
				return
			}
			data.Add(1)
			select {
			case progress <- struct{}{}:
			default:
			}
		},
	}
	client, err := getty.Dial(testContext(t), udp.Dialer{Addr: l.Addr().String(), Config: *cfg}, lengthfield.Codec{}, h,
		&getty.ClientOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.Session()
	if err != nil {
		t.Fatal(err)
	}
	cconn := s.Conn().(*udp.Conn)

	// Send with a window; a window that stops moving (lost datagrams) is
	// written off after a quiet spell.
	pkt := make([]byte, 9)
	pkt[0] = 'd'
	var writtenOff int64
	for sent := int64(0); sent < n; sent++ {
		for sent-data.Load()-writtenOff >= window {
			select {
			case <-progress:
			case <-time.After(200 * time.Millisecond):
				writtenOff = sent - data.Load()
			}
		}
		binary.BigEndian.PutUint64(pkt[1:], uint64(sent))
		if err := s.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// A fence: once one comes back, nothing else is in flight (fences go
	// one at a time, and loopback keeps order), and the kernel's drop
	// counters rode in on it.
	pkt[0] = 'f'
	for k := uint64(1); ; k++ {
		if k > 50 {
			t.Fatal("no fence came back")
		}
		binary.BigEndian.PutUint64(pkt[1:], k)
		if err := s.Write(pkt); err != nil {
			t.Fatal(err)
		}
		if waitFence(fences, k, 200*time.Millisecond) {
			break
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-served

	cs, ss := cconn.Stats(), l.Conn().Stats()
	t.Logf("client: %+v", cs)
	t.Logf("server: %+v", ss)
	received := data.Load()
	t.Logf("%d datagrams echoed, %d lost (server dropped %d, client dropped %d); server %d receive and %d send calls",
		received, n-received, ss.Dropped, cs.Dropped, ss.ReadCalls, ss.WriteCalls)

	if ss.DatagramsIn+ss.Dropped+ss.Probes != cs.DatagramsOut || ss.Truncated+ss.Foreign != 0 {
		t.Errorf("client sent %d, server received %d + dropped %d + probes %d (truncated %d, foreign %d)",
			cs.DatagramsOut, ss.DatagramsIn, ss.Dropped, ss.Probes, ss.Truncated, ss.Foreign)
	}
	if ss.DatagramsOut != ss.DatagramsIn || ss.SendErrors != 0 {
		t.Errorf("server received %d, sent %d, send errors %d", ss.DatagramsIn, ss.DatagramsOut, ss.SendErrors)
	}
	if cs.DatagramsIn+cs.Dropped != ss.DatagramsOut || cs.Truncated+cs.Foreign+cs.Probes+cs.SendErrors != 0 {
		t.Errorf("server sent %d, client received %d + dropped %d (%+v)", ss.DatagramsOut, cs.DatagramsIn, cs.Dropped, cs)
	}
	if st := client.Stats(); st.PackagesIn != cs.DatagramsIn {
		t.Errorf("client session packages in %d, datagrams in %d", st.PackagesIn, cs.DatagramsIn)
	}
	if st := srv.Stats(); st.PackagesIn != ss.DatagramsIn || st.PackagesOut != ss.DatagramsOut {
		t.Errorf("server session packages %d in / %d out, datagrams %d / %d", st.PackagesIn, st.PackagesOut, ss.DatagramsIn, ss.DatagramsOut)
	}
	if lost := n - received; lost > n/100 {
		t.Errorf("%d of %d datagrams lost on loopback with a window of %d", lost, n, window)
	}
}

// waitFence waits for fence k to come back.
func waitFence(fences <-chan uint64, k uint64, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case got := <-fences:
			if got == k {
				return true
			}
		case <-timeout:
			return false
		}
	}
}
