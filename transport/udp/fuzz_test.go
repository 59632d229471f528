package udp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/udp"
)

// fuzzEvent is what the server's handler saw.
type fuzzEvent struct {
	pkg []byte
	err error
}

// FuzzDatagram sends arbitrary datagrams to a getty server over loopback and
// checks the datagram decode path: a datagram over the size limit is
// reported truncated and decodes to nothing; any other datagram yields
// exactly the packages the codec finds in it, in order, and then an error
// if bytes are left that are not a whole package; the session never ends.
func FuzzDatagram(f *testing.F) {
	const maxDatagram = 64
	for _, seed := range [][]byte{
		{},
		[]byte("\x00\x00\x00\x02hi"),
		[]byte("\x00\x00\x00\x01a\x00\x00\x00\x01b"),
		[]byte("\x00\x00\x00\x05ab"),
		[]byte("\xff\xff\xff\xff"),
		[]byte("\x00\x00"),
		bytes.Repeat([]byte{0}, maxDatagram+1),
		udp.DefaultProbe(),
	} {
		f.Add(seed)
	}

	events := make(chan fuzzEvent, 1024)
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, getty.HandlerFuncs[[]byte]{
		Packet: func(_ *getty.Session[[]byte], p []byte, _ net.Addr) { events <- fuzzEvent{pkg: bytes.Clone(p)} },
		Error:  func(_ *getty.Session[[]byte], err error) { events <- fuzzEvent{err: err} },
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	l, err := udp.Listen("127.0.0.1:0", &udp.Config{MaxDatagramSize: maxDatagram})
	if err != nil {
		f.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		raw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	to := l.Addr().(*net.UDPAddr)
	var round uint64

	f.Fuzz(func(t *testing.T, data []byte) {
		round++
		marker := binary.BigEndian.AppendUint64([]byte("\x00\x00\x00\x0dmark:"), round)
		for _, d := range [][]byte{data, marker} {
			if _, err := raw.WriteToUDP(d, to); err != nil {
				t.Fatal(err)
			}
		}
		var got []fuzzEvent
		timeout := time.After(10 * time.Second)
	collect:
		for {
			select {
			case ev := <-events:
				if ev.err == nil && bytes.Equal(ev.pkg, marker[4:]) {
					break collect
				}
				got = append(got, ev)
			case <-timeout:
				t.Fatalf("the marker never came back; events so far: %v", got)
			}
		}
		want, wantErr := expectDatagram(data, maxDatagram)
		if len(got) != len(want)+btoi(wantErr != nil) {
			t.Fatalf("datagram %x: events %v, want packages %q and error %v", data, got, want, wantErr)
		}
		for i, p := range want {
			if got[i].err != nil || !bytes.Equal(got[i].pkg, p) {
				t.Fatalf("datagram %x: event %d is %v, want package %q", data, i, got[i], p)
			}
		}
		if wantErr != nil {
			last := got[len(got)-1].err
			var pe *getty.PacketError
			if !errors.As(last, &pe) || !errors.Is(last, wantErr) {
				t.Fatalf("datagram %x: error %v, want a PacketError wrapping %v", data, last, wantErr)
			}
		}
		if n := srv.Stats().SessionsOpen; n != 1 {
			t.Fatalf("%d sessions open after datagram %x", n, data)
		}
	})
}

// expectDatagram is the reference: what the server must report for one
// datagram.
func expectDatagram(data []byte, maxDatagram int) (pkgs [][]byte, err error) {
	if len(data) > maxDatagram {
		return nil, udp.ErrTruncated
	}
	if bytes.Equal(data, udp.DefaultProbe()) {
		return nil, nil
	}
	for len(data) > 0 {
		p, n, derr := lengthfield.Codec{}.Decode(data, getty.DefaultMaxPackageSize)
		if errors.Is(derr, getty.ErrMessageTooLarge) {
			return pkgs, getty.ErrMessageTooLarge
		}
		if derr != nil {
			return pkgs, getty.ErrBadPackage
		}
		if n == 0 {
			return pkgs, getty.ErrBadPackage
		}
		pkgs = append(pkgs, p)
		data = data[n:]
	}
	return pkgs, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
