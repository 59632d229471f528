package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/unix"
)

// endpointFlags are the flags every transport may read.
type endpointFlags struct {
	// proxyProtocol and reusePort are server options for deployments
	// behind a load balancer (tcp).
	proxyProtocol, reusePort bool

	transport   string
	addr        string
	tlsCert     string
	tlsKey      string
	tlsCA       string
	insecureTLS bool
	// compress and compressLevel choose compression (see compress.go).
	compress      string
	compressLevel string
}

// transport knows how to listen and dial for one --transport value. Each
// transport lives in its own transport_<name>.go file.
type transport struct {
	defaultAddr string
	listen      func(f *endpointFlags) (getty.Listener, error)
	dialer      func(f *endpointFlags) (getty.Dialer, error)
	// ephemeralAddr, if set, returns an address for a throwaway server
	// (`getty bench` without --addr); dir is a fresh temporary directory
	// for socket files. Default: defaultAddr on port 0. The dialer must
	// accept the Addr().String() of the listener it gets.
	ephemeralAddr func(dir string) string
	// stream says the transport's connections are byte streams, which
	// --compress can wrap.
	stream bool
}

func transports() map[string]transport {
	return map[string]transport{
		"tcp":        tcpTransport(),
		"udp":        udpTransport(),
		"unix":       unixTransport(unix.Stream, "getty.sock"),
		"unixgram":   unixTransport(unix.Datagram, "getty-gram.sock"),
		"unixpacket": unixTransport(unix.Seqpacket, "getty-packet.sock"),
		"ws":         wsTransport(false),
		"wss":        wsTransport(true),
	}
}

func lookupTransport(name string) (transport, error) {
	t, ok := transports()[name]
	if !ok {
		return t, fmt.Errorf("%w: unknown transport %q (have %s)", errUsage, name, transportNames())
	}
	return t, nil
}

func transportNames() string {
	var names []string
	for n := range transports() {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}
