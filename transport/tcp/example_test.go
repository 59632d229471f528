package tcp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

func Example() {
	echo := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }}
	srv, _ := getty.NewServer(lengthfield.Codec{}, echo, nil)
	l, err := tcp.Listen("127.0.0.1:0", &tcp.Config{KeepAlive: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	got := make(chan []byte, 1)
	h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { got <- append([]byte(nil), p...) }}
	c, err := getty.Dial(context.Background(), tcp.Dialer{Addr: l.Addr().String()}, lengthfield.Codec{}, h, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	s, _ := c.Session()
	s.Write([]byte{1, 2, 3})
	fmt.Println(<-got) //nolint:staticcheck // printing the bytes as numbers is the point
	// Output: [1 2 3]
}
