package testutil

import (
	"runtime"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/tcp"
	"github.com/gettynet/getty/transport/unix"
)

// Transport is one row of the transport matrix: a reliable,
// connection-oriented transport the engine tests run over.
type Transport struct {
	Name string
	// Setup prepares one test's use of the transport (certificates, temp
	// dirs) and returns its Env.
	Setup func(t testing.TB) *Env
}

// Env is a transport set up for one test.
type Env struct {
	// Engine drives the sessions of servers and clients made with
	// ServerOptions and ClientOptions.
	Engine getty.Engine
	// Any is an address that makes Listen pick a fresh endpoint.
	Any string
	// Listen listens on addr (Any, or the Addr of an earlier listener to
	// restart a server there).
	Listen func(addr string) (getty.Listener, error)
	// Dialer dials addr.
	Dialer func(addr string) getty.Dialer
}

// ServerOptions returns a copy of o (nil: defaults) set to the Env's engine.
func (e *Env) ServerOptions(o *getty.ServerOptions) *getty.ServerOptions {
	var c getty.ServerOptions
	if o != nil {
		c = *o
	}
	c.Engine = e.Engine
	return &c
}

// ClientOptions returns a copy of o (nil: defaults) set to the Env's engine.
func (e *Env) ClientOptions(o *getty.ClientOptions) *getty.ClientOptions {
	var c getty.ClientOptions
	if o != nil {
		c = *o
	}
	c.Engine = e.Engine
	return &c
}

// MustListen listens on e.Any or fails the test.
func (e *Env) MustListen(t testing.TB) getty.Listener {
	t.Helper()
	l, err := e.Listen(e.Any)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Streams returns the connection-oriented transports every engine test runs
// over, on the goroutine engine and (on Linux, but for TLS) on the event-loop
// engine: "tcp", "tcp6", "tls", "unix", "tcp/eventloop", ...
func Streams() []Transport {
	ts := goroutineStreams()
	if runtime.GOOS != "linux" {
		return ts
	}
	for _, tr := range ts {
		if tr.Name == "tls" {
			continue
		}
		setup := tr.Setup
		ts = append(ts, Transport{Name: tr.Name + "/eventloop", Setup: func(t testing.TB) *Env {
			env := setup(t)
			env.Engine = getty.EngineEventLoop
			return env
		}})
	}
	return ts
}

func goroutineStreams() []Transport {
	return []Transport{
		{Name: "tcp", Setup: func(testing.TB) *Env { return tcpEnv("127.0.0.1:0", nil, nil) }},
		{Name: "tcp6", Setup: func(t testing.TB) *Env {
			l, err := tcp.Listen("[::1]:0", nil)
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			l.Close() //nolint:errcheck // probe only
			return tcpEnv("[::1]:0", nil, nil)
		}},
		{Name: "tls", Setup: func(t testing.TB) *Env {
			c := NewCerts(t)
			return tcpEnv("127.0.0.1:0", &tcp.Config{TLS: c.Server}, &tcp.Config{TLS: c.Client})
		}},
		{Name: "unix", Setup: func(testing.TB) *Env { return unixEnv(unix.Stream) }},
	}
}

// unixEnv listens on Unix stream sockets at Linux abstract names: "" autobinds a fresh one, and a
// closed listener's name can be listened on again at once.
func unixEnv(network unix.Network) *Env {
	return &Env{
		Any: "",
		Listen: func(addr string) (getty.Listener, error) {
			return unix.Listen(network, addr, nil)
		},
		Dialer: func(addr string) getty.Dialer {
			return unix.Dialer{Network: network, Addr: addr}
		},
	}
}

func tcpEnv(any string, server, client *tcp.Config) *Env {
	return &Env{
		Any: any,
		Listen: func(addr string) (getty.Listener, error) {
			return tcp.Listen(addr, server)
		},
		Dialer: func(addr string) getty.Dialer {
			d := tcp.Dialer{Addr: addr}
			if client != nil {
				d.Config = *client
			}
			return d
		},
	}
}
