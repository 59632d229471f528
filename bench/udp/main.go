// Command udp reproduces, in one run, the UDP claims of getty's design log
// and goes further: 100,000 datagrams sent through an unconnected and a
// connected socket, with and without a deadline set before every write, and
// batched with sendmmsg (golang.org/x/net/ipv4 WriteBatch), plus getty's own
// udp.Conn write path with batching off and on. Every variant runs -rounds
// times, interleaved with the others; the tables show medians.
//
//	cd bench && go run ./udp [-n 100000] [-size 64] [-rounds 7] [-drain=false]
//
// Two rates are given: packets per wall-clock second, and packets per CPU
// second of the sending thread (which on loopback includes handing each
// datagram to the receiving socket). The second is what a busy machine
// disturbs least.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"
)

func contextBackground() context.Context { return context.Background() }

func main() {
	n := flag.Int("n", 100_000, "datagrams per run")
	size := flag.Int("size", 64, "payload bytes per datagram")
	rounds := flag.Int("rounds", 7, "runs of each variant (medians are reported)")
	drain := flag.Bool("drain", true, "a goroutine reads the receiving socket (recvmmsg); off: the kernel drops at its full queue")
	flag.Parse()
	if err := run(*n, *size, *rounds, *drain); err != nil {
		fmt.Fprintln(os.Stderr, "udp bench:", err)
		os.Exit(1)
	}
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func run(n, size, rounds int, drain bool) error {
	r, err := newReceiver(drain)
	if err != nil {
		return err
	}
	defer r.close()
	vs := variants()
	wall := make([][]time.Duration, len(vs))
	cpu := make([][]time.Duration, len(vs))
	for range rounds {
		for i, v := range vs {
			res, err := v.send(r.addr(), n, size)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			wall[i] = append(wall[i], res.wall)
			cpu[i] = append(cpu[i], res.cpu)
		}
	}
	recv := "drained by a goroutine with recvmmsg"
	if !drain {
		recv = "that nobody reads (drops at its full queue)"
	}
	fmt.Printf("%d datagrams of %d bytes to a 127.0.0.1 socket %s; median of %d interleaved runs; %s %s/%s, GOMAXPROCS %d\n\n",
		n, size, recv, rounds, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Printf("| variant | wall time | packets/s | sender CPU | packets/CPU-s | what |\n|---|---:|---:|---:|---:|---|\n")
	mw := make(map[string]time.Duration)
	mc := make(map[string]time.Duration)
	for i, v := range vs {
		mw[v.name], mc[v.name] = median(wall[i]), median(cpu[i])
		fmt.Printf("| %s | %v | %.0f | %v | %.0f | %s |\n", v.name,
			mw[v.name].Round(time.Millisecond), float64(n)/mw[v.name].Seconds(),
			mc[v.name].Round(time.Millisecond), float64(n)/mc[v.name].Seconds(), v.what)
	}
	rw := func(a, b string) float64 { return float64(mw[a]) / float64(mw[b]) }
	rc := func(a, b string) float64 { return float64(mc[a]) / float64(mc[b]) }
	fmt.Printf("\n| claim | wall | CPU |\n|---|---:|---:|\n")
	fmt.Printf("| connected saves time over unconnected (design log: about 2/13 = 15.4%%) | %.1f%% | %.1f%% |\n",
		100*(1-rw("connected", "unconnected")), 100*(1-rc("connected", "unconnected")))
	for _, p := range [][2]string{{"unconnected+deadline", "unconnected"}, {"connected+deadline", "connected"}} {
		fmt.Printf("| a deadline before every write: %s / %s time | %.2fx | %.2fx |\n", p[0], p[1], rw(p[0], p[1]), rc(p[0], p[1]))
	}
	for _, p := range [][2]string{{"connected", "batched-connected"}, {"unconnected", "batched-unconnected"}, {"getty-single", "getty-sendmmsg"}, {"getty-single", "getty-batched"}} {
		fmt.Printf("| batched: %s / %s packets/s (target >= 2) | %.2fx | %.2fx |\n", p[1], p[0], rw(p[0], p[1]), rc(p[0], p[1]))
	}
	if drain {
		fmt.Printf("\nthe receiver got %d of the %d datagrams sent (the rest were dropped at its full queue)\n", r.got.Load(), uint64(n*rounds*len(vs)))
	}
	return nil
}
