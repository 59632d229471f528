package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gettynet/getty"
)

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Run an echo server: every package received is sent back. SIGINT or SIGTERM\nshuts it down gracefully.", stdout)
	var ef endpointFlags
	addEndpointFlags(fs, &ef, true)
	codecName := fs.String("codec", "line", "codec: line (newline-delimited text) | length (4-byte length prefix)")
	readTimeout := fs.Duration("read-timeout", 0, "close sessions idle for this long (0: never)")
	maxSessions := fs.Int("max-sessions", 0, "refuse connections beyond this many sessions (0: no limit)")
	maxPerIP := fs.Int("max-sessions-per-ip", 0, "refuse connections beyond this many sessions from one IP address (0: no limit)")
	firstPkg := fs.Duration("first-package-timeout", 0, "close sessions that send no whole package this long after connecting (0: never)")
	logLevel := fs.String("log-level", "info", "log level: debug|info|warn|error")
	drain := fs.Duration("shutdown-timeout", 5*time.Second, "how long a graceful shutdown may take")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9090)")
	engineName := addEngineFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	t, err := ef.resolve()
	if err != nil {
		return err
	}
	engine, err := parseEngine(*engineName, &ef)
	if err != nil {
		return err
	}
	codec, err := codecByName(*codecName)
	if err != nil {
		return err
	}
	log, err := newLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	metrics, err := startMetrics(*metricsAddr, map[string]string{"transport": ef.transport}, log)
	if err != nil {
		return err
	}
	defer metrics.stop(*drain, log)
	h := echoHandler(log)
	srv, err := getty.NewServer(codec, h, &getty.ServerOptions{
		Options:             getty.Options{Logger: log, ReadTimeout: *readTimeout, Observer: metrics.observer(), Engine: engine},
		MaxSessions:         *maxSessions,
		MaxSessionsPerIP:    *maxPerIP,
		FirstPackageTimeout: *firstPkg,
	})
	if err != nil {
		return err
	}
	l, err := t.listen(&ef)
	if err != nil {
		return err
	}
	if l, err = ef.compressListener(l); err != nil {
		return err
	}
	log.Info("listening", "transport", ef.transport, "addr", l.Addr().String(), "codec", *codecName, "compress", ef.compress, "engine", engine.String())
	fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	metrics.announce(stdout, log)
	select {
	case err := <-served:
		srv.Close() //nolint:errcheck // the serve error is what matters
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, getty.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// echoLogger is what the echo handler logs to.
type echoLogger interface {
	Info(string, ...any)
	Warn(string, ...any)
}

// echoHandler writes every package back (on packet sessions without a fixed
// peer, to its sender) and logs session events.
func echoHandler(log echoLogger) getty.Handler[[]byte] {
	return getty.HandlerFuncs[[]byte]{
		Open: func(s *getty.Session[[]byte]) error {
			log.Info("session open", "session", s.ID(), "remote", addr(s.RemoteAddr()), "local", addr(s.LocalAddr()),
				"transport", getty.TransportName(s.Conn()))
			return nil
		},
		Message: func(s *getty.Session[[]byte], p []byte) {
			if err := s.Write(p); err != nil {
				log.Warn("echo failed", "session", s.ID(), "err", err)
			}
		},
		Packet: func(s *getty.Session[[]byte], p []byte, from net.Addr) {
			var err error
			if s.RemoteAddr() != nil {
				err = s.Write(p)
			} else {
				err = s.WriteTo(p, from)
			}
			if err != nil {
				log.Warn("echo failed", "session", s.ID(), "to", from.String(), "err", err)
			}
		},
		Error: func(s *getty.Session[[]byte], err error) {
			log.Warn("session error", "session", s.ID(), "remote", addr(s.RemoteAddr()), "err", err)
		},
		Close: func(s *getty.Session[[]byte]) {
			st := s.Stats()
			attrs := []any{"session", s.ID(), "remote", addr(s.RemoteAddr()), "cause", getty.CauseOf(s.Err()).String(),
				"err", s.Err(), "packages_in", st.PackagesIn, "bytes_in", st.BytesIn, "packages_out", st.PackagesOut, "bytes_out", st.BytesOut,
				"duration", time.Since(st.Started).Round(time.Millisecond)}
			log.Info("session closed", append(attrs, compressStats(s.Conn())...)...)
		},
	}
}

func addr(a interface{ String() string }) string {
	if a == nil {
		return "-"
	}
	return a.String()
}
