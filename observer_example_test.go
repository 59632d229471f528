package getty_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/tcp"
)

// ExampleObserverFuncs counts packages with an Observer made of functions.
func ExampleObserverFuncs() {
	var packages atomic.Int64
	closed := make(chan string, 1)
	obs := getty.ObserverFuncs{
		Read:  func(_ getty.SessionInfo, _, n int) { packages.Add(int64(n)) },
		Close: func(_ getty.SessionInfo, cause getty.CloseCause, _ error) { closed <- cause.String() },
	}
	srv, err := getty.NewServer(delim.Lines(), getty.NopHandler[[]byte]{}, &getty.ServerOptions{Options: getty.Options{Observer: obs}})
	if err != nil {
		panic(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, err := getty.Dial(context.Background(), tcp.Dialer{Addr: l.Addr().String()}, delim.Lines(), getty.NopHandler[[]byte]{}, nil)
	if err != nil {
		panic(err)
	}
	s, _ := c.Session()
	s.Write([]byte("one"))
	s.Write([]byte("two"))
	c.Close()
	fmt.Println(<-closed, packages.Load())
	// Output: peer 2
}

func ExampleCauseOf() {
	fmt.Println(getty.CauseOf(getty.ErrReadTimeout), getty.CauseOf(getty.ErrServerClosed), getty.CauseOf(getty.ErrBadPackage))
	// Output: timeout shutdown error
}
