// Command nbio is the nbio echo server of the benchmark harness, as in nbio's
// README: OnData writes the data back. Default engine configuration.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	g := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{*addr}})
	g.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) }) //nolint:errcheck // nbio closes broken connections itself
	if err := g.Start(); err != nil {
		log.Fatal(err)
	}
	defer g.Stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
