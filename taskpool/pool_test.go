package taskpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allModes = []Mode{Ordered, Shared, KeyHash, RoundRobin}

// orderedModes keep each key's tasks in order and apart.
func keepsOrder(m Mode) bool { return m == Ordered || m == KeyHash }

func newPool(t *testing.T, o Options) *Pool {
	t.Helper()
	p, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is a task that blocks its worker until opened.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) task() {
	close(g.entered)
	<-g.open
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Workers: -1},
		{QueueSize: -1},
		{Mode: Mode(9)},
		{WhenFull: FullPolicy(7)},
		{Mode: RoundRobin, Workers: 2, Queues: 3},
	} {
		if _, err := New(&o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

// Many keys, each fed by one submitter, tasks with random short delays. The
// modes that keep order must run every key's tasks in order and never two at
// once; the others (Shared, RoundRobin) may reorder and overlap, so for them
// the test only checks that every task ran exactly once.
func TestOrderPerKey(t *testing.T) {
	t.Parallel()
	const submitters, keysPer, perKey = 8, 8, 300
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 4, QueueSize: 16})
			type keyState struct {
				busy atomic.Bool
				next atomic.Int64 // the sequence number expected next
				ran  atomic.Int64
				bad  atomic.Int64 // out-of-order or overlapping runs
			}
			keys := make([]keyState, submitters*keysPer)
			var wg sync.WaitGroup
			for s := range submitters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perKey * keysPer {
						k := s*keysPer + i%keysPer
						seq := int64(i / keysPer)
						ks := &keys[k]
						err := p.Submit(uint64(k), func() {
							if ks.busy.Swap(true) {
								ks.bad.Add(1)
							}
							if rand.IntN(50) == 0 {
								time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
							}
							if ks.next.Load() != seq {
								ks.bad.Add(1)
							}
							ks.next.Store(seq + 1)
							ks.ran.Add(1)
							ks.busy.Store(false)
						})
						if err != nil {
							t.Errorf("Submit: %v", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var bad int64
			for k := range keys {
				if n := keys[k].ran.Load(); n != perKey {
					t.Errorf("key %d ran %d tasks, want %d", k, n, perKey)
				}
				bad += keys[k].bad.Load()
			}
			if keepsOrder(mode) && bad != 0 {
				t.Errorf("%d tasks ran out of order or overlapped with their key", bad)
			}
			if !keepsOrder(mode) {
				t.Logf("%s may reorder: %d tasks ran out of order or overlapped", mode, bad)
			}
			if st := p.Stats(); st.Completed != submitters*keysPer*perKey || st.Queued != 0 || st.Running != 0 {
				t.Errorf("stats after Close: %+v", st)
			}
		})
	}
}

// A key whose task blocks holds up its own later tasks only: every other
// key's tasks complete meanwhile, with fewer workers than keys.
func TestOrderedSlowKeyDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{Workers: 2, QueueSize: 8})
	g := newGate()
	if err := p.Submit(0, g.task); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	var slowRan atomic.Bool
	if err := p.Submit(0, func() { slowRan.Store(true) }); err != nil {
		t.Fatal(err)
	}
	const keys, perKey = 100, 20
	var done sync.WaitGroup
	done.Add(keys * perKey)
	for i := range perKey {
		for k := 1; k <= keys; k++ {
			if err := p.Submit(uint64(k), func() { done.Done(); _ = i }); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := make(chan struct{})
	go func() { done.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("other keys did not finish while key 0 was blocked")
	}
	if slowRan.Load() {
		t.Fatal("key 0's second task ran while its first was still running")
	}
	close(g.open)
	waitFor(t, "key 0's second task", slowRan.Load)
}

// KeyHash keeps order by pinning a key to a worker, so a slow task stalls
// the keys that share its worker: the starvation Ordered avoids.
func TestKeyHashSlowTaskStallsItsWorker(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{Mode: KeyHash, Workers: 2, QueueSize: 8})
	g := newGate()
	if err := p.Submit(0, g.task); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	// Find a key on the same worker as key 0.
	var k uint64 = 1
	for hashKey(k)%2 != hashKey(0)%2 {
		k++
	}
	var ran atomic.Bool
	if err := p.Submit(k, func() { ran.Store(true) }); err != nil {
		t.Fatal(err)
	}
	var other sync.WaitGroup
	other.Add(1)
	o := k + 1
	for hashKey(o)%2 == hashKey(0)%2 {
		o++
	}
	if err := p.Submit(o, other.Done); err != nil {
		t.Fatal(err)
	}
	other.Wait() // the other worker is free
	if ran.Load() {
		t.Fatal("a task behind the blocked one ran")
	}
	close(g.open)
	waitFor(t, "the stalled key", ran.Load)
}

// fill blocks every worker with gates and fills the queue that key 7 goes
// to. It returns the gates and the number of tasks queued.
func fill(t *testing.T, p *Pool, size int) []*gate {
	t.Helper()
	var gates []*gate
	for w := range p.opts.Workers {
		g := newGate()
		gates = append(gates, g)
		key := uint64(1000 + w)
		if p.opts.Mode == KeyHash {
			key = keyForWorker(w, p.opts.Workers)
		}
		if err := p.Submit(key, g.task); err != nil {
			t.Fatal(err)
		}
		<-g.entered
	}
	for range size * max(1, len(queuesOf(p))) {
		if err := p.TrySubmit(7, func() {}); err != nil {
			break
		}
	}
	if err := p.TrySubmit(7, func() {}); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("TrySubmit on a full pool: %v", err)
	}
	return gates
}

func queuesOf(p *Pool) []chan qentry {
	if p.qs == nil {
		return nil
	}
	return p.qs.qs
}

func keyForWorker(w, n int) uint64 {
	for k := uint64(0); ; k++ {
		if hashKey(k)%uint64(n) == uint64(w) {
			return k
		}
	}
}

func openAll(gs []*gate) {
	for _, g := range gs {
		close(g.open)
	}
}

func TestFailPolicy(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 4, WhenFull: Fail})
			gates := fill(t, p, 4)
			before := p.Stats().Rejected
			if err := p.Submit(7, func() { t.Error("rejected task ran") }); !errors.Is(err, ErrPoolFull) {
				t.Fatalf("Submit = %v, want ErrPoolFull", err)
			}
			if st := p.Stats(); st.Rejected != before+1 || st.Running != 2 || st.Queued == 0 {
				t.Errorf("stats: %+v", st)
			}
			openAll(gates)
		})
	}
}

func TestBlockPolicy(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 4})
			gates := fill(t, p, 4)
			var ran atomic.Bool
			res := make(chan error, 1)
			go func() { res <- p.Submit(7, func() { ran.Store(true) }) }()
			select {
			case err := <-res:
				t.Fatalf("Submit returned %v on a full pool", err)
			case <-time.After(20 * time.Millisecond): // it blocks (a negative check only)
			}
			openAll(gates)
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the blocked task", ran.Load)
		})
	}
}

func TestBlockedSubmitFailsOnClose(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 1, QueueSize: 2})
			gates := fill(t, p, 2)
			res := make(chan error, 1)
			go func() { res <- p.Submit(7, func() {}) }()
			time.Sleep(10 * time.Millisecond) // let it block (either way the result is ErrClosed or nil)
			closed := make(chan error, 1)
			go func() { closed <- p.Close(context.Background()) }()
			if err := <-res; !errors.Is(err, ErrClosed) && err != nil {
				t.Fatalf("blocked Submit after Close: %v", err)
			}
			openAll(gates)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRunInCallerPolicy(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 4, WhenFull: RunInCaller})
			gates := fill(t, p, 4)
			ran := false // no atomics: the task must run in this goroutine
			if err := p.Submit(7, func() { ran = true }); err != nil {
				t.Fatal(err)
			}
			if !ran {
				t.Fatal("the task did not run in the caller")
			}
			if st := p.Stats(); st.CallerRuns == 0 {
				t.Errorf("CallerRuns = 0: %+v", st)
			}
			openAll(gates)
		})
	}
}

// In Ordered mode the caller runs the key's queued tasks first, in order.
func TestOrderedRunInCallerKeepsOrder(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{Workers: 1, QueueSize: 4, WhenFull: RunInCaller})
	g := newGate()
	if err := p.Submit(1, g.task); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	var got []int // touched only by the caller below
	for i := range 5 {
		if err := p.Submit(2, func() { got = append(got, i) }); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatalf("ran %v in the caller, want [0 1 2 3 4]", got)
	}
	close(g.open)
}

type countHandler struct {
	slog.Handler
	n atomic.Int64
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countHandler) Handle(ctx context.Context, r slog.Record) error {
	h.n.Add(1)
	return nil
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			h := &countHandler{Handler: slog.DiscardHandler}
			p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 64, Logger: slog.New(h)})
			var ran atomic.Int64
			const n = 200
			for i := range n {
				task := func() { ran.Add(1) }
				if i%10 == 0 {
					task = func() { panic(fmt.Sprint("boom ", i)) }
				}
				if err := p.Submit(uint64(i%3), task); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			if ran.Load() != n-n/10 || st.Panics != n/10 || st.Completed != n-n/10 {
				t.Errorf("ran %d, stats %+v", ran.Load(), st)
			}
			if h.n.Load() != n/10 {
				t.Errorf("logged %d panics, want %d", h.n.Load(), n/10)
			}
		})
	}
}

func TestCloseFinishesQueuedWork(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 1000})
			gates := fill(t, p, 1000)
			queued := p.Stats().Queued
			if queued == 0 {
				t.Fatal("nothing queued")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close with blocked workers = %v", err)
			}
			if err := p.Submit(1, func() {}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Submit after Close = %v", err)
			}
			openAll(gates)
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Completed != uint64(queued+len(gates)) || st.Queued != 0 {
				t.Errorf("queued %d, stats after Close %+v", queued, st)
			}
		})
	}
}

// Submitters racing with Close: every accepted task runs before Close (or
// the Submit that accepted it) returns.
func TestCloseRacingSubmitters(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		for _, policy := range []FullPolicy{Block, Fail, RunInCaller} {
			t.Run(mode.String()+"/"+policy.String(), func(t *testing.T) {
				t.Parallel()
				p := newPool(t, Options{Mode: mode, Workers: 2, QueueSize: 8, WhenFull: policy})
				var accepted, ran atomic.Int64
				var wg sync.WaitGroup
				for s := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						stop := time.Now().Add(10 * time.Second)
						for i := 0; time.Now().Before(stop); i++ {
							err := p.Submit(uint64(s*7+i%5), func() { ran.Add(1) })
							if errors.Is(err, ErrClosed) {
								return
							}
							if err == nil {
								accepted.Add(1)
							}
						}
					}()
				}
				waitFor(t, "some tasks", func() bool { return ran.Load() > 1000 })
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				if accepted.Load() != ran.Load() {
					t.Fatalf("accepted %d tasks, ran %d", accepted.Load(), ran.Load())
				}
			})
		}
	}
}

func TestStatsWait(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{Workers: 1, QueueSize: 4096})
	g := newGate()
	if err := p.Submit(1, g.task); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	for range 1000 {
		if err := p.Submit(2, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Queued != 1000 || st.Running != 1 {
		t.Errorf("stats with 1000 queued: %+v", st)
	}
	time.Sleep(time.Millisecond) // the queued tasks wait at least this long
	close(g.open)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.WaitSamples == 0 || st.MaxWait < time.Millisecond || st.MeanWait() <= 0 {
		t.Errorf("wait stats: %+v", st)
	}
}

// Keys come and go: idle mailboxes are recycled and the pool keeps working.
func TestOrderedManyKeys(t *testing.T) {
	t.Parallel()
	p := newPool(t, Options{Workers: 2, QueueSize: 4})
	var wg sync.WaitGroup
	const n = 20000
	wg.Add(n)
	for i := range n {
		if err := p.Submit(uint64(i), wg.Done); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range p.ord.shards {
		sh := &p.ord.shards[i]
		sh.mu.Lock()
		if len(sh.boxes) > maxIdle+1 {
			t.Errorf("shard %d keeps %d mailboxes", i, len(sh.boxes))
		}
		sh.mu.Unlock()
	}
}
