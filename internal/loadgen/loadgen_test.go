package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gettynet/getty"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer runs a goroutine-per-connection echo server on loopback; mangle,
// if set, rewrites every chunk before it goes back.
func echoServer(t *testing.T, mangle func([]byte)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if mangle != nil {
							mangle(buf[:n])
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func tcpDial(addr string) func(ctx context.Context) (getty.Conn, error) {
	return func(ctx context.Context) (getty.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func TestClosedLoop(t *testing.T) {
	t.Parallel()
	addr := echoServer(t, nil)
	for _, tc := range []struct {
		name               string
		conns, size, depth int
	}{
		{name: "ping-pong", conns: 4, size: 64, depth: 1},
		{name: "pipelined", conns: 2, size: 4096, depth: 16},
		{name: "tiny", conns: 1, size: 1, depth: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var phases []Phase
			res, err := Run(context.Background(), Config{
				Dial: tcpDial(addr), Conns: tc.conns, Size: tc.size, Depth: tc.depth,
				Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond,
				OnPhase: func(p Phase) { phases = append(phases, p) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Messages == 0 || res.Interrupted {
				t.Fatalf("result %+v", res)
			}
			if res.Latency.Counts == 0 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P999 {
				t.Fatalf("latency %+v", res.Latency)
			}
			// Every frame counted in the window had its latency recorded,
			// give or take the frames echoed as the window closed.
			if d := int64(res.Messages) - res.Latency.Counts; d < -int64(tc.conns*tc.depth) || d > int64(tc.conns*tc.depth) {
				t.Fatalf("%d messages but %d latencies", res.Messages, res.Latency.Counts)
			}
			if want := []Phase{PhaseWarmup, PhaseMeasure, PhaseDone}; !equalPhases(phases, want) {
				t.Fatalf("phases %v, want %v", phases, want)
			}
			if res.Mode != "closed-loop" || res.Depth != tc.depth || res.MiBPerSec <= 0 {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func equalPhases(a, b []Phase) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenLoop(t *testing.T) {
	t.Parallel()
	addr := echoServer(t, nil)
	res, err := Run(context.Background(), Config{
		Dial: tcpDial(addr), Conns: 4, Size: 32, Rate: 2000,
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Messages == 0 || res.Latency.Counts == 0 || res.Mode != "open-loop" {
		t.Fatalf("result %+v", res)
	}
	// The schedule bounds what can be sent: 2000/s for 0.3 s, plus the
	// frames due before the window opened and still travelling.
	if res.Messages > 2000 {
		t.Fatalf("%d messages exceed the schedule", res.Messages)
	}
}

func TestBadEcho(t *testing.T) {
	t.Parallel()
	addr := echoServer(t, func(b []byte) {
		for i := range b {
			b[i] ^= 0x55
		}
	})
	res, err := Run(context.Background(), Config{Dial: tcpDial(addr), Conns: 2, Duration: 200 * time.Millisecond})
	if !errors.Is(err, ErrAllFailed) {
		t.Fatalf("err %v, want ErrAllFailed", err)
	}
	if res == nil || res.Errors != 2 || len(res.FirstErrors) != 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestServerCloses(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.ReadFull(c, make([]byte, 8)) //nolint:errcheck // any outcome closes
			c.Close()
		}
	}()
	defer func() { l.Close(); <-done }()
	res, err := Run(context.Background(), Config{Dial: tcpDial(l.Addr().String()), Conns: 2, Duration: time.Second})
	if !errors.Is(err, ErrAllFailed) || res.Errors != 2 {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	addr := echoServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var snaps int
	res, err := Run(ctx, Config{
		Dial: tcpDial(addr), Conns: 2, Duration: time.Minute,
		ProgressInterval: 20 * time.Millisecond,
		Progress: func(s Snapshot) {
			snaps++
			if s.Phase == PhaseMeasure && s.Messages > 0 {
				cancel()
			}
		},
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Messages == 0 || snaps == 0 {
		t.Fatalf("result %+v after %d snapshots", res, snaps)
	}
}

func TestDialFails(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := Run(context.Background(), Config{Dial: tcpDial(addr), Conns: 3}); err == nil {
		t.Fatal("dialing a closed port succeeded")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	dial := tcpDial("127.0.0.1:1")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{name: "no dial", cfg: Config{}},
		{name: "negative conns", cfg: Config{Dial: dial, Conns: -1}},
		{name: "negative rate", cfg: Config{Dial: dial, Rate: -1}},
		{name: "open loop too small", cfg: Config{Dial: dial, Rate: 10, Size: 4}},
		{name: "huge size", cfg: Config{Dial: dial, Size: 2 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Run(context.Background(), tc.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// udpConn is a minimal getty.MessageConn over a connected UDP socket.
type udpConn struct {
	*net.UDPConn
	buf []byte
}

func (u *udpConn) ReadMessage(max int) (getty.Message, error) {
	n, err := u.Read(u.buf)
	if err != nil {
		return getty.Message{}, err
	}
	return getty.Message{Data: u.buf[:n]}, nil
}

func (u *udpConn) WriteMessages(ms []getty.Message) error {
	for _, m := range ms {
		if _, err := u.Write(m.Data); err != nil {
			return err
		}
	}
	return nil
}

func TestMessageConn(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from) //nolint:errcheck // loss shows as a stall, not here
		}
	}()
	defer func() { pc.Close(); <-done }()
	res, err := Run(context.Background(), Config{
		Dial: func(ctx context.Context) (getty.Conn, error) {
			c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
			if err != nil {
				return nil, err
			}
			return &udpConn{UDPConn: c, buf: make([]byte, 65536)}, nil
		},
		Conns: 2, Size: 100, Duration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Messages == 0 {
		t.Fatalf("result %+v", res)
	}
}
