// Command getty is the getty echo server of the benchmark harness: the
// length-field codec and an OnMessage that writes each package back, with
// default options (4 KiB read buffer growing to 64 KiB) but ZeroCopyReplies
// (the handler never changes a package it wrote; the option only acts on
// the event-loop engine). -engine eventloop runs it on the event-loop
// engine.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
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
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &getty.ServerOptions{Options: getty.Options{Engine: eng, ZeroCopyReplies: true}})
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
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return
		}
		// SIGUSR1: report the heap, for memory investigations.
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(os.Stderr, "heap alloc %d KiB, inuse %d KiB, idle %d KiB, released %d KiB, sys %d KiB, stacks %d KiB, gc %d, next %d KiB, gcsys %d KiB, other %d KiB, mspan %d KiB, stacksys %d KiB\n",
			m.HeapAlloc>>10, m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.Sys>>10, m.StackInuse>>10, m.NumGC, m.NextGC>>10, m.GCSys>>10, m.OtherSys>>10, m.MSpanSys>>10, m.StackSys>>10)
	}
}
