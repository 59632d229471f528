package main

import (
	"fmt"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/udp"
)

// udpTransport serves and dials UDP. The server is one session that answers
// every sender; the client is a connected socket dialled honestly (it fails
// when nobody listens). Each package travels as one datagram.
func udpTransport() transport {
	return transport{
		defaultAddr: "127.0.0.1:7000",
		listen: func(f *endpointFlags) (getty.Listener, error) {
			if f.tlsCert != "" || f.tlsKey != "" {
				return nil, fmt.Errorf("%w: --transport udp has no TLS", errUsage)
			}
			l, err := udp.Listen(f.addr, nil)
			if err != nil {
				return nil, err
			}
			return l, nil
		},
		dialer: func(f *endpointFlags) (getty.Dialer, error) {
			if f.tlsCA != "" || f.insecureTLS {
				return nil, fmt.Errorf("%w: --transport udp has no TLS", errUsage)
			}
			return udp.Dialer{Addr: f.addr}, nil
		},
	}
}
