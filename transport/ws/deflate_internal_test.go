package ws

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/gettynet/getty"
)

// A message that inflates to exactly max bytes passes; one byte more is
// refused, whatever the pool's size classes give in capacity.
func TestInflateLimitBoundary(t *testing.T) {
	var aw appendWriter
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 65535, 65536, 65537, 1 << 20, 3 << 20} {
		p := bytes.Repeat([]byte("getty "), n/6+1)[:n]
		comp := compress(&aw, nil, p, 1)
		for _, max := range []int{n, n + 1, n - 1} {
			if max < 0 {
				continue
			}
			var src inflateSource
			src.reset(comp)
			out, err := inflate(&src, nil, max)
			if max >= n {
				if err != nil || !bytes.Equal(*out, p) {
					t.Fatalf("n %d max %d: %v", n, max, err)
				}
				bufs.Put(out)
				continue
			}
			if !errors.Is(err, getty.ErrMessageTooLarge) {
				t.Fatalf("n %d max %d: %v, want ErrMessageTooLarge", n, max, err)
			}
		}
	}
}

// A bomb is cut off at the limit: the buffers inflate allocates add up to
// less than twice max (doubling from small up to max), never the next
// size class above max. Not parallel: allocation counts are process-wide.
func TestInflateStopsAtLimit(t *testing.T) {
	const max = 2 << 20
	var aw appendWriter
	comp := compress(&aw, nil, make([]byte, 16<<20), 9)
	var src inflateSource
	src.reset(comp)
	inflate(&src, nil, 1) //nolint:errcheck // warms the flate reader pool
	runtime.GC()
	runtime.GC() // empties the buffer pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	src.reset(comp)
	_, err := inflate(&src, nil, max)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, getty.ErrMessageTooLarge) {
		t.Fatalf("err %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("16 MiB bomb, limit 2 MiB: %d KiB allocated", alloc>>10)
	if alloc > 2*max+256<<10 {
		t.Fatalf("allocated %d bytes inflating a bomb with a limit of %d", alloc, max)
	}
}
