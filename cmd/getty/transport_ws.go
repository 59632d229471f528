package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/tlsconfig"
	"github.com/gettynet/getty/transport/ws"
)

// wsTransport is WebSocket (secure: wss, which needs --tls-cert and
// --tls-key to serve). --addr is host:port, or for dial a full ws:// or
// wss:// URL; the server answers on every path. permessage-deflate is
// accepted and offered.
func wsTransport(secure bool) transport {
	scheme := "ws"
	if secure {
		scheme = "wss"
	}
	return transport{
		defaultAddr: "127.0.0.1:8080",
		listen: func(f *endpointFlags) (getty.Listener, error) {
			cfg := ws.Config{Compression: ws.Compression{Enabled: true}}
			if secure != (f.tlsCert != "" || f.tlsKey != "") || (f.tlsCert == "") != (f.tlsKey == "") {
				if secure {
					return nil, fmt.Errorf("%w: wss needs --tls-cert and --tls-key", errUsage)
				}
				return nil, fmt.Errorf("%w: --tls-cert/--tls-key need --transport wss", errUsage)
			}
			if secure {
				conf, err := tlsconfig.Server(f.tlsCert, f.tlsKey)
				if err != nil {
					return nil, err
				}
				cfg.TLS = conf
			}
			return ws.Listen(f.addr, &cfg)
		},
		dialer: func(f *endpointFlags) (getty.Dialer, error) {
			url := f.addr
			if !strings.Contains(url, "://") {
				url = scheme + "://" + url + "/"
			}
			if !strings.HasPrefix(url, scheme+"://") {
				return nil, fmt.Errorf("%w: --addr %q is not a %s:// URL", errUsage, f.addr, scheme)
			}
			d := ws.Dialer{URL: url, Compression: ws.Compression{Enabled: true}}
			if !secure && (f.tlsCA != "" || f.insecureTLS) {
				return nil, fmt.Errorf("%w: --tls-ca and --tls-insecure-skip-verify need --transport wss", errUsage)
			}
			if secure {
				if f.tlsCA != "" && f.insecureTLS {
					return nil, errors.Join(errUsage, errors.New("--tls-ca and --tls-insecure-skip-verify exclude each other"))
				}
				conf, err := tlsconfig.Client(f.tlsCA)
				if err != nil {
					return nil, err
				}
				conf.InsecureSkipVerify = f.insecureTLS
				d.TLS = conf
			}
			return d, nil
		},
	}
}
