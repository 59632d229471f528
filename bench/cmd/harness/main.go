// Command harness runs getty side by side with its peers: it builds every
// echo server under servers/, runs each pinned to CPU 0 while the load
// generator (internal/loadgen, the `getty bench` client) runs here pinned
// to CPU 1, and writes results/<date>.json, README.md tables and an SVG chart
// per suite.
//
//	cd bench && go run ./cmd/harness            # the full matrix (~15 min)
//	cd bench && go run ./cmd/harness -quick     # under 3 minutes
//	cd bench && go run ./cmd/harness -report results/2026-01-02.json
//
// The harness re-executes itself under `taskset -c 1 nice -n -20` (nice only
// when permitted) and raises its descriptor limit to the hard limit; the
// servers inherit the limit.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const pinnedEnv = "GETTY_HARNESS_PINNED"

type options struct {
	quick      bool
	reps       int
	warmup     time.Duration
	duration   time.Duration
	idleConns  int
	maxBG      float64
	only       string
	suites     string
	report     string
	noPin      bool
	profile    string
	skipIdle   bool
	resultsDir string
	quietWait  time.Duration
	budget     time.Duration
	variants   variantFlag
}

// variantFlag collects -variant name=binary: prebuilt builds of a server
// (say getty before and after an engine change) that run beside it.
type variantFlag []string

func (v *variantFlag) String() string     { return strings.Join(*v, ",") }
func (v *variantFlag) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "a short run (under 3 minutes): fewer cells, shorter windows, 2,000 idle connections")
	flag.IntVar(&o.reps, "reps", 0, "runs of each cell per server, interleaved (default 3, quick 2)")
	flag.DurationVar(&o.warmup, "warmup", 0, "warm-up per run (default 1s, quick 0.5s)")
	flag.DurationVar(&o.duration, "duration", 0, "measured window per run (default 3s, quick 1.5s)")
	flag.IntVar(&o.idleConns, "idle-conns", 0, "idle connections for the memory test (default 10000, quick 2000; 0 with -skip-idle)")
	flag.BoolVar(&o.skipIdle, "skip-idle", false, "skip the idle-memory test")
	flag.Float64Var(&o.maxBG, "max-background", 0.10, "repeat a run whose background CPU (share of the machine) exceeded this")
	flag.StringVar(&o.only, "servers", "", "comma-separated servers to run (default all of each suite)")
	flag.StringVar(&o.suites, "suites", "", "comma-separated suites to run (default all)")
	flag.StringVar(&o.report, "report", "", "only regenerate README.md and charts from this results file")
	flag.BoolVar(&o.noPin, "no-pin", false, "do not pin the processes to CPUs")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of the getty server for each run to this directory")
	flag.StringVar(&o.resultsDir, "results", "results", "directory for the results files")
	flag.Var(&o.variants, "variant", "name=path: also run this prebuilt getty server binary, next to getty (repeatable; for A/B tests of engine changes)")
	flag.DurationVar(&o.budget, "noise-budget", 0, "total time the run may spend waiting for quiet and repeating noisy runs (default 10m, quick 30s)")
	flag.DurationVar(&o.quietWait, "quiet-wait", 0, "before each run, wait up to this long for the machine's background CPU to fall under -max-background (default 20s, quick 3s)")
	flag.Parse()
	if err := realMain(o); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func realMain(o options) error {
	if _, err := os.Stat("servers"); err != nil {
		return errors.New("run from the bench/ directory (servers/ not found)")
	}
	if o.report != "" {
		var res results
		b, err := os.ReadFile(o.report)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return err
		}
		return writeReport(&res, ".")
	}
	if !o.noPin && os.Getenv(pinnedEnv) == "" {
		return reexecPinned()
	}
	o.defaults()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := newHarness(o)
	if err != nil {
		return err
	}
	res, err := h.run(ctx)
	if res != nil {
		if werr := h.save(res); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	return err
}

func (o *options) defaults() {
	pick := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	pick(&o.warmup, time.Second, 500*time.Millisecond)
	pick(&o.duration, 3*time.Second, 1500*time.Millisecond)
	pick(&o.quietWait, 20*time.Second, 3*time.Second)
	pick(&o.budget, 10*time.Minute, 30*time.Second)
	if o.reps == 0 {
		o.reps = 3
		if o.quick {
			o.reps = 2
		}
	}
	if o.idleConns == 0 {
		o.idleConns = 10000
		if o.quick {
			o.idleConns = 2000
		}
	}
}

// reexecPinned runs this program again pinned to CPU 1, under nice -20 when
// permitted, and exits with its status.
func reexecPinned() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := []string{"taskset", "-c", "1"}
	if canNice() {
		argv = append(argv, "nice", "-n", "-20")
	}
	argv = append(argv, self)
	argv = append(argv, os.Args[1:]...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	signal.Ignore(os.Interrupt) // the child handles it
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	return err
}

// canNice reports whether a process may raise its priority to -20.
func canNice() bool {
	return exec.Command("nice", "-n", "-20", "true").Run() == nil && unix.Getuid() == 0
}

type harness struct {
	o         options
	pin       bool
	nice      bool
	serverCPU string
	catalog   map[string]server // servers() plus the variants
	spent     time.Duration     // of o.budget
	root      string            // the bench/ directory
	bin       string
	started   time.Time
}

func newHarness(o options) (*harness, error) {
	h := &harness{o: o, pin: !o.noPin, nice: !o.noPin && canNice(), serverCPU: "0", root: ".", started: time.Now()}
	h.catalog = servers()
	for _, v := range o.variants {
		name, path, ok := strings.Cut(v, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-variant %q: want name=path", v)
		}
		if _, dup := h.catalog[name]; dup {
			return nil, fmt.Errorf("-variant %q: name taken", v)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		s := h.catalog["getty"]
		s.name, s.path, s.buffers = name, abs, "as getty (prebuilt variant "+abs+")"
		h.catalog[name] = s
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return nil, fmt.Errorf("raising the descriptor limit: %w", err)
		}
	}
	abs, err := filepath.Abs("bin")
	if err != nil {
		return nil, err
	}
	h.bin = abs
	return h, nil
}

func (h *harness) binary(s server) string {
	if s.path != "" {
		return s.path
	}
	return filepath.Join(h.bin, s.name)
}

// build compiles every server the run needs.
func (h *harness) build(names []string) error {
	if err := os.MkdirAll(h.bin, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		s := h.catalog[n]
		if s.path != "" {
			continue
		}
		var cmd *exec.Cmd
		if s.c {
			cmd = exec.Command("gcc", "-O2", "-o", h.binary(s), s.dir)
		} else {
			cmd = exec.Command("go", "build", "-o", h.binary(s), "./"+s.dir)
		}
		cmd.Dir = h.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", n, err, out)
		}
	}
	return nil
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

// selected returns the suites and servers this run covers.
func (h *harness) selected() ([]suite, error) {
	want := func(list, name string) bool {
		if list == "" {
			return true
		}
		for _, n := range strings.Split(list, ",") {
			if strings.TrimSpace(n) == name {
				return true
			}
		}
		return false
	}
	var out []suite
	for _, s := range suites() {
		if !want(h.o.suites, s.name) {
			continue
		}
		var names []string
		for _, n := range s.servers {
			if _, ok := h.catalog[n]; !ok {
				return nil, fmt.Errorf("suite %s names unknown server %q", s.name, n)
			}
			if want(h.o.only, n) {
				names = append(names, n)
			}
			if n == "getty" {
				for _, v := range h.o.variants {
					vn, _, _ := strings.Cut(v, "=")
					names = append(names, vn)
				}
			}
		}
		s.servers = names
		if len(names) > 0 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("nothing selected")
	}
	return out, nil
}

func (h *harness) run(ctx context.Context) (*results, error) {
	sel, err := h.selected()
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, s := range sel {
		for _, n := range s.servers {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	h.logf("building %s", strings.Join(names, " "))
	if err := h.build(names); err != nil {
		return nil, err
	}
	res := newResults(h, names)
	for _, s := range sel {
		sr := suiteResult{Name: s.name, Title: s.title, Servers: s.servers}
		cells := s.full
		if h.o.quick {
			cells = s.quick
		}
		for _, c := range cells {
			cr, err := h.runCell(ctx, s, c)
			sr.Cells = append(sr.Cells, cr)
			if err != nil {
				res.Suites = append(res.Suites, sr)
				return res, err
			}
		}
		if s.idle && !h.o.skipIdle {
			for _, n := range s.servers {
				im, err := h.idleMemory(ctx, h.catalog[n], s)
				if err != nil {
					h.logf("idle memory of %s: %v", n, err)
					im = idleResult{Server: n, Error: err.Error()}
				}
				sr.Idle = append(sr.Idle, im)
				if ctx.Err() != nil {
					res.Suites = append(res.Suites, sr)
					return res, ctx.Err()
				}
			}
		}
		res.Suites = append(res.Suites, sr)
	}
	res.Elapsed = time.Since(h.started).Round(time.Second).String()
	return res, nil
}

func hostInfo() map[string]string {
	m := map[string]string{
		"go":     runtime.Version(),
		"cpus":   fmt.Sprint(numCPU()), // the machine's, not this pinned process's
		"goarch": runtime.GOARCH,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m["kernel"] = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(line); len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				m["memory"] = fmt.Sprintf("%.0f GiB", kb/(1<<20))
			}
		}
	}
	if b, err := exec.Command("gcc", "--version").Output(); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		m["gcc"] = line
	}
	return m
}

func (h *harness) save(res *results) error {
	if err := os.MkdirAll(h.o.resultsDir, 0o755); err != nil {
		return err
	}
	name := res.Date
	if h.o.quick {
		name += "-quick"
	}
	path := filepath.Join(h.o.resultsDir, name+".json")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	h.logf("wrote %s", path)
	res.File = path
	return writeReport(res, ".")
}
