package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/unix"
)

// unixTransport serves and dials Unix sockets of one kind. --addr is a
// path, or @name for a Linux abstract address; the default is a file in
// the temporary directory.
func unixTransport(network unix.Network, file string) transport {
	return transport{
		defaultAddr: filepath.Join(os.TempDir(), file),
		stream:      network == unix.Stream,
		listen: func(f *endpointFlags) (getty.Listener, error) {
			if f.tlsCert != "" || f.tlsKey != "" {
				return nil, fmt.Errorf("%w: TLS flags are for --transport tcp", errUsage)
			}
			return unix.Listen(network, f.addr, nil)
		},
		dialer: func(f *endpointFlags) (getty.Dialer, error) {
			if f.tlsCA != "" || f.insecureTLS {
				return nil, fmt.Errorf("%w: TLS flags are for --transport tcp", errUsage)
			}
			return unix.Dialer{Network: network, Addr: f.addr}, nil
		},
	}
}
