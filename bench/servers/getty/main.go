// Command getty is the getty echo server of the benchmark harness: the
// length-field codec and an OnMessage that writes each package back, with
// default options (4 KiB read buffer growing to 64 KiB). -engine eventloop
// runs it on the event-loop engine.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")
	engine := flag.String("engine", "goroutine", "session engine: goroutine or eventloop")
	flag.Parse()
	eng, err := getty.ParseEngine(*engine)
	if err != nil {
		log.Fatal(err)
	}
	h := getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }, //nolint:errcheck // a failed write closes the session
	}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &getty.ServerOptions{Options: getty.Options{Engine: eng}})
	if err != nil {
		log.Fatal(err)
	}
	l, err := tcp.Listen(*addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	go srv.Serve(l) //nolint:errcheck // ends with the process
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
