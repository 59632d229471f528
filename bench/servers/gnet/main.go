// Command gnet is the gnet v2 echo server of the benchmark harness, as in
// gnet's own echo example: OnTraffic takes every buffered byte and writes it
// back. Multicore on (one event loop per CPU the process may use).
//
// With -frames it does the work a getty server does instead: it decodes
// each length-prefixed frame, hands the payload to a handler that replies
// with it, and encodes the replies of one read into one write, as an RPC
// server built on gnet would.
package main

import (
	"encoding/binary"
	"flag"
	"log"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

type echo struct{ gnet.BuiltinEventEngine }

func (*echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf) //nolint:errcheck // gnet closes broken connections itself
	return gnet.None
}

const maxFrame = 4 << 20 // the largest frame accepted (getty's default MaxPackageSize)

// framed decodes frames and answers each with a frame of its own.
type framed struct{ gnet.BuiltinEventEngine }

// replies lends the reply buffer of one OnTraffic: Write copies what the
// socket does not take at once.
var replies = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (*framed) OnTraffic(c gnet.Conn) gnet.Action {
	rp := replies.Get().(*[]byte)
	defer replies.Put(rp)
	out := (*rp)[:0]
	for {
		hdr, err := c.Peek(4)
		if err != nil {
			break // no whole header yet
		}
		n := int(binary.BigEndian.Uint32(hdr))
		if n+4 > maxFrame {
			return gnet.Close
		}
		if c.InboundBuffered() < n+4 {
			break // the rest of the frame is still to come
		}
		frame, err := c.Next(n + 4)
		if err != nil {
			return gnet.Close
		}
		out = handle(out, frame[4:])
	}
	*rp = out
	if len(out) > 0 {
		c.Write(out) //nolint:errcheck // gnet closes broken connections itself
	}
	return gnet.None
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
	var h gnet.EventHandler = &echo{}
	if *frames {
		h = &framed{}
	}
	log.Fatal(gnet.Run(h, "tcp://"+*addr, gnet.WithMulticore(true)))
}
