// Command gnet is the gnet v2 echo server of the benchmark harness, as in
// gnet's own echo example: OnTraffic takes every buffered byte and writes it
// back. Multicore on (one event loop per CPU the process may use).
package main

import (
	"flag"
	"log"

	"github.com/panjf2000/gnet/v2"
)

type echo struct{ gnet.BuiltinEventEngine }

func (*echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf) //nolint:errcheck // gnet closes broken connections itself
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	log.Fatal(gnet.Run(&echo{}, "tcp://"+*addr, gnet.WithMulticore(true)))
}
