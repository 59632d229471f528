// Command nbio is the nbio echo server of the benchmark harness, as in nbio's
// README: OnData writes the data back. Default engine configuration.
//
// With -frames it does the work a getty server does instead: it decodes
// each length-prefixed frame (keeping a partial one with its connection), hands
// the payload to a handler that replies with it, and encodes the replies
// of one read into one write, as an RPC server built on nbio would.
package main

import (
	"encoding/binary"
	"flag"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"
)

const maxFrame = 4 << 20 // the largest frame accepted (getty's default MaxPackageSize)

// conn is the framing state of a connection that has had a partial frame.
type conn struct {
	tail []byte // the start of a partial frame
}

// replies lends the reply buffer of one OnData: Write copies what the
// socket does not take at once.
var replies = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func onFrames(c *nbio.Conn, data []byte) {
	st, _ := c.Session().(*conn)
	if st != nil && len(st.tail) > 0 {
		st.tail = append(st.tail, data...)
		data = st.tail
	}
	rp := replies.Get().(*[]byte)
	defer replies.Put(rp)
	out := (*rp)[:0]
	for len(data) >= 4 {
		n := int(binary.BigEndian.Uint32(data))
		if n+4 > maxFrame {
			c.Close() //nolint:errcheck // a bad peer
			return
		}
		if len(data) < n+4 {
			break
		}
		out = handle(out, data[4:n+4])
		data = data[n+4:]
	}
	if len(data) > 0 && st == nil {
		st = &conn{}
		c.SetSession(st)
	}
	if st != nil {
		// Keep the partial frame (data may lie in st.tail itself: copy
		// moves).
		if len(data) > cap(st.tail) {
			st.tail = make([]byte, 0, len(data))
		}
		st.tail = st.tail[:copy(st.tail[:len(data)], data)]
	}
	*rp = out
	if len(out) > 0 {
		c.Write(out) //nolint:errcheck // nbio closes broken connections itself
	}
}

// handle is the application: it answers a payload with itself, encoded.
func handle(out, payload []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(payload)))
	return append(out, payload...)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	frames := flag.Bool("frames", false, "decode length-prefixed frames and reply to each")
	flag.Parse()
	g := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{*addr}})
	if *frames {
		g.OnData(onFrames)
	} else {
		g.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) }) //nolint:errcheck // nbio closes broken connections itself
	}
	if err := g.Start(); err != nil {
		log.Fatal(err)
	}
	defer g.Stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
