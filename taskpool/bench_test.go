package taskpool

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkSubmit measures tiny tasks (an atomic increment) through each
// shape, one key per submitting goroutine. The side-by-side comparison with
// other pools lives in bench/taskpool.
func BenchmarkSubmit(b *testing.B) {
	for _, mode := range allModes {
		for _, subs := range []int{2, 8, 64} {
			b.Run(fmt.Sprintf("%s/submitters=%d", mode, subs), func(b *testing.B) {
				p, err := New(&Options{Mode: mode, Workers: 4})
				if err != nil {
					b.Fatal(err)
				}
				var n atomic.Int64
				task := func() { n.Add(1) }
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				per := b.N / subs
				for s := range subs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range per {
							if err := p.Submit(uint64(s), task); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				if err := p.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if int(n.Load()) != per*subs {
					b.Fatalf("ran %d of %d", n.Load(), per*subs)
				}
				b.ReportMetric(float64(per*subs)/b.Elapsed().Seconds()/1e6, "Mtasks/s")
			})
		}
	}
}
