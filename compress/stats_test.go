package compress_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/taskpool"
)

// TestSessionStatsAndTaskPool: an echo server whose handler runs on a task
// pool answers 200 packages of 0 to 3 KiB, in order, on each engine; the
// client session counts the same packages and bytes (encoded packages, not
// wire bytes) either way.
func TestSessionStatsAndTaskPool(t *testing.T) {
	t.Parallel()
	forEngines(t, netTCP, func(t *testing.T, n network) {
		pool, err := taskpool.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the server's shutdown (cleanups run last first)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := pool.Close(ctx); err != nil {
				t.Errorf("closing the pool: %v", err)
			}
		})
		cfg := &compress.Config{}
		d := serve(t, n, cfg, &getty.ServerOptions{Options: getty.Options{TaskPool: pool}}, echo())
		col := newCollector(256)
		c := dial(t, d, cfg, nil, col.handler())
		s, err := c.Session()
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		size := 0
		for i := range 200 {
			p := payload(i*15, i%2 == 0, uint64(i))
			want = append(want, p)
			size += len(pkgFrame(p))
			if err := s.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		for i, p := range want {
			if got := col.next(t); !bytes.Equal(got, p) {
				t.Fatalf("echo %d differs", i)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		st := s.Stats()
		for st.BytesOut != uint64(size) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the counters move once a flush ends
			st = s.Stats()
		}
		if st.PackagesOut != 200 || st.PackagesIn != 200 || st.BytesOut != uint64(size) || st.BytesIn != uint64(size) {
			t.Fatalf("stats %+v; want 200 packages and %d bytes each way", st, size)
		}
	})
}
