package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty"
)

// HeaderLen is the size of a frame's length prefix.
const HeaderLen = 4

// Defaults used for zero-valued Config fields.
const (
	DefaultConns            = 1
	DefaultSize             = 64
	DefaultDepth            = 1
	DefaultDuration         = 10 * time.Second
	DefaultProgressInterval = time.Second
	DefaultDialConcurrency  = 64
)

// MinOpenLoopSize is the smallest payload of an open-loop run: each frame
// carries the time it was due to leave in its first 8 bytes.
const MinOpenLoopSize = 8

// Sentinel errors.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("loadgen: invalid config")
	// ErrBadEcho reports a reply that is not the frame that was sent.
	ErrBadEcho = errors.New("loadgen: reply does not match the request")
	// ErrAllFailed reports a run in which every connection failed.
	ErrAllFailed = errors.New("loadgen: every connection failed")
)

// Phase is the stage a run is in.
type Phase int32

// Phases of a run, in order.
const (
	PhaseWarmup  Phase = iota // traffic flows; nothing is counted
	PhaseMeasure              // traffic is counted and latencies recorded
	PhaseDone                 // the measured window is over
)

func (p Phase) String() string {
	switch p {
	case PhaseWarmup:
		return "warmup"
	case PhaseMeasure:
		return "measure"
	}
	return "done"
}

// Config describes one run. The zero value of every field but Dial takes the
// default it documents.
type Config struct {
	// Dial opens one connection: a net.Conn (stream) or a
	// getty.MessageConn (one frame per message). Required.
	Dial func(ctx context.Context) (getty.Conn, error)
	// Conns is the number of connections. Default 1.
	Conns int
	// Size is the payload of one frame in bytes (the frame adds HeaderLen).
	// Default 64; 0 is not possible (use 1).
	Size int
	// Depth is the number of frames in flight per connection in closed
	// loop. Default 1 (ping-pong). Ignored in open loop.
	Depth int
	// Rate, when positive, runs an open loop at this many frames per second
	// in total, spread evenly across connections.
	Rate float64
	// Warmup runs traffic before the measured window. Default 0.
	Warmup time.Duration
	// Duration is the measured window. Default 10 s.
	Duration time.Duration
	// DialConcurrency bounds dials in progress at once. Default 64.
	DialConcurrency int
	// Progress, if set, receives a snapshot every ProgressInterval (default
	// 1 s) while traffic flows.
	Progress         func(Snapshot)
	ProgressInterval time.Duration
	// OnPhase, if set, is called as each phase begins (PhaseWarmup once the
	// connections are up, then PhaseMeasure, then PhaseDone), before
	// traffic is counted for it. A harness samples the server's CPU time
	// here.
	OnPhase func(Phase)
}

func (c Config) withDefaults() (Config, error) {
	if c.Dial == nil {
		return c, fmt.Errorf("%w: Dial is required", ErrConfig)
	}
	if c.Conns < 0 || c.Size < 0 || c.Depth < 0 || c.Warmup < 0 || c.Duration < 0 || c.DialConcurrency < 0 || c.ProgressInterval < 0 {
		return c, fmt.Errorf("%w: values must not be negative", ErrConfig)
	}
	if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 {
		return c, fmt.Errorf("%w: Rate must be a finite non-negative number", ErrConfig)
	}
	if c.Conns == 0 {
		c.Conns = DefaultConns
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Size > 1<<30 {
		return c, fmt.Errorf("%w: Size %d is too large", ErrConfig, c.Size)
	}
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.DialConcurrency == 0 {
		c.DialConcurrency = DefaultDialConcurrency
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.Rate > 0 && c.Size < MinOpenLoopSize {
		return c, fmt.Errorf("%w: an open-loop run needs Size >= %d (each frame carries its due time)", ErrConfig, MinOpenLoopSize)
	}
	return c, nil
}

// Snapshot is the progress of a running test.
type Snapshot struct {
	Phase    Phase
	Elapsed  time.Duration // since traffic started (warmup included)
	Messages uint64        // frames echoed in the measured window so far
	Rate     float64       // frames per second over the last interval (any phase)
	P99      time.Duration // of the measured window so far
	Errors   uint64        // connections failed so far
}

// Latency is a summary of a latency histogram.
type Latency struct {
	Min    time.Duration `json:"min_ns"`
	Mean   time.Duration `json:"mean_ns"`
	P50    time.Duration `json:"p50_ns"`
	P90    time.Duration `json:"p90_ns"`
	P99    time.Duration `json:"p99_ns"`
	P999   time.Duration `json:"p999_ns"`
	Max    time.Duration `json:"max_ns"`
	Counts int64         `json:"count"`
}

// Result is the outcome of a run. Rates count payload bytes in one
// direction (the echo doubles the traffic on the wire).
type Result struct {
	Conns       int           `json:"conns"`
	Size        int           `json:"size"`
	Depth       int           `json:"depth"`
	Rate        float64       `json:"rate,omitempty"` // requested open-loop rate
	Mode        string        `json:"mode"`           // "closed-loop" or "open-loop"
	Warmup      time.Duration `json:"warmup_ns"`
	Duration    time.Duration `json:"duration_ns"` // the measured window as it ran
	Messages    uint64        `json:"messages"`
	MsgsPerSec  float64       `json:"msgs_per_sec"`
	MiBPerSec   float64       `json:"mib_per_sec"`
	Latency     Latency       `json:"latency"`
	Errors      uint64        `json:"errors"`
	FirstErrors []string      `json:"first_errors,omitempty"`
	Interrupted bool          `json:"interrupted,omitempty"` // the context ended the window early
}

// maxErrorSamples is how many error messages a Result keeps.
const maxErrorSamples = 5

// run is the shared state of one Run.
type run struct {
	cfg     Config
	base    time.Time // monotonic origin of every timestamp
	phase   atomic.Int32
	stop    atomic.Bool
	done    chan struct{} // closed when the run stops
	hist    shardedHist
	workers []*worker

	errMu   sync.Mutex
	errs    uint64
	samples []string
}

func (r *run) now() int64 { return int64(time.Since(r.base)) }

func (r *run) fail(err error) {
	if r.stop.Load() {
		return // errors caused by stopping are not failures
	}
	r.errMu.Lock()
	r.errs++
	if len(r.samples) < maxErrorSamples {
		r.samples = append(r.samples, err.Error())
	}
	r.errMu.Unlock()
}

func (r *run) errorCount() uint64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.errs
}

// Run dials cfg.Conns connections, drives them through the warm-up and the
// measured window and returns the result. If ctx ends during the run the
// window is cut short and the result says Interrupted. Run returns an error
// when it cannot start (bad config, failed dial) or when every connection
// failed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, base: time.Now(), done: make(chan struct{})}
	r.hist.init()
	links, err := dialAll(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.workers = make([]*worker, len(links))
	for i, l := range links {
		r.workers[i] = newWorker(r, i, l)
	}
	r.setPhase(PhaseWarmup)
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run()
		}()
	}
	res := r.control(ctx)
	r.stop.Store(true)
	close(r.done)
	for _, w := range r.workers {
		w.link.wake()
	}
	wg.Wait()
	for _, w := range r.workers {
		w.link.close() //nolint:errcheck // closing after the run; nothing to report
	}
	r.finish(res)
	if res.Errors >= uint64(len(r.workers)) && res.Messages == 0 {
		return res, fmt.Errorf("%w: %s", ErrAllFailed, firstOr(res.FirstErrors, "no detail"))
	}
	return res, nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func (r *run) setPhase(p Phase) {
	if r.cfg.OnPhase != nil {
		r.cfg.OnPhase(p)
	}
	r.phase.Store(int32(p))
}

// control runs the clock: warm-up, measured window, progress reports. It
// returns the result with the counters taken at the end of the window.
func (r *run) control(ctx context.Context) *Result {
	cfg := r.cfg
	res := &Result{Conns: cfg.Conns, Size: cfg.Size, Depth: cfg.Depth, Rate: cfg.Rate, Mode: "closed-loop", Warmup: cfg.Warmup}
	if cfg.Rate > 0 {
		res.Mode = "open-loop"
		res.Depth = 0
	}
	start := time.Now()
	tick := time.NewTicker(cfg.ProgressInterval)
	defer tick.Stop()
	phaseEnd := time.NewTimer(cfg.Warmup)
	defer phaseEnd.Stop()
	var measureStart time.Time
	lastTotal, lastTick := r.total(), start
	for {
		select {
		case <-ctx.Done():
			res.Interrupted = true
			if measureStart.IsZero() {
				measureStart = time.Now()
			}
			r.endWindow(res, measureStart)
			return res
		case <-phaseEnd.C:
			if Phase(r.phase.Load()) == PhaseWarmup {
				r.setPhase(PhaseMeasure)
				measureStart = time.Now()
				phaseEnd.Reset(cfg.Duration)
				continue
			}
			r.endWindow(res, measureStart)
			return res
		case now := <-tick.C:
			total := r.total()
			if cfg.Progress != nil {
				cfg.Progress(Snapshot{
					Phase:    Phase(r.phase.Load()),
					Elapsed:  now.Sub(start),
					Messages: r.measured(),
					Rate:     float64(total-lastTotal) / now.Sub(lastTick).Seconds(),
					P99:      time.Duration(r.hist.percentile(99)),
					Errors:   r.errorCount(),
				})
			}
			lastTotal, lastTick = total, now
		}
	}
}

// endWindow closes the measured window and takes the counters.
func (r *run) endWindow(res *Result, measureStart time.Time) {
	msgs := r.measured()
	res.Duration = time.Since(measureStart)
	r.setPhase(PhaseDone)
	res.Messages = msgs
	if s := res.Duration.Seconds(); s > 0 {
		res.MsgsPerSec = float64(msgs) / s
		res.MiBPerSec = float64(msgs) * float64(r.cfg.Size) / s / (1 << 20)
	}
}

// total counts every frame echoed so far, in any phase.
func (r *run) total() uint64 {
	var n uint64
	for _, w := range r.workers {
		n += w.total.Load()
	}
	return n
}

// measured counts the frames echoed in the measured window so far.
func (r *run) measured() uint64 {
	var n uint64
	for _, w := range r.workers {
		n += w.measured.Load()
	}
	return n
}

func (r *run) finish(res *Result) {
	h := r.hist.merged()
	res.Latency = Latency{
		Min:    time.Duration(h.Min()),
		Mean:   time.Duration(h.Mean()),
		P50:    time.Duration(h.ValueAtQuantile(50)),
		P90:    time.Duration(h.ValueAtQuantile(90)),
		P99:    time.Duration(h.ValueAtQuantile(99)),
		P999:   time.Duration(h.ValueAtQuantile(99.9)),
		Max:    time.Duration(h.Max()),
		Counts: h.TotalCount(),
	}
	r.errMu.Lock()
	res.Errors = r.errs
	res.FirstErrors = append([]string(nil), r.samples...)
	r.errMu.Unlock()
}

// dialAll opens every connection, cfg.DialConcurrency at a time. If one
// dial fails, the others are closed and its error returned.
func dialAll(ctx context.Context, cfg Config) ([]link, error) {
	links := make([]link, cfg.Conns)
	errs := make([]error, cfg.Conns)
	sem := make(chan struct{}, cfg.DialConcurrency)
	var wg sync.WaitGroup
	for i := range links {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := cfg.Dial(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			links[i], errs[i] = newLink(c)
			if errs[i] != nil {
				c.Close() //nolint:errcheck // unusable connection; its error is returned
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, l := range links {
			if l != nil {
				l.close() //nolint:errcheck // the dial error is what matters
			}
		}
		n := 0
		for _, e := range errs {
			if e != nil {
				n++
			}
		}
		return nil, fmt.Errorf("loadgen: %d of %d dials failed: %w", n, cfg.Conns, firstErr(errs))
	}
	return links, nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
