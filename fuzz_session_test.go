package getty_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

// FuzzSessionStream feeds arbitrary bytes to a live echo session over
// loopback TCP (on both engines) and checks the engine against a model: the
// packages echoed are exactly those the codec decodes from the input, in
// order, up to the first malformed or oversized one; the session then ends
// and the server goes on.
func FuzzSessionStream(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'h', 'i'}, false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff}, true)
	f.Add(append(frame(payload(1, 200)), 0, 0, 1), false)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), true)

	const max = 512
	type target struct {
		srv  *getty.Server[[]byte]
		addr string
	}
	var targets []target
	for _, engine := range []getty.Engine{getty.EngineGoroutine, getty.EngineEventLoop} {
		h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }} //nolint:errcheck // a failed echo ends the session
		srv, err := getty.NewServer(lengthfield.Codec{}, h, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: max, Engine: engine}})
		if err != nil {
			f.Fatal(err)
		}
		l, err := tcp.Listen("127.0.0.1:0", nil)
		if err != nil {
			f.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		f.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				f.Error(err)
			}
			<-served
		})
		targets = append(targets, target{srv, l.Addr().String()})
	}

	f.Fuzz(func(t *testing.T, in []byte, eventLoop bool) {
		tg := targets[0]
		if eventLoop {
			tg = targets[1]
		}
		// The model: what the codec decodes from in, up to the first error.
		var want [][]byte
		for rest := in; ; {
			p, n, err := lengthfield.Codec{}.Decode(rest, max)
			if err != nil || n == 0 {
				break
			}
			want = append(want, p)
			rest = rest[n:]
		}
		c, err := net.DialTimeout("tcp", tg.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(c)
		for i, w := range want {
			got, err := readLengthFrame(br)
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("echo %d: %d bytes %v, want %d bytes", i, len(got), err, len(w))
			}
		}
		// Nothing more: the session ends once the input is used up.
		if n, err := io.Copy(io.Discard, br); n != 0 || (err != nil && !isReset(err) && !errors.Is(err, io.EOF)) {
			t.Fatalf("after the expected echoes: %d more bytes, %v", n, err)
		}
	})
}
