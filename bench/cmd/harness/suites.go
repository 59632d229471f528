package main

import (
	"context"
	"net"

	"github.com/gettynet/getty"
)

// server is one echo server program of the harness.
type server struct {
	name string
	// dir is the Go package under servers/ (built with go build), or a C
	// file (built with gcc) when c is set.
	dir string
	c   bool
	// args are the command-line arguments given the listen address.
	args func(addr string) []string
	// buffers records the server's buffer sizes, as configured or by its
	// defaults: they move throughput by several times.
	buffers string
	peer    bool   // false for getty itself
	limit   bool   // a "physical limit" reference, not a library
	path    string // a prebuilt binary (a -variant); not built
}

func goArgs(addr string) []string { return []string{"-addr", addr} }

// framesArgs runs a peer that decodes every frame and encodes a reply to
// it, the work a getty server does, where the peer's plain echo server
// sends bytes back unparsed.
func framesArgs(addr string) []string { return []string{"-addr", addr, "-frames"} }

// servers lists every program the harness can build, by name.
func servers() map[string]server {
	list := []server{
		{name: "getty", dir: "servers/getty", args: goArgs,
			buffers: "read: 4 KiB per session, grows x2 to 64 KiB while reads fill it, shrinks back when calm (pooled); write: pooled batch buffer, one write(2) per batch"},
		{name: "getty-eventloop", dir: "servers/getty", args: func(addr string) []string { return []string{"-addr", addr, "-engine", "eventloop"} },
			buffers: "EngineEventLoop: read: 64 KiB per event loop, only a partial package's tail kept per session (pooled); write: non-blocking write(2), the rest queued until EPOLLOUT"},
		{name: "std", dir: "servers/std", args: goArgs, peer: true,
			buffers: "read: 64 KiB per connection (goroutine per connection); write: straight from the read buffer"},
		{name: "gnet", dir: "servers/gnet", args: goArgs, peer: true,
			buffers: "read: 64 KiB per event loop (ReadBufferCap default); per-connection inbound/outbound elastic ring buffers (1 KiB min)"},
		{name: "nbio", dir: "servers/nbio", args: goArgs, peer: true,
			buffers: "read: 64 KiB per poller (DefaultReadBufferSize); unsent bytes queued per connection"},
		{name: "gnet-frames", dir: "servers/gnet", args: framesArgs, peer: true,
			buffers: "as gnet; -frames: decodes each length-prefixed frame and encodes a reply to it, the replies of one read in one Write from a pooled buffer"},
		{name: "nbio-frames", dir: "servers/nbio", args: framesArgs, peer: true,
			buffers: "as nbio; -frames: decodes each length-prefixed frame and encodes a reply to it, the replies of one read in one Write from a pooled buffer; a partial frame is kept with its connection"},
		{name: "netpoll", dir: "servers/netpoll", args: goArgs, peer: true,
			buffers: "read: per-connection linked buffer, 4 KiB pages growing on demand (defaultLinkBufferSize = page size); handler on a goroutine pool"},
		{name: "evio", dir: "servers/evio", args: goArgs, peer: true,
			buffers: "read: 64 KiB per loop (0xFFFF packet buffer); unsent bytes kept per connection"},
		{name: "dubbo-getty", dir: "servers/dubbogetty", args: goArgs, peer: true,
			buffers: "read: 4 KiB reads into a growing per-session buffer (maxReadBufLen); SO_RCVBUF 256 KiB, SO_SNDBUF 512 KiB (as its benchmark server); one allocation per package each way"},
		{name: "go-epoll", dir: "servers/goepoll", args: goArgs, peer: true, limit: true,
			buffers: "read: one 64 KiB buffer for all connections; unsent bytes kept per connection"},
		{name: "c-epoll", dir: "servers/cepoll/echo.c", c: true, args: func(addr string) []string { return []string{addr} }, peer: true, limit: true,
			buffers: "read: one 64 KiB buffer for all connections; unsent bytes kept per connection"},
	}
	m := make(map[string]server, len(list))
	for _, s := range list {
		m[s.name] = s
	}
	return m
}

// cell is one point of a suite's matrix.
type cell struct {
	Conns int `json:"conns"`
	Size  int `json:"size"`
	Depth int `json:"depth"`
}

// suite is one comparison: a transport, the servers that speak it, the
// matrix and how the load generator dials. A new transport joins the
// harness as one entry of suites().
type suite struct {
	name    string
	title   string
	servers []string // in run order; getty first
	full    []cell
	quick   []cell
	dial    func(addr string) func(ctx context.Context) (getty.Conn, error)
	idle    bool // measure idle memory for this suite's servers
}

func tcpDial(addr string) func(ctx context.Context) (getty.Conn, error) {
	return func(ctx context.Context) (getty.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		c.(*net.TCPConn).SetNoDelay(true) //nolint:errcheck // the default already
		return c, nil
	}
}

func matrix(conns, sizes, depths []int) []cell {
	var cells []cell
	for _, c := range conns {
		for _, s := range sizes {
			for _, d := range depths {
				cells = append(cells, cell{Conns: c, Size: s, Depth: d})
			}
		}
	}
	return cells
}

func suites() []suite {
	return []suite{
		{
			name:    "tcp",
			title:   "TCP echo, length-prefixed frames",
			servers: []string{"getty", "getty-eventloop", "std", "gnet", "gnet-frames", "nbio", "nbio-frames", "netpoll", "evio", "dubbo-getty", "go-epoll", "c-epoll"},
			full:    matrix([]int{100, 1000}, []int{64, 4096}, []int{1, 16}),
			quick:   []cell{{Conns: 100, Size: 64, Depth: 1}, {Conns: 100, Size: 4096, Depth: 16}},
			dial:    tcpDial,
			idle:    true,
		},
	}
}
