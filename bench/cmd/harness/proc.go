package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuNanos is the CPU time (user + system) of every thread of pid so far,
// from /proc/<pid>/task/*/schedstat (nanosecond resolution). pid 0 means
// this process.
func cpuNanos(pid int) (int64, error) {
	dir := "/proc/self/task"
	if pid > 0 {
		dir = fmt.Sprintf("/proc/%d/task", pid)
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			total += n
		}
	}
	return total, nil
}

// machineCPU is the aggregate line of /proc/stat, in nanoseconds.
type machineCPU struct {
	busy, irq int64 // busy includes irq and softirq
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, errors.New("unexpected /proc/stat")
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal, in USER_HZ (100/s).
	const tick = int64(time.Second / 100)
	return machineCPU{
		busy: (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * tick,
		irq:  (v[5] + v[6]) * tick,
	}, nil
}

// rssKiB is the resident set size of pid.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// proc is a running echo server.
type proc struct {
	cmd  *exec.Cmd
	addr string
	out  bytes.Buffer
	done chan error
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs bin pinned to CPU 0 (under nice -20 when permitted) and
// waits until it accepts connections.
func (h *harness) startServer(ctx context.Context, s server, extra ...string) (*proc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	argv := []string{}
	if h.pin {
		argv = append(argv, "taskset", "-c", h.serverCPU)
	}
	if h.nice {
		argv = append(argv, "nice", "-n", "-20")
	}
	argv = append(argv, h.binary(s))
	argv = append(argv, s.args(addr)...)
	argv = append(argv, extra...)
	p := &proc{addr: addr, done: make(chan error, 1)}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case werr := <-p.done:
			return nil, fmt.Errorf("%s exited before listening: %v\n%s", s.name, werr, p.out.String())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s within 10s", s.name, addr)
		}
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop ends the server: SIGTERM, then SIGKILL after two seconds.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-p.done
	}
}
