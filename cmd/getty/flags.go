package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/codec/lengthfield"
)

func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: getty %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and turns flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func addEndpointFlags(fs *flag.FlagSet, f *endpointFlags, server bool) {
	fs.StringVar(&f.transport, "transport", "tcp", "transport: "+transportNames())
	fs.StringVar(&f.addr, "addr", "", "address (default depends on the transport; tcp: 127.0.0.1:7000)")
	addCompressFlags(fs, f)
	if server {
		fs.StringVar(&f.tlsCert, "tls-cert", "", "serve TLS with this certificate (PEM file)")
		fs.StringVar(&f.tlsKey, "tls-key", "", "private key of --tls-cert (PEM file)")
		fs.BoolVar(&f.proxyProtocol, "proxy-protocol", false, "tcp: require a PROXY protocol header (v1 or v2) from a load balancer on every connection")
		fs.BoolVar(&f.reusePort, "reuse-port", false, "tcp: listen with SO_REUSEPORT, sharing the port with other processes (graceful restarts)")
	} else {
		fs.StringVar(&f.tlsCA, "tls-ca", "", "dial TLS and trust this CA (PEM file)")
		fs.BoolVar(&f.insecureTLS, "tls-insecure-skip-verify", false, "dial TLS without verifying the server (testing only)")
	}
}

// resolve picks the transport and fills the default address.
func (f *endpointFlags) resolve() (transport, error) {
	t, err := lookupTransport(f.transport)
	if err != nil {
		return t, err
	}
	if f.addr == "" {
		f.addr = t.defaultAddr
	}
	return t, f.checkCompress(t)
}

func codecByName(name string) (getty.Codec[[]byte], error) {
	switch name {
	case "line":
		return delim.Lines(), nil
	case "length":
		return lengthfield.Codec{}, nil
	}
	return nil, fmt.Errorf("%w: unknown codec %q (have line|length)", errUsage, name)
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug|info|warn|error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// addEngineFlag adds --engine to a command that runs a server.
func addEngineFlag(fs *flag.FlagSet) *string {
	return fs.String("engine", "goroutine", "session engine: goroutine | eventloop (Linux epoll loops: plain tcp and unix only, no TLS or PROXY protocol)")
}

// parseEngine checks --engine against the server's other flags.
func parseEngine(name string, f *endpointFlags) (getty.Engine, error) {
	e, err := getty.ParseEngine(name)
	if err != nil {
		return e, fmt.Errorf("%w: %w", errUsage, err)
	}
	if e != getty.EngineEventLoop {
		return e, nil
	}
	switch {
	case f.transport != "tcp" && f.transport != "unix":
		return e, fmt.Errorf("%w: --engine eventloop serves --transport tcp or unix, not %s", errUsage, f.transport)
	case f.tlsCert != "" || f.proxyProtocol:
		return e, fmt.Errorf("%w: --engine eventloop does not serve TLS or PROXY protocol", errUsage)
	}
	return e, nil
}
