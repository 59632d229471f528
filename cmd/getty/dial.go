package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gettynet/getty"
)

func runDial(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("dial", "Connect to a server, send each line of stdin as one package and print each\npackage received as one line. At the end of stdin, wait for the replies\n(up to --wait), then exit. Exits 1 when it cannot connect.", stdout)
	var ef endpointFlags
	addEndpointFlags(fs, &ef, false)
	codecName := fs.String("codec", "line", "codec: line | length")
	timeout := fs.Duration("timeout", 5*time.Second, "connect timeout")
	wait := fs.Duration("wait", 2*time.Second, "after stdin ends, wait this long for outstanding replies")
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := ef.resolve()
	if err != nil {
		return err
	}
	codec, err := codecByName(*codecName)
	if err != nil {
		return err
	}
	d, err := t.dialer(&ef)
	if err != nil {
		return err
	}
	if d, err = ef.compressDialer(d); err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		received int
		changed  = make(chan struct{}, 1)
		out      = bufio.NewWriter(stdout)
	)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	h := getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) {
			mu.Lock()
			out.Write(p)        //nolint:errcheck // checked at Flush
			out.WriteByte('\n') //nolint:errcheck // checked at Flush
			out.Flush()         //nolint:errcheck // stdout going away ends the run anyway
			received++
			mu.Unlock()
			poke()
		},
		Error: func(_ *getty.Session[[]byte], err error) { fmt.Fprintln(stderr, "getty dial:", err) },
		Close: func(*getty.Session[[]byte]) { poke() },
	}
	dctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client, err := getty.Dial(dctx, d, codec, h, &getty.ClientOptions{NoReconnect: true})
	if err != nil {
		return fmt.Errorf("cannot connect to %s %s: %w", ef.transport, ef.addr, err)
	}
	defer client.Close() //nolint:errcheck // closing at exit; nothing left to report
	s, err := client.Session()
	if err != nil {
		return err
	}
	sent, err := pump(ctx, stdin, s)
	if err != nil {
		return err
	}
	deadline := time.After(*wait)
	for {
		mu.Lock()
		done := received >= sent
		mu.Unlock()
		if done || s.Closed() {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// pump sends each stdin line as one package and returns how many it sent.
func pump(ctx context.Context, stdin io.Reader, s *getty.Session[[]byte]) (int, error) {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), getty.DefaultMaxPackageSize)
	sent := 0
	for sc.Scan() {
		if ctx.Err() != nil {
			return sent, nil //nolint:nilerr // an interrupt ends the input: what was sent so far stands
		}
		if err := s.Write(sc.Bytes()); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, sc.Err()
}
