package udp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/udp"
)

// A UDP echo server is one session that answers every sender; a client is a
// connected socket.
func Example() {
	echo := getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], line []byte, from net.Addr) { s.WriteTo(line, from) },
	}
	srv, err := getty.NewServer(delim.Lines(), echo, nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)

	replies := make(chan string, 1)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], line []byte) { replies <- string(line) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, udp.Dialer{Addr: l.Addr().String()}, delim.Lines(), h, nil)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	s, err := client.Session()
	if err != nil {
		panic(err)
	}
	s.Write([]byte("hello over UDP"))
	fmt.Println(<-replies)
	// Output: hello over UDP
}

// Dialing a port nobody listens on fails, although UDP has no handshake.
func ExampleDialer() {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	closed := c.LocalAddr().String()
	c.Close()

	_, err = udp.Dialer{Addr: closed}.Dial(context.Background())
	fmt.Println(errors.Is(err, udp.ErrUnreachable))
	// Output: true
}

// A server session can connect to the one client it serves (TFTP-style):
// from then on plain writes go to that client and nobody else gets through.
func ExampleConn_Connect() {
	h := getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], line []byte, from net.Addr) {
			if c := s.Conn().(*udp.Conn); !c.Connected() {
				c.Connect(from.(*net.UDPAddr))
			}
			s.Write(line)
		},
	}
	srv, err := getty.NewServer(delim.Lines(), h, nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	l, err := udp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)

	peer, err := net.DialUDP("udp", nil, l.Addr().(*net.UDPAddr))
	if err != nil {
		panic(err)
	}
	defer peer.Close()
	peer.Write([]byte("first\n"))
	buf := make([]byte, 64)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := peer.Read(buf)
	fmt.Printf("%q\n", buf[:n])
	fmt.Println(l.Conn().RemoteAddr().String() == peer.LocalAddr().String())
	// Output:
	// "first\n"
	// true
}
