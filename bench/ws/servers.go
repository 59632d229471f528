package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	coder "github.com/coder/websocket"
	"github.com/gettynet/getty"
	gettyws "github.com/gettynet/getty/transport/ws"
	gws "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
)

// runServer runs one echo server until stdin closes. It prints "READY
// host:port" once it listens.
func runServer(impl string, deflate bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	var stop func()
	switch impl {
	case "getty":
		stop, err = serveGetty(ln, deflate)
	case "gorilla":
		stop = serveHTTP(ln, gorillaEcho(deflate))
	case "coder":
		stop = serveHTTP(ln, coderEcho(deflate))
	case "gobwas":
		if deflate {
			return fmt.Errorf("gobwas: deflate echo not implemented in this harness")
		}
		stop = serveHTTP(ln, gobwasEcho())
	case "nbio":
		ln.Close()
		stop, err = serveNbio(addr, deflate)
	default:
		return fmt.Errorf("unknown server %q", impl)
	}
	if err != nil {
		return err
	}
	fmt.Println("READY", addr)
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // any end of stdin stops the server
	stop()
	return nil
}

func serveGetty(ln net.Listener, deflate bool) (func(), error) {
	ln.Close() // ws.Listen binds its own
	srv, err := getty.NewServer[gettyws.Message](gettyws.Codec{}, getty.HandlerFuncs[gettyws.Message]{
		Message: func(s *getty.Session[gettyws.Message], m gettyws.Message) { s.Write(m) }, //nolint:errcheck // a failed echo ends the session
	}, nil)
	if err != nil {
		return nil, err
	}
	l, err := gettyws.Listen(ln.Addr().String(), &gettyws.Config{Compression: gettyws.Compression{Enabled: deflate}})
	if err != nil {
		return nil, err
	}
	go srv.Serve(l)                    //nolint:errcheck // ends at Close
	return func() { srv.Close() }, nil //nolint:errcheck // exiting
}

func serveHTTP(ln net.Listener, h http.HandlerFunc) func() {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)              //nolint:errcheck // ends at Close
	return func() { srv.Close() } //nolint:errcheck // exiting
}

func gorillaEcho(deflate bool) http.HandlerFunc {
	up := websocket.Upgrader{EnableCompression: deflate, CheckOrigin: func(*http.Request) bool { return true }}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 32<<10)
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			wr, err := c.NextWriter(mt)
			if err != nil {
				return
			}
			if _, err := io.CopyBuffer(wr, rd, buf); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	}
}

func coderEcho(deflate bool) http.HandlerFunc {
	mode := coder.CompressionDisabled
	if deflate {
		mode = coder.CompressionNoContextTakeover
	}
	opts := &coder.AcceptOptions{CompressionMode: mode, InsecureSkipVerify: true}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		ctx := context.Background()
		buf := make([]byte, 32<<10)
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if _, err := io.CopyBuffer(wr, rd, buf); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	}
}

// gobwasEcho is gobwas/ws with buffered I/O (a bufio.Reader and Writer
// per connection, one flush per message).
func gobwasEcho() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, rw, _, err := gws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		bw := bufio.NewWriterSize(conn, 4096)
		brw := struct {
			io.Reader
			io.Writer
		}{rw.Reader, bw}
		for {
			msg, op, err := wsutil.ReadClientData(brw)
			if err != nil {
				return
			}
			if err := wsutil.WriteServerMessage(bw, op, msg); err != nil {
				return
			}
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

func serveNbio(addr string, deflate bool) (func(), error) {
	logging.SetLevel(logging.LevelNone)
	up := nbws.NewUpgrader()
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.EnableCompression(deflate)
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
		c.WriteMessage(mt, data) //nolint:errcheck // a failed echo closes the conn
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		up.Upgrade(w, r, nil) //nolint:errcheck // a failed upgrade was answered
	})
	engine := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux})
	if err := engine.Start(); err != nil {
		return nil, err
	}
	return engine.Stop, nil
}
