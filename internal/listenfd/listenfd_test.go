package listenfd

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestCloseWakesAWaitingRead checks that a Read waiting for connections on
// the duplicate returns net.ErrClosed once Close runs, that a pending
// connection is seen, and that RawConn fails after Close.
func TestCloseWakesAWaitingRead(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var d Dup
	rc, err := d.RawConn(l.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ready := false
	if err := rc.Read(func(uintptr) bool { ready = true; return true }); err != nil || !ready {
		t.Fatalf("Read with a pending connection: %v (called %v)", err, ready)
	}
	ac, err := l.Accept() // nothing pending any more: the next Read waits
	if err != nil {
		t.Fatal(err)
	}
	ac.Close()
	done := make(chan error, 1)
	go func() { done <- rc.Read(func(uintptr) bool { return false }) }()
	time.Sleep(50 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the Read")
	}
	if _, err := d.RawConn(l.(*net.TCPListener)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("RawConn after Close = %v", err)
	}
}
