package main

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{in: nil, want: 0},
		{in: []float64{3}, want: 3},
		{in: []float64{3, 1}, want: 2},
		{in: []float64{5, 1, 3}, want: 3},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSummarizeSkipsFailedSamples(t *testing.T) {
	t.Parallel()
	s := summarize([]sample{
		{MsgsPerSec: 100, MsgsPerCPUSec: 200, P99: time.Millisecond},
		{Error: "boom", MsgsPerSec: 1e9},
		{MsgsPerSec: 300, MsgsPerCPUSec: 400, P99: 3 * time.Millisecond},
		{MsgsPerSec: 5, MsgsPerCPUSec: 5, Background: 0.9}, // noisy: dropped while quiet ones exist
	}, 0.1)
	if s.N != 2 || s.MsgsPerSec != 200 || s.MsgsMin != 100 || s.MsgsMax != 300 || s.MsgsPerCPUSec != 300 || s.P99 != 2*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
}

func fakeResults() *results {
	rowFor := func(name string, msgs, eff float64) row {
		smp := []sample{{MsgsPerSec: msgs, MsgsPerCPUSec: eff, MiBPerSec: 1, P50: 50 * time.Microsecond, P99: time.Millisecond, ServerCPU: 0.9, RSSKiB: 4096}}
		return row{Server: name, Samples: smp, Summary: summarize(smp, 0.1)}
	}
	return &results{
		Date: "2026-01-02", Mode: "quick", Command: "cd bench && go run ./cmd/harness -quick",
		Host:     map[string]string{"cpu": "Test CPU", "cpus": "2"},
		Settings: settings{Reps: 1, Warmup: time.Second, Duration: 3 * time.Second, MaxBackground: 0.1, Pinned: true},
		Buffers:  map[string]string{"getty": "4 KiB", "std": "64 KiB"},
		Suites: []suiteResult{{
			Name: "tcp", Title: "TCP <echo>", Servers: []string{"getty", "std", "c-epoll"},
			Cells: []cellResult{{cell: cell{Conns: 100, Size: 64, Depth: 1}, Rows: []row{
				rowFor("getty", 120000, 150000), rowFor("std", 100000, 100000),
				{Server: "c-epoll", Samples: []sample{{Error: "exploded | badly"}}},
			}}},
			Idle: []idleResult{{Server: "getty", Conns: 10, BaseKiB: 1000, LoadedKiB: 1100, BytesPerCon: 10240}, {Server: "std", Conns: 10, BaseKiB: 1000, LoadedKiB: 1200, BytesPerCon: 20480}},
		}},
	}
}

func TestWriteReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	intro := "# Title\n\nHand-written intro.\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(intro), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run replaces the generated section
		if err := writeReport(fakeResults(), dir); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		intro, "## Results: 2026-01-02 (quick run)", "Test CPU", "| **getty** | 120k (120k–120k)",
		"| std | 100k", "| 1.20 | 1.50 |", "failed: exploded / badly", "| std | 10 | 1.0 MiB | 1.2 MiB | 20,480 | 0.50 |",
		"charts/tcp.svg", "| getty | 4 KiB |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("README lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, beginMark) != 1 || strings.Count(text, endMark) != 1 {
		t.Errorf("generated section appears more than once:\n%s", text)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "charts", "tcp.svg"))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
	if !strings.Contains(string(svg), "TCP &lt;echo&gt;") {
		t.Error("chart title not escaped")
	}
}

func TestSuitesNameKnownServers(t *testing.T) {
	t.Parallel()
	all := servers()
	for _, s := range suites() {
		if len(s.servers) == 0 || s.servers[0] != "getty" {
			t.Errorf("suite %s: getty must run first", s.name)
		}
		for _, n := range s.servers {
			if _, ok := all[n]; !ok {
				t.Errorf("suite %s: unknown server %q", s.name, n)
			}
			if _, err := os.Stat(filepath.Join("..", "..", all[n].dir)); err != nil {
				t.Errorf("server %s: %v", n, err)
			}
		}
		if len(s.full) == 0 || len(s.quick) == 0 || s.dial == nil {
			t.Errorf("suite %s is incomplete", s.name)
		}
	}
}

// TestMeasureAndIdle builds two small servers and runs one short sample and
// an idle-memory test against each, unpinned.
func TestMeasureAndIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds servers")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	h := &harness{
		o:       options{warmup: 50 * time.Millisecond, duration: 300 * time.Millisecond, idleConns: 50, maxBG: 1},
		root:    filepath.Join("..", ".."),
		bin:     t.TempDir(),
		started: time.Now(),
		catalog: servers(),
	}
	if err := h.build([]string{"std", "c-epoll"}); err != nil {
		t.Fatal(err)
	}
	su := suites()[0]
	for _, name := range []string{"std", "c-epoll"} {
		s := servers()[name]
		smp := h.measureOnce(context.Background(), s, su, cell{Conns: 2, Size: 64, Depth: 2}, 0)
		if smp.Error != "" || smp.MsgsPerSec <= 0 || smp.ServerCPU <= 0 || smp.MsgsPerCPUSec <= 0 || smp.RSSKiB <= 0 || smp.P50 <= 0 {
			t.Errorf("%s: sample %+v", name, smp)
		}
		ir, err := h.idleMemory(context.Background(), s, su)
		if err != nil || ir.LoadedKiB <= 0 || ir.BaseKiB <= 0 {
			t.Errorf("%s: idle %+v, %v", name, ir, err)
		}
	}
}
