//go:build linux

package unix_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/unix"
)

// A line echo server on a Unix stream socket, and a client.
func ExampleListen() {
	dir, _ := os.MkdirTemp("", "g")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "echo.sock")

	l, err := unix.Listen(unix.Stream, path, nil) // the file gets mode 0600
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, _ := getty.NewServer(delim.Lines(), getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], line []byte) { s.Write(line) },
	}, nil)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background()) // closes the listener and removes the file

	replies := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, unix.Dialer{Addr: path}, delim.Lines(), getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], line []byte) { replies <- string(line) },
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	s, _ := client.Session()
	s.Write([]byte("hello over a Unix socket"))
	fmt.Println(<-replies)
	// Output: hello over a Unix socket
}

// datagramEcho answers every datagram to its sender.
type datagramEcho struct{ getty.NopHandler[[]byte] }

func (datagramEcho) OnPacket(s *getty.Session[[]byte], p []byte, from net.Addr) {
	s.WriteTo(p, from)
}

// A datagram server at a Linux abstract address (no file), and a client
// that autobinds an abstract address of its own so that replies reach it.
func ExampleListen_datagram() {
	name := fmt.Sprintf("@getty-example-%d", os.Getpid())
	l, err := unix.Listen(unix.Datagram, name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, _ := getty.NewServer(delim.Lines(), datagramEcho{}, nil)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	replies := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, unix.Dialer{Network: unix.Datagram, Addr: name}, delim.Lines(),
		getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { replies <- string(p) }}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	s, _ := client.Session()
	limit := s.Conn().(*unix.PacketConn).MaxDatagram()
	err = s.Write(make([]byte, limit+1))
	fmt.Println(errors.Is(err, unix.ErrDatagramTooLarge))
	s.Write([]byte("one datagram"))
	fmt.Println(<-replies)
	// Output:
	// true
	// one datagram
}

// A seqpacket server that admits only local clients running as its own
// user. An empty path autobinds a free abstract name, like port 0.
func ExamplePeerCred() {
	l, err := unix.Listen(unix.Seqpacket, "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	admitted := make(chan string, 1)
	srv, _ := getty.NewServer(delim.Lines(), getty.HandlerFuncs[[]byte]{
		Open: func(s *getty.Session[[]byte]) error {
			cred, err := unix.PeerCred(s.Conn())
			if err != nil {
				return err
			}
			if int(cred.UID) != os.Getuid() {
				return fmt.Errorf("uid %d (pid %d) is not allowed", cred.UID, cred.PID)
			}
			admitted <- fmt.Sprintf("admitted: same user, same process %v", int(cred.PID) == os.Getpid())
			return nil
		},
	}, nil)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, unix.Dialer{Network: unix.Seqpacket, Addr: l.Addr().String()}, delim.Lines(), getty.NopHandler[[]byte]{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	fmt.Println(<-admitted)
	// Output: admitted: same user, same process true
}
