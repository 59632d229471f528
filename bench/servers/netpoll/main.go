// Command netpoll is the cloudwego netpoll echo server of the benchmark
// harness, as in netpoll's echo example: OnRequest takes what is readable
// and writes it back with zero-copy buffers.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/cloudwego/netpoll"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	l, err := netpoll.CreateListener("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(func(_ context.Context, c netpoll.Connection) error {
		r, w := c.Reader(), c.Writer()
		defer r.Release() //nolint:errcheck // nothing to do about it
		buf, err := r.Next(r.Len())
		if err != nil {
			return err
		}
		if _, err := w.WriteBinary(buf); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(loop.Serve(l))
}
