package main

import (
	"errors"
	"fmt"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/proxyproto"
	"github.com/gettynet/getty/transport/tcp"
	"github.com/gettynet/getty/transport/tlsconfig"
)

func tcpTransport() transport {
	return transport{
		defaultAddr: "127.0.0.1:7000",
		stream:      true,
		listen: func(f *endpointFlags) (getty.Listener, error) {
			cfg := tcp.Config{ReusePort: f.reusePort}
			if f.proxyProtocol {
				cfg.ProxyProtocol = &proxyproto.Config{}
			}
			if f.tlsCert != "" || f.tlsKey != "" {
				if f.tlsCert == "" || f.tlsKey == "" {
					return nil, fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
				}
				conf, err := tlsconfig.Server(f.tlsCert, f.tlsKey)
				if err != nil {
					return nil, err
				}
				cfg.TLS = conf
			}
			return tcp.Listen(f.addr, &cfg)
		},
		dialer: func(f *endpointFlags) (getty.Dialer, error) {
			d := tcp.Dialer{Addr: f.addr}
			if f.tlsCA != "" || f.insecureTLS {
				conf, err := tlsconfig.Client(f.tlsCA)
				if err != nil {
					return nil, err
				}
				if f.insecureTLS {
					if f.tlsCA != "" {
						return nil, errors.Join(errUsage, errors.New("--tls-ca and --tls-insecure-skip-verify exclude each other"))
					}
					conf.InsecureSkipVerify = true
				}
				d.TLS = conf
			}
			return d, nil
		},
	}
}
