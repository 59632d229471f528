package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/loadgen"
)

const benchSynopsis = `Measure an echo server with length-prefixed frames (4-byte big-endian length,
then the payload). Without --addr, an embedded getty echo server is started on
loopback and driven by the load generator in the same process. With --addr, any
server that echoes the bytes it receives can be driven.

Closed loop (default): each connection keeps --depth frames in flight (1 is
ping-pong). Open loop (--rate): frames leave on a fixed schedule and latency is
measured from the time each was due, so stalls show in the tail (quote tail
latency from such runs).`

// benchFlags are the options of `getty bench`.
type benchFlags struct {
	transport string
	addr      string
	conns     int
	size      int
	depth     int
	duration  time.Duration
	warmup    time.Duration
	rate      float64
	json      bool
	engine    string
	// compress holds --compress and --compress-level (compress.go).
	compress endpointFlags
}

func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stdout)
	var f benchFlags
	fs.StringVar(&f.transport, "transport", "tcp", "transport: "+transportNames())
	fs.StringVar(&f.addr, "addr", "", "drive the echo server at this address instead of an embedded one")
	fs.IntVar(&f.conns, "conns", 100, "connections")
	fs.IntVar(&f.size, "size", 64, "payload bytes per frame (the frame adds a 4-byte header)")
	fs.IntVar(&f.depth, "depth", 1, "frames in flight per connection in closed loop (1: ping-pong)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "warm-up before the measured window")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: frames per second in total (0: closed loop)")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	fs.StringVar(&f.engine, "engine", "goroutine", "engine of the embedded server: goroutine | eventloop (tcp and unix)")
	addCompressFlags(fs, &f.compress)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	t, err := lookupTransport(f.transport)
	if err != nil {
		return err
	}
	if err := f.compress.checkCompress(t); err != nil {
		return err
	}
	target, stop, err := f.target(t)
	if err != nil {
		return err
	}
	defer stop()
	ef := endpointFlags{transport: f.transport, addr: target}
	d, err := t.dialer(&ef)
	if err != nil {
		return err
	}
	if d, err = f.compress.compressDialer(d); err != nil {
		return err
	}
	server := "external server at " + target
	if f.addr == "" {
		server = "embedded getty echo server (" + f.engine + " engine) on " + target
	}
	if !f.json {
		fmt.Fprintf(stdout, "getty bench: %s, %s\n%s\n", f.transport, server, f.describe())
	}
	prog := newProgress(stderr)
	res, err := loadgen.Run(ctx, loadgen.Config{
		Dial:             d.Dial,
		Conns:            f.conns,
		Size:             f.size,
		Depth:            f.depth,
		Rate:             f.rate,
		Warmup:           f.warmup,
		Duration:         f.duration,
		Progress:         prog.update,
		ProgressInterval: prog.interval(),
	})
	prog.end()
	if res == nil {
		return err
	}
	if f.json {
		out := struct {
			Transport string `json:"transport"`
			Server    string `json:"server"`
			Addr      string `json:"addr"`
			*loadgen.Result
		}{f.transport, map[bool]string{true: "embedded", false: "external"}[f.addr == ""], target, res}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return jerr
		}
	} else {
		printSummary(stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d connections failed; first: %s", res.Errors, res.Conns, strings.Join(res.FirstErrors[:1], ""))
	}
	return nil
}

func (f *benchFlags) validate() error {
	switch {
	case f.conns < 1:
		return fmt.Errorf("%w: --conns must be at least 1", errUsage)
	case f.size < 1:
		return fmt.Errorf("%w: --size must be at least 1", errUsage)
	case f.size > getty.DefaultMaxPackageSize-lengthfield.HeaderLen:
		return fmt.Errorf("%w: --size must be at most %d", errUsage, getty.DefaultMaxPackageSize-lengthfield.HeaderLen)
	case f.depth < 1:
		return fmt.Errorf("%w: --depth must be at least 1", errUsage)
	case f.duration <= 0:
		return fmt.Errorf("%w: --duration must be positive", errUsage)
	case f.warmup < 0:
		return fmt.Errorf("%w: --warmup must not be negative", errUsage)
	case f.rate < 0:
		return fmt.Errorf("%w: --rate must not be negative", errUsage)
	case f.rate > 0 && f.size < loadgen.MinOpenLoopSize:
		return fmt.Errorf("%w: --rate needs --size of at least %d (each frame carries its due time)", errUsage, loadgen.MinOpenLoopSize)
	}
	return nil
}

func (f *benchFlags) describe() string {
	mode := fmt.Sprintf("depth %d (closed loop)", f.depth)
	if f.rate > 0 {
		mode = fmt.Sprintf("open loop at %s frames/s", group(f.rate))
	}
	desc := fmt.Sprintf("%d connections, %d B payload, %s, %v warm-up, %v measured", f.conns, f.size, mode, f.warmup, f.duration)
	if c := f.compress.compress; c != "" && c != "none" {
		desc += ", compress " + c
	}
	return desc
}

// target returns the address to drive: --addr, or that of an embedded echo
// server started here (stop shuts it down).
func (f *benchFlags) target(t transport) (addr string, stop func(), err error) {
	if f.addr != "" {
		return f.addr, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "getty-bench-")
	if err != nil {
		return "", nil, err
	}
	ef := endpointFlags{transport: f.transport, addr: t.ephemeral(dir)}
	l, err := t.listen(&ef)
	if err == nil {
		l, err = f.compress.compressListener(l)
	}
	if err != nil {
		os.RemoveAll(dir) //nolint:errcheck // best-effort cleanup of a temp dir
		return "", nil, err
	}
	ef.compress = f.compress.compress
	engine, err := parseEngine(f.engine, &ef)
	if err != nil {
		l.Close()         //nolint:errcheck // the usage error is what matters
		os.RemoveAll(dir) //nolint:errcheck // best-effort cleanup
		return "", nil, err
	}
	srv, err := getty.NewServer(lengthfield.Codec{}, echoHandler(slog.New(slog.DiscardHandler)),
		&getty.ServerOptions{Options: getty.Options{Engine: engine, ZeroCopyReplies: true}})
	if err != nil {
		l.Close()         //nolint:errcheck // the server error is what matters
		os.RemoveAll(dir) //nolint:errcheck // best-effort cleanup
		return "", nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	stop = func() {
		srv.Close()       //nolint:errcheck // aborting at the end of a benchmark
		<-served          //nolint:errcheck // Serve returns ErrServerClosed after Close
		os.RemoveAll(dir) //nolint:errcheck // best-effort cleanup
	}
	return l.Addr().String(), stop, nil
}

// ephemeral is an address for a throwaway server: the transport's own
// choice, or its default address on port 0.
func (t transport) ephemeral(dir string) string {
	if t.ephemeralAddr != nil {
		return t.ephemeralAddr(dir)
	}
	if host, _, err := net.SplitHostPort(t.defaultAddr); err == nil {
		return net.JoinHostPort(host, "0")
	}
	return t.defaultAddr
}

func printSummary(w io.Writer, r *loadgen.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "messages/s\tMiB/s\tp50\tp99\tp99.9\tmax\terrors\t")
	l := r.Latency
	fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\t%s\t%d\t\n", group(r.MsgsPerSec), r.MiBPerSec,
		dur(l.P50), dur(l.P99), dur(l.P999), dur(l.Max), r.Errors)
	tw.Flush() //nolint:errcheck // stdout going away ends the run anyway
	note := ""
	if r.Interrupted {
		note = " (interrupted)"
	}
	fmt.Fprintf(w, "%s messages in %.2fs%s; MiB/s counts payload one way; load generator: %s\n", group(float64(r.Messages)), r.Duration.Seconds(), note, r.Engine)
	for _, e := range r.FirstErrors {
		fmt.Fprintln(w, "error:", e)
	}
}

// group formats a number with thousands separators.
func group(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dur prints a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}

// progress prints the live progress line: rewritten in place on a
// terminal, one line per report otherwise.
type progress struct {
	w   io.Writer
	tty bool
	any bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) interval() time.Duration {
	if p.tty {
		return 250 * time.Millisecond
	}
	return time.Second
}

func (p *progress) update(s loadgen.Snapshot) {
	line := fmt.Sprintf("%-7s %6.1fs %12s msg/s  p99 %-8s errors %d", s.Phase, s.Elapsed.Seconds(), group(s.Rate), dur(s.P99), s.Errors)
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.any = true
}

func (p *progress) end() {
	if p.tty && p.any {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
