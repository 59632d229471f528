// Command evio is the evio echo server of the benchmark harness, as in
// evio's README: the Data event returns its input as output. One loop.
package main

import (
	"flag"
	"log"

	"github.com/tidwall/evio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	var events evio.Events
	events.Data = func(_ evio.Conn, in []byte) (out []byte, action evio.Action) {
		out = in
		return
	}
	log.Fatal(evio.Serve(events, "tcp://"+*addr))
}
