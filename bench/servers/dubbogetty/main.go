// Command dubbogetty is the echo server of the original getty
// (github.com/apache/dubbo-getty v1.5.0) in the benchmark harness, set up as
// its own benchmark/server example: TCP_NODELAY, 256 KiB SO_RCVBUF, 512 KiB
// SO_SNDBUF, a package handler that frames with a 4-byte length (big-endian
// here, to match the load generator) and an OnMessage that writes each
// package back. No task pool (OnMessage runs on the read goroutine).
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	getty "github.com/apache/dubbo-getty"
)

type pkgHandler struct{}

func (pkgHandler) Read(_ getty.Session, data []byte) (interface{}, int, error) {
	if len(data) < 4 {
		return nil, 0, nil
	}
	n := int(binary.BigEndian.Uint32(data))
	if len(data) < 4+n {
		return nil, 4 + n, nil
	}
	return append([]byte(nil), data[4:4+n]...), 4 + n, nil
}

func (pkgHandler) Write(_ getty.Session, p interface{}) ([]byte, error) {
	b, ok := p.([]byte)
	if !ok {
		return nil, errors.New("not a []byte")
	}
	out := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(out, uint32(len(b)))
	copy(out[4:], b)
	return out, nil
}

type listener struct{}

func (listener) OnOpen(getty.Session) error   { return nil }
func (listener) OnClose(getty.Session)        {}
func (listener) OnError(getty.Session, error) {}
func (listener) OnCron(getty.Session)         {}
func (listener) OnMessage(s getty.Session, p interface{}) {
	s.WritePkg(p, 0) //nolint:errcheck // getty closes broken sessions itself
}

func newSession(s getty.Session) error {
	tc, ok := s.Conn().(*net.TCPConn)
	if !ok {
		return errors.New("not a TCP connection")
	}
	tc.SetNoDelay(true)                     //nolint:errcheck // best effort, as upstream
	tc.SetKeepAlive(true)                   //nolint:errcheck
	tc.SetKeepAlivePeriod(10 * time.Second) //nolint:errcheck
	tc.SetReadBuffer(262144)                //nolint:errcheck
	tc.SetWriteBuffer(524288)               //nolint:errcheck
	s.SetName("echo")
	s.SetMaxMsgLen(128 * 1024)
	s.SetReadTimeout(time.Second)
	s.SetWriteTimeout(5 * time.Second)
	s.SetCronPeriod(20000)
	s.SetWaitTime(time.Second)
	s.SetPkgHandler(pkgHandler{})
	s.SetEventListener(listener{})
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address")
	flag.Parse()
	getty.SetLoggerLevel(getty.LoggerLevelError) //nolint:errcheck // a valid level
	srv := getty.NewTCPServer(getty.WithLocalAddress(*addr))
	go srv.RunEventLoop(newSession)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Close()
}
