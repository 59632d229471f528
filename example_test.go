package getty_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/tcp"
)

// An echo server over TCP with newline-delimited packages, and a client
// that talks to it.
func Example() {
	echo := getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], line []byte) { s.Write(line) },
	}
	srv, err := getty.NewServer(delim.Lines(), echo, nil)
	if err != nil {
		panic(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	replies := make(chan string)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], line []byte) { replies <- string(line) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, tcp.Dialer{Addr: l.Addr().String()}, delim.Lines(), h, nil)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	s, _ := client.Session()
	s.Write([]byte("hello, getty"))
	fmt.Println(<-replies)
	// Output: hello, getty
}

// A handler that embeds NopHandler overrides only what it needs. This one
// greets each session, sends a heartbeat on every cron tick and closes
// sessions that say "bye".
type greeter struct{ getty.NopHandler[[]byte] }

func (greeter) OnOpen(s *getty.Session[[]byte]) error {
	return s.Write([]byte("welcome"))
}

func (greeter) OnCron(s *getty.Session[[]byte]) { s.Write([]byte("ping")) }

func (greeter) OnMessage(s *getty.Session[[]byte], line []byte) {
	if string(line) == "bye" {
		s.Close()
	}
}

func ExampleNewServer() {
	srv, err := getty.NewServer(delim.Lines(), greeter{}, &getty.ServerOptions{
		Options: getty.Options{
			ReadTimeout: time.Minute,      // close peers silent for a minute
			CronPeriod:  20 * time.Second, // heartbeat period
		},
		MaxSessions: 10000,
	})
	if err != nil {
		panic(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	fmt.Println(srv.Shutdown(context.Background()))
	// Output: <nil>
}

// Broadcast to every live session of a server.
func ExampleServer_Range() {
	srv, _ := getty.NewServer(delim.Lines(), greeter{}, nil)
	sent := 0
	srv.Range(func(s *getty.Session[[]byte]) bool {
		if s.Write([]byte("news")) == nil {
			sent++
		}
		return true
	})
	fmt.Println(sent, "sessions told")
	srv.Close()
	// Output: 0 sessions told
}
