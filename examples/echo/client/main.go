// Command client sends a few length-prefixed packages to the echo server,
// with two connections that reconnect if the server restarts.
//
//	go run ./examples/echo/client -addr 127.0.0.1:7000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "server address")
	n := flag.Int("n", 5, "packages to send")
	flag.Parse()
	replies := make(chan string, *n)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) { replies <- string(p) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, tcp.Dialer{Addr: *addr}, lengthfield.Codec{}, h,
		&getty.ClientOptions{Connections: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() //nolint:errcheck // exiting; nothing to do about a failed close
	for i := range *n {
		s, err := client.Session()
		if err != nil {
			log.Fatal(err)
		}
		if err := s.Write([]byte(fmt.Sprintf("package %d", i))); err != nil {
			log.Fatal(err)
		}
	}
	for range *n {
		select {
		case r := <-replies:
			fmt.Println(r)
		case <-time.After(5 * time.Second):
			log.Fatal("no reply")
		}
	}
}
