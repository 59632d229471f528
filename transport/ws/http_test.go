package ws_test

import (
	"net"
	"net/http"
)

// httpServer serves an http.Handler on a listener for a test.
type httpServer struct {
	ln   net.Listener
	h    http.Handler
	srv  *http.Server
	done chan struct{}
}

func (s *httpServer) start() {
	s.srv = &http.Server{Handler: s.h}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.srv.Serve(s.ln)
	}()
}

func (s *httpServer) stop() {
	s.srv.Close()
	<-s.done
}
