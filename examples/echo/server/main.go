// Command server is an echo server over TCP with length-prefixed packages.
//
//	go run ./examples/echo/server -addr 127.0.0.1:7000
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

type echo struct{ getty.NopHandler[[]byte] }

func (echo) OnMessage(s *getty.Session[[]byte], p []byte) {
	if err := s.Write(p); err != nil {
		log.Printf("session %d: %v", s.ID(), err)
	}
}

func (echo) OnClose(s *getty.Session[[]byte]) {
	log.Printf("session %d from %v closed: %v", s.ID(), s.RemoteAddr(), s.Err())
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	srv, err := getty.NewServer(lengthfield.Codec{}, echo{}, &getty.ServerOptions{
		Options: getty.Options{ReadTimeout: 5 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	l, err := tcp.Listen(*addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("echo server on %v", l.Addr())
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()
	if err := srv.Serve(l); !errors.Is(err, getty.ErrServerClosed) {
		log.Fatal(err)
	}
}
