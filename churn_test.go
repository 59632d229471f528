package getty_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

// TestChurn opens and closes 5,000 sessions in waves of 1,250 concurrent
// ones, each echoing numbered packages, over TCP and Unix on both engines:
// nothing is lost, reordered or corrupted, and goroutines, descriptors and
// heap return to their baseline after Shutdown.
func TestChurn(t *testing.T) {
	const (
		waves    = 4
		perWave  = 1250
		packages = 10
	)
	for _, tr := range testutil.Streams() {
		if tr.Name != "tcp" && tr.Name != "unix" && tr.Name != "tcp/eventloop" && tr.Name != "unix/eventloop" {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			env := tr.Setup(t)
			runtime.GC()
			g0, fd0, heap0 := runtime.NumGoroutine(), openFDs(t), heapInuse()
			start := time.Now()
			rec := newRecorder(t, true)
			srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), env.ServerOptions(nil))
			if err != nil {
				t.Fatal(err)
			}
			l := env.MustListen(t)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			for w := range waves {
				var wg sync.WaitGroup
				errs := make(chan error, perWave)
				for i := range perWave {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs <- churnClient(env, l, w*perWave+i, packages)
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("wave %d: %v", w, err)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			<-served
			st := srv.Stats()
			if st.SessionsTotal != waves*perWave || st.PackagesIn != waves*perWave*packages || st.PackagesOut != st.PackagesIn {
				t.Fatalf("stats: %d sessions, %d packages in, %d out", st.SessionsTotal, st.PackagesIn, st.PackagesOut)
			}
			rec.checkClosedOnce(t)
			var g, fd int
			var heap uint64
			deadline := time.Now().Add(10 * time.Second)
			for {
				runtime.GC()
				g, fd, heap = runtime.NumGoroutine(), openFDs(t), heapInuse()
				if (g <= g0 && fd <= fd0) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("%d sessions in %d waves of %d, %d packages each way, in %v; goroutines %d -> %d, descriptors %d -> %d, heap in use %d KiB -> %d KiB",
				st.SessionsTotal, waves, perWave, st.PackagesIn, time.Since(start).Round(time.Millisecond), g0, g, fd0, fd, heap0>>10, heap>>10)
			if g > g0 || fd > fd0 {
				t.Errorf("leak: goroutines %d -> %d, descriptors %d -> %d", g0, g, fd0, fd)
			}
			if heap > heap0+16<<20 {
				t.Errorf("heap in use grew from %d to %d bytes", heap0, heap)
			}
		})
	}
}

// churnClient opens one connection, sends numbered packages, checks that
// every echo comes back in order and intact, and closes.
func churnClient(env *testutil.Env, l getty.Listener, id, packages int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gc, err := env.Dialer(l.Addr().String()).Dial(ctx)
	if err != nil {
		return err
	}
	c := gc.(interface {
		Write([]byte) (int, error)
		Read([]byte) (int, error)
		SetDeadline(time.Time) error
		Close() error
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var out []byte
	for seq := range packages {
		p := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, uint32(id)), uint64(seq))
		out = append(out, frame(append(p, payload(id+seq, seq*7)...))...)
	}
	if _, err := c.Write(out); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for seq := range packages {
		p, err := readLengthFrame(br)
		if err != nil {
			return fmt.Errorf("client %d package %d: %w", id, seq, err)
		}
		if len(p) < 12 || binary.BigEndian.Uint32(p) != uint32(id) || binary.BigEndian.Uint64(p[4:]) != uint64(seq) ||
			string(p[12:]) != string(payload(id+seq, seq*7)) {
			return fmt.Errorf("client %d: package %d lost, reordered or corrupted", id, seq)
		}
	}
	return nil
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
