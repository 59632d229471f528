package rawio

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gettynet/getty/internal/bufpool"
)

func tcpConnPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestRawReader(t *testing.T) {
	t.Parallel()
	a, b := tcpConnPair(t)
	var pool bufpool.Pool
	r := NewReader(a, &pool)
	if r == nil {
		t.Fatal("no raw reader for a *net.TCPConn")
	}
	if _, err := b.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	bp, n, err := r.Read(1024)
	if err != nil || bp == nil || n != 5 || string((*bp)[:cap(*bp)][:n]) != "hello" || cap(*bp) < 1024 {
		t.Fatalf("read: n=%d err=%v", n, err)
	}
	pool.Put(bp)

	// A deadline wakes a waiting read, which then holds no buffer.
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	bp, n, err = r.Read(1024)
	if !errors.Is(err, os.ErrDeadlineExceeded) || bp != nil || n != 0 {
		t.Fatalf("after deadline: bp=%v n=%d err=%v", bp, n, err)
	}
	a.SetReadDeadline(time.Time{})

	b.Close()
	bp, n, err = r.Read(1024)
	if !errors.Is(err, io.EOF) || n != 0 {
		t.Fatalf("after peer close: n=%d err=%v", n, err)
	}
	pool.Put(bp)
}

func TestRawReaderOnlyForPlainSockets(t *testing.T) {
	t.Parallel()
	a, _ := tcpConnPair(t)
	var pool bufpool.Pool
	type wrapped struct{ *net.TCPConn } // embeds SyscallConn but may override Read
	for _, c := range []net.Conn{wrapped{a}, tls.Client(a, &tls.Config{})} {
		if NewReader(c, &pool) != nil {
			t.Errorf("raw reader for %T", c)
		}
	}
}
