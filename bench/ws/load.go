package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty"
	gettyws "github.com/gettynet/getty/transport/ws"
	"golang.org/x/sys/unix"
)

const defaultDuration = 4 * time.Second

type options struct {
	servers, conns, sizes string
	deflate               bool
	duration              time.Duration
	nodeModules           string
	rounds                int
}

type result struct {
	server    string
	conns     int
	payload   string
	msgs      int64
	perSec    float64
	cpuPerMsg time.Duration
	p50, p99  time.Duration
	rssPer    int64 // bytes of server RSS per idle connection, 0 if not measured
	err       error
}

func run(o options) error {
	// The load generator gets CPU 1; servers get CPU 0.
	var set unix.CPUSet
	set.Set(1)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		fmt.Fprintln(os.Stderr, "warning: cannot pin the load generator:", err)
	}
	runtime.GOMAXPROCS(1)
	type config struct {
		conns, size int
		deflate     bool
	}
	var configs []config
	for _, cs := range splitList(o.conns) {
		n, _ := strconv.Atoi(cs)
		for _, ss := range splitList(o.sizes) {
			size, _ := strconv.Atoi(ss)
			configs = append(configs, config{n, size, false})
		}
	}
	if o.deflate {
		configs = append(configs, config{100, 4096, true})
	}
	servers := splitList(o.servers)
	// Rounds interleave the servers, so that a burst of load from elsewhere
	// on the machine hits them all alike; the median of the rounds is
	// reported.
	all := map[string][]result{}
	for round := range o.rounds {
		for _, cfg := range configs {
			for _, srv := range servers {
				if cfg.deflate && srv == "gobwas" {
					continue
				}
				r := measure(o, srv, cfg.conns, cfg.size, cfg.deflate)
				fmt.Fprintf(os.Stderr, "round %d %s\n", round+1, r.row())
				key := fmt.Sprintf("%d|%d|%v|%s", cfg.conns, cfg.size, cfg.deflate, srv)
				all[key] = append(all[key], r)
			}
		}
	}
	fmt.Println(header)
	for _, cfg := range configs {
		for _, srv := range servers {
			rs := all[fmt.Sprintf("%d|%d|%v|%s", cfg.conns, cfg.size, cfg.deflate, srv)]
			if len(rs) > 0 {
				fmt.Println(median(rs).row())
			}
		}
	}
	return nil
}

// median picks, field by field, the median over the rounds that worked.
func median(rs []result) result {
	var ok []result
	for _, r := range rs {
		if r.err == nil {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return rs[0]
	}
	out := ok[0]
	mid := func(get func(result) float64) float64 {
		v := make([]float64, len(ok))
		for i, r := range ok {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out.perSec = mid(func(r result) float64 { return r.perSec })
	out.cpuPerMsg = time.Duration(mid(func(r result) float64 { return float64(r.cpuPerMsg) }))
	out.p50 = time.Duration(mid(func(r result) float64 { return float64(r.p50) }))
	out.p99 = time.Duration(mid(func(r result) float64 { return float64(r.p99) }))
	out.rssPer = int64(mid(func(r result) float64 { return float64(r.rssPer) }))
	return out
}

const header = "| server | conns | payload | msgs/s | server CPU/msg | p50 | p99 | RSS/idle conn |\n|---|---:|---|---:|---:|---:|---:|---:|"

func (r result) row() string {
	if r.err != nil {
		return fmt.Sprintf("| %s | %d | %s | error: %v | | | | |", r.server, r.conns, r.payload, r.err)
	}
	rss := "—"
	if r.rssPer > 0 {
		rss = fmt.Sprintf("%.1f KB", float64(r.rssPer)/1000)
	}
	return fmt.Sprintf("| %s | %d | %s | %.0f | %.2f µs | %s | %s | %s |", r.server, r.conns, r.payload, r.perSec,
		float64(r.cpuPerMsg)/float64(time.Microsecond), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), rss)
}

// jsonLike builds n bytes of JSON-like text.
func jsonLike(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"messages":[`)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"hello from the benchmark","tags":["a","b"],"ok":true},`, i, i%17)
	}
	return []byte(b.String()[:n])
}

func measure(o options, impl string, conns, size int, deflate bool) result {
	r := result{server: impl, conns: conns, payload: fmt.Sprintf("%d B binary", size)}
	kind := getty.Binary
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	if deflate {
		r.payload = fmt.Sprintf("%d B JSON, deflate", size)
		kind = getty.Text
		payload = jsonLike(size)
	}
	srv, err := startServer(o, impl, deflate)
	if err != nil {
		r.err = err
		return r
	}
	defer srv.stop()
	rss0 := srv.rss()
	cs, err := dialAll(srv.addr, conns, deflate)
	defer func() {
		for _, c := range cs {
			c.CloseWithCause(getty.ErrClientClosed) //nolint:errcheck // end of run
		}
	}()
	if err != nil {
		r.err = err
		return r
	}
	if conns >= 1000 {
		time.Sleep(time.Second) // let the server settle before reading its RSS
		if rss1 := srv.rss(); rss1 > rss0 {
			r.rssPer = (rss1 - rss0) / int64(conns)
		}
	}
	var (
		phase  atomic.Int32 // 0 warm-up, 1 measuring, 2 stop
		count  atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		lat    []time.Duration
		failed atomic.Pointer[error]
	)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			msg := []getty.Message{{Kind: kind, Data: payload}}
			for phase.Load() < 2 {
				t0 := time.Now()
				if err := c.WriteMessages(msg); err != nil {
					failed.Store(&err)
					return
				}
				m, err := c.ReadMessage(1 << 20)
				if err != nil {
					failed.Store(&err)
					return
				}
				if len(m.Data) != len(payload) {
					err := fmt.Errorf("echo of %d bytes, sent %d", len(m.Data), len(payload))
					failed.Store(&err)
					return
				}
				if phase.Load() == 1 {
					local = append(local, time.Since(t0))
					count.Add(1)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Second / 2) // warm-up
	cpu0 := srv.cpu()
	t0 := time.Now()
	phase.Store(1)
	time.Sleep(o.duration)
	phase.Store(2)
	elapsed := time.Since(t0)
	cpu1 := srv.cpu()
	n := count.Load()
	// Unblock connections waiting for an echo that will not come.
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck // best effort
	}
	wg.Wait()
	if e := failed.Load(); e != nil && n == 0 {
		r.err = *e
		return r
	}
	r.msgs = n
	r.perSec = float64(n) / elapsed.Seconds()
	if n > 0 {
		r.cpuPerMsg = (cpu1 - cpu0) / time.Duration(n)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}

func dialAll(addr string, n int, deflate bool) ([]*gettyws.Conn, error) {
	cs := make([]*gettyws.Conn, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := gettyws.Dialer{URL: "ws://" + addr + "/", CloseTimeout: -1,
				Compression: gettyws.Compression{Enabled: deflate, Threshold: -1}}
			cs[i], errs[i] = d.DialConn(ctx)
		}()
	}
	wg.Wait()
	var live []*gettyws.Conn
	for _, c := range cs {
		if c != nil {
			live = append(live, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return live, err
	}
	if deflate {
		for _, c := range cs {
			if !c.Compressed() {
				return live, errors.New("server did not accept permessage-deflate")
			}
		}
	}
	return cs, nil
}

// server is a running echo server process.
type server struct {
	cmd  *exec.Cmd
	addr string
	in   interface{ Close() error }
	done chan error
}

func startServer(o options, impl string, deflate bool) (*server, error) {
	var cmd *exec.Cmd
	if impl == "node" {
		args := []string{"-c", "0", "node", filepath.Join("ws", "node", "echo.js")}
		if deflate {
			args = append(args, "deflate")
		}
		cmd = exec.Command("taskset", args...)
		mods, _ := filepath.Abs(o.nodeModules)
		cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{"-c", "0", self, "server", "-impl", impl}
		if p := os.Getenv("WSBENCH_SERVER_PROFILE"); p != "" {
			args = append(args, "-cpuprofile", p)
		}
		if deflate {
			args = append(args, "-deflate")
		}
		cmd = exec.Command("taskset", args...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, done: make(chan error, 1)}
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "READY ") {
		line, err = br.ReadString('\n') // a log line
	}
	go func() { s.done <- cmd.Wait() }()
	if !strings.HasPrefix(line, "READY ") {
		s.stop()
		return nil, fmt.Errorf("%s did not start: %q %v", impl, line, err)
	}
	s.addr = strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	return s, nil
}

func (s *server) stop() {
	s.in.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck // it would not stop
		<-s.done
	}
}

// cpu is the server's user+system CPU time (all threads; taskset keeps
// its pid as the server's own after exec).
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func (s *server) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
