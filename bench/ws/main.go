// Command ws is the side-by-side WebSocket echo benchmark: getty's
// transport/ws against plain echo servers on gorilla/websocket,
// coder/websocket, gobwas/ws, nbio and the npm ws package.
//
// Each server runs in its own process pinned to CPU 0 (GOMAXPROCS=1 for
// the Go ones); the load generator runs here, pinned to CPU 1. Every
// connection keeps one message in flight (send, wait for the echo, send
// again). Reported: echoed messages per second, server CPU per message
// (from /proc/PID/stat over the measured window), p50/p99 round trip, and
// the server's RSS growth per idle connection.
//
//	cd bench && go run ./ws                     # everything (several minutes)
//	cd bench && go run ./ws -servers getty,gorilla -conns 100 -sizes 64
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		fs := flag.NewFlagSet("server", flag.ExitOnError)
		impl := fs.String("impl", "getty", "server implementation")
		deflate := fs.Bool("deflate", false, "permessage-deflate")
		profile := fs.String("cpuprofile", "", "write a CPU profile of the server here")
		fs.Parse(os.Args[2:]) //nolint:errcheck // ExitOnError
		if *profile != "" {
			f, err := os.Create(*profile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "server:", err)
				os.Exit(1)
			}
			pprof.StartCPUProfile(f) //nolint:errcheck // best effort
			defer pprof.StopCPUProfile()
		}
		if err := runServer(*impl, *deflate); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1) //nolint:gocritic // the profile is moot then
		}
		return
	}
	var o options
	flag.StringVar(&o.servers, "servers", "getty,gorilla,coder,gobwas,nbio,node", "servers to measure")
	flag.StringVar(&o.conns, "conns", "100,1000", "connection counts")
	flag.StringVar(&o.sizes, "sizes", "64,4096", "binary message sizes")
	flag.BoolVar(&o.deflate, "deflate", true, "also run permessage-deflate on 4 KiB JSON-like text (100 connections)")
	flag.DurationVar(&o.duration, "duration", defaultDuration, "measured time per run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds over all servers; the median is reported")
	flag.StringVar(&o.nodeModules, "node-modules", "../transport/ws/testdata/node/node_modules", "node_modules holding the npm ws package")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ws bench:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
