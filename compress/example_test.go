package compress_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/transport/tcp"
)

// A server and a client that both compress with zstd: the codec and the
// handlers are the same as without compression.
func ExampleNewListener() {
	cfg := &compress.Config{Algorithm: compress.Zstd}

	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	cl, err := compress.NewListener(l, cfg)
	if err != nil {
		panic(err)
	}
	echo := getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) },
	}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, echo, nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(cl)
	defer srv.Close()

	d, err := compress.NewDialer(tcp.Dialer{Addr: l.Addr().String()}, cfg)
	if err != nil {
		panic(err)
	}
	got := make(chan []byte, 1)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) { got <- bytes.Clone(p) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial[[]byte](ctx, d, lengthfield.Codec{}, h, nil)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	s, _ := client.Session()
	s.Write(bytes.Repeat([]byte("getty "), 1000))
	reply := <-got
	st := s.Conn().(*compress.Conn).Stats()
	fmt.Printf("echoed %d bytes; %d went out as %d on the wire\n", len(reply), st.RawOut, st.WireOut)
	// Output: echoed 6000 bytes; 6006 went out as 37 on the wire
}

// The frames a Conn writes: a small message travels raw, a larger
// compressible one compressed.
func ExampleNewConn() {
	a, b := net.Pipe()
	defer b.Close()
	c, err := compress.NewConn(a, nil) // S2
	if err != nil {
		panic(err)
	}
	defer c.Close()
	go c.WriteMessages([]getty.Message{{Data: []byte("hello")}})
	frame := make([]byte, 11)
	if _, err := b.Read(frame); err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", frame)
	// Output: a1 00 00 00 06 05 68 65 6c 6c 6f
}
