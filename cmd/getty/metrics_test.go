package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// startServeOut runs `getty serve` with args and returns the lines it
// printed first (n of them), its stderr and a stop function.
func startServeOut(t *testing.T, n int, args ...string) ([]string, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), nil, pw, stderr)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	var lines []string
	for range n {
		line, err := r.ReadString('\n')
		if err != nil {
			cancel()
			<-code
			t.Fatalf("serve printed %q (%v); stderr: %s", lines, err, stderr.String())
		}
		lines = append(lines, strings.TrimSpace(line))
	}
	go io.Copy(io.Discard, r)
	stopped := false
	var exit int
	stop := func() int {
		if stopped {
			return exit
		}
		stopped = true
		cancel()
		select {
		case exit = <-code:
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop on interrupt")
		}
		return exit
	}
	t.Cleanup(func() { stop() })
	return lines, stderr, stop
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample returns the value of the first sample of name whose labels
// include the given name=value pairs, or -1.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}

// TestServeMetricsAndLogs runs `getty serve --metrics`, echoes through it,
// scrapes /metrics over HTTP and reads the session logs.
func TestServeMetricsAndLogs(t *testing.T) {
	lines, stderr, stop := startServeOut(t, 2, "--metrics", "127.0.0.1:0", "--log-level", "info")
	addr := strings.TrimPrefix(lines[0], "listening on ")
	url := strings.TrimPrefix(lines[1], "metrics on ")
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("printed %q", lines)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for i := range 3 {
		fmt.Fprintf(c, "line %d\n", i)
		if got, err := r.ReadString('\n'); err != nil || got != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
	local := c.LocalAddr().String()
	c.Close()

	// The session's close is counted just after the peer's FIN is read.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fams = scrapeMetrics(t, url)
		if sample(fams, "getty_sessions_closed_total", "cause", "peer") == 1 || time.Now().After(deadline) {
			break
		}
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "getty_sessions_total", labels: []string{"transport", "tcp"}, want: 1},
		{name: "getty_sessions_open", want: 0},
		{name: "getty_sessions_closed_total", labels: []string{"cause", "peer"}, want: 1},
		{name: "getty_packages_received_total", want: 3},
		{name: "getty_packages_sent_total", want: 3},
		{name: "getty_bytes_received_total", want: 21},
		{name: "getty_handler_seconds", want: 3},
	} {
		if got := sample(fams, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if sample(fams, "go_goroutines") <= 0 {
		t.Error("no Go runtime metrics")
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	logs := stderr.String()
	for _, want := range []string{
		"level=INFO msg=\"session open\" session=1 remote=" + local,
		"transport=tcp",
		"level=INFO msg=\"session closed\" session=1 remote=" + local + " cause=peer",
		"packages_in=3",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestServeProxyProtocol runs `getty serve --proxy-protocol --reuse-port`
// and checks the session log shows the address from the header.
func TestServeProxyProtocol(t *testing.T) {
	lines, stderr, stop := startServeOut(t, 1, "--proxy-protocol", "--reuse-port", "--log-level", "info")
	addr := strings.TrimPrefix(lines[0], "listening on ")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "PROXY TCP4 203.0.113.9 127.0.0.1 41000 7000\r\nhello\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "hello\n" {
		t.Fatalf("echo: %q %v", got, err)
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	if logs := stderr.String(); !strings.Contains(logs, "remote=203.0.113.9:41000") {
		t.Errorf("log lacks the client's address:\n%s", logs)
	}
}
