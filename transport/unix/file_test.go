//go:build linux

package unix_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/unix"
)

var networks = []unix.Network{unix.Stream, unix.Datagram, unix.Seqpacket}

// staleFile leaves a socket file behind, as a server that crashed would.
func staleFile(t *testing.T, network unix.Network, path string) {
	t.Helper()
	addr := &net.UnixAddr{Name: path, Net: string(network)}
	if network == unix.Datagram {
		c, err := net.ListenUnixgram(string(network), addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	} else {
		l, err := net.ListenUnix(string(network), addr)
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("no stale file: %v", err)
	}
}

// roundTrip checks that a server on addr answers a client.
func roundTrip(t *testing.T, network unix.Network, addr string) {
	t.Helper()
	got := make(chan []byte, 1)
	c, s := dial(t, unix.Dialer{Network: network, Addr: addr}, rawCodec{}, collect(got), nil)
	defer c.Close()
	if err := s.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, got); string(p) != "ping\n" {
		t.Fatalf("echo = %q", p)
	}
}

func TestStaleFileReplaced(t *testing.T) {
	t.Parallel()
	for _, network := range networks {
		t.Run(string(network), func(t *testing.T) {
			t.Parallel()
			path := sockPath(t, "s")
			staleFile(t, network, path)
			l, err := unix.Listen(network, path, nil)
			if err != nil {
				t.Fatalf("Listen over a stale file: %v", err)
			}
			serve(t, l, rawCodec{}, &echo{}, nil)
			roundTrip(t, network, path)
		})
	}
}

func TestLiveSocketRefused(t *testing.T) {
	t.Parallel()
	for _, network := range networks {
		for _, other := range networks {
			t.Run(string(network)+"/"+string(other), func(t *testing.T) {
				t.Parallel()
				path := sockPath(t, "s")
				l, err := unix.Listen(network, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				serve(t, l, rawCodec{}, &echo{}, nil)
				if l2, err := unix.Listen(other, path, nil); !errors.Is(err, unix.ErrAddrInUse) {
					if err == nil {
						l2.Close()
					}
					t.Fatalf("second Listen = %v, want ErrAddrInUse", err)
				}
				roundTrip(t, network, path) // the live server is untouched
			})
		}
	}
	t.Run("abstract", func(t *testing.T) {
		t.Parallel()
		name := abstractName(t)
		l, err := unix.Listen(unix.Stream, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := unix.Listen(unix.Stream, name, nil); !errors.Is(err, unix.ErrAddrInUse) {
			t.Fatalf("second Listen = %v, want ErrAddrInUse", err)
		}
	})
}

func TestNotASocketRefused(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "file")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, network := range networks {
		if _, err := unix.Listen(network, path, nil); !errors.Is(err, unix.ErrAddrInUse) {
			t.Fatalf("%s: Listen on a regular file = %v, want ErrAddrInUse", network, err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("the file was touched: %q, %v", b, err)
	}
}

func TestFileRemovedOnShutdown(t *testing.T) {
	t.Parallel()
	for _, network := range networks {
		for _, how := range []string{"Shutdown", "Close"} {
			t.Run(string(network)+"/"+how, func(t *testing.T) {
				t.Parallel()
				path := sockPath(t, "s")
				l, err := unix.Listen(network, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				srv := serve(t, l, rawCodec{}, &echo{}, nil)
				roundTrip(t, network, path)
				if how == "Close" {
					srv.srv.Close()
				}
				srv.shutdown(t)
				if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("socket file after %s: %v", how, err)
				}
			})
		}
	}
}

func TestListenerCloseRemovesFile(t *testing.T) {
	t.Parallel()
	for _, network := range networks {
		path := sockPath(t, "s")
		l, err := unix.Listen(network, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: socket file after Close: %v", network, err)
		}
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("%s: Accept after Close = %v, want net.ErrClosed", network, err)
		}
	}
}

func TestSuccessorFileKept(t *testing.T) {
	t.Parallel()
	path := sockPath(t, "s")
	old, err := unix.Listen(unix.Stream, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // an operator cleans up, a new server takes the path
	succ, err := unix.Listen(unix.Stream, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer succ.Close()
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("closing the old listener removed its successor's file: %v", err)
	}
}

func TestAbstractLeavesNoFile(t *testing.T) {
	t.Parallel()
	for _, network := range networks {
		t.Run(string(network), func(t *testing.T) {
			t.Parallel()
			name := abstractName(t)
			l, err := unix.Listen(network, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Addr().String(); got != name {
				t.Fatalf("Addr = %q, want %q", got, name)
			}
			srv := serve(t, l, rawCodec{}, &echo{}, nil)
			roundTrip(t, network, name)
			for _, p := range []string{name, strings.TrimPrefix(name, "@")} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("abstract name made a file %q: %v", p, err)
				}
			}
			srv.shutdown(t)
			// The name is free again at once.
			l2, err := unix.Listen(network, name, nil)
			if err != nil {
				t.Fatalf("abstract name not released: %v", err)
			}
			l2.Close()
		})
	}
}

func TestSocketFileMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{name: "default", want: 0o600},
		{name: "group", mode: 0o660, want: 0o660},
		{name: "everyone", mode: 0o666, want: 0o666}, // wider than a usual umask
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, network := range networks {
				path := sockPath(t, "s")
				l, err := unix.Listen(network, path, &unix.Config{Mode: tc.mode})
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Lstat(path)
				l.Close()
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != tc.want {
					t.Fatalf("%s: file mode %v, want socket %v", network, fi.Mode(), tc.want)
				}
			}
		})
	}
}

func TestDatagramClientPathFile(t *testing.T) {
	t.Parallel()
	addr := sockPath(t, "d")
	l := listenDatagram(t, addr, nil)
	serve(t, l, rawCodec{}, &echo{}, nil)
	local := filepath.Join(filepath.Dir(addr), "client")
	staleFile(t, unix.Datagram, local) // replaced, like a listener's
	got := make(chan []byte, 1)
	c, s := dial(t, unix.Dialer{Network: unix.Datagram, Addr: addr, LocalAddr: local, Config: unix.Config{Mode: 0o640}}, rawCodec{}, collect(got), nil)
	if fi, err := os.Lstat(local); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("client socket file: %v %v", fi, err)
	}
	if err := s.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	recv(t, got)
	c.Close()
	if _, err := os.Lstat(local); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("client socket file after Close: %v", err)
	}
}

func TestBadAddresses(t *testing.T) {
	t.Parallel()
	long := "/tmp/" + strings.Repeat("x", 110)
	for _, network := range networks {
		if _, err := unix.Listen(network, long, nil); !errors.Is(err, getty.ErrInvalidOptions) {
			t.Fatalf("%s: Listen(long path) = %v, want ErrInvalidOptions", network, err)
		}
		l, err := unix.Listen(network, "", nil) // autobind, like port 0
		if err != nil {
			t.Fatalf("%s: Listen(\"\") = %v", network, err)
		}
		if a := l.Addr().String(); !strings.HasPrefix(a, "@") || len(a) < 2 {
			t.Fatalf("%s: autobind listener address %q", network, a)
		}
		l.Close()
	}
	if _, err := unix.Listen("unixfoo", sockPath(t, "s"), nil); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Fatalf("Listen(unixfoo) = %v, want ErrInvalidOptions", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nobody := sockPath(t, "nobody")
	for _, network := range networks {
		if c, err := (unix.Dialer{Network: network, Addr: nobody}).Dial(ctx); err == nil {
			c.Close()
			t.Fatalf("%s: dialing a missing socket succeeded", network)
		}
	}
	if _, err := (unix.Dialer{Addr: nobody, LocalAddr: "x"}).Dial(ctx); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Fatalf("stream Dialer with LocalAddr = %v, want ErrInvalidOptions", err)
	}
}
