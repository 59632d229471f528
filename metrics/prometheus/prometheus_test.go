package prometheus_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	gettyprom "github.com/gettynet/getty/metrics/prometheus"
	"github.com/gettynet/getty/transport/tcp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// signalling wraps Metrics to tell the test when a session's close has
// been counted.
type signalling struct {
	*gettyprom.Metrics
	closed chan struct{}
}

func (s signalling) OnClose(si getty.SessionInfo, cause getty.CloseCause, err error) {
	s.Metrics.OnClose(si, cause, err)
	s.closed <- struct{}{}
}

// scrape fetches url and parses the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels include
// want (name=value pairs), or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with labels %v", name, want)
	return 0
}

// TestScrapeCountsKnownTraffic runs N sessions of M packages of K bytes
// through an echo server, then scrapes /metrics over HTTP and checks the
// figures.
func TestScrapeCountsKnownTraffic(t *testing.T) {
	t.Parallel()
	reg := prom.NewRegistry()
	m, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prom.Labels{"server": "echo"}})
	if err != nil {
		t.Fatal(err)
	}
	obs := signalling{m, make(chan struct{}, 64)}
	echo := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }}
	srv, err := getty.NewServer(lengthfield.Codec{}, echo, &getty.ServerOptions{Options: getty.Options{Observer: obs}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-served
	}()

	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(hl)
	defer hs.Close()
	url := "http://" + hl.Addr().String() + "/metrics"

	const sessions, packages, size = 5, 100, 200
	const wire = size + 4
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			frame := make([]byte, wire)
			binary.BigEndian.PutUint32(frame, size)
			for range packages {
				if _, err := c.Write(frame); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := io.ReadFull(c, make([]byte, packages*wire)); err != nil {
				t.Errorf("session %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for range sessions {
		select {
		case <-obs.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("sessions did not close")
		}
	}

	fams := scrape(t, url)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "getty_sessions_open", want: 0},
		{name: "getty_sessions_total", want: sessions},
		{name: "getty_sessions_closed_total", labels: []string{"cause", "peer"}, want: sessions},
		{name: "getty_sessions_closed_total", labels: []string{"cause", "error"}, want: 0},
		{name: "getty_sessions_rejected_total", labels: []string{"reason", "limit"}, want: 0},
		{name: "getty_bytes_received_total", want: sessions * packages * wire},
		{name: "getty_bytes_sent_total", want: sessions * packages * wire},
		{name: "getty_packages_received_total", want: sessions * packages},
		{name: "getty_packages_sent_total", want: sessions * packages},
		{name: "getty_handler_seconds", want: sessions * packages},
		{name: "getty_write_backlog_bytes", want: 0},
		{name: "getty_handshake_failures_total", want: 0},
	} {
		if got := value(t, fams, tc.name, append([]string{"server", "echo"}, tc.labels...)...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	st := srv.Stats()
	if value(t, fams, "getty_bytes_received_total") != float64(st.BytesIn) || value(t, fams, "getty_packages_sent_total") != float64(st.PackagesOut) {
		t.Errorf("metrics disagree with Stats %+v", st)
	}
	if h := fams["getty_handler_seconds"]; h.GetType() != dto.MetricType_HISTOGRAM || len(h.Metric[0].Histogram.Bucket) != len(gettyprom.DefaultBuckets)+1 { // and +Inf
		t.Errorf("handler histogram: %v", h)
	}
}

// TestRegistration checks that two Metrics share a registry when their
// const labels differ, and that a clash is an error that leaves nothing
// half-registered.
func TestRegistration(t *testing.T) {
	t.Parallel()
	reg := prom.NewRegistry()
	if _, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prom.Labels{"server": "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prom.Labels{"server": "b"}}); err != nil {
		t.Fatalf("second server's metrics: %v", err)
	}
	if _, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prom.Labels{"server": "a"}}); err == nil {
		t.Fatal("duplicate const labels accepted")
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "getty_sessions_open" && len(f.Metric) != 2 {
			t.Errorf("%d getty_sessions_open series", len(f.Metric))
		}
	}
	if _, err := gettyprom.New(nil, nil); err == nil {
		t.Error("nil Registerer accepted")
	}
	if _, err := gettyprom.New(prom.NewRegistry(), &gettyprom.Options{Namespace: "app"}); err != nil {
		t.Error(err)
	}
}

// fakeSession is a getty.SessionInfo for driving hooks directly.
type fakeSession struct{ id uint64 }

func (f fakeSession) ID() uint64              { return f.id }
func (fakeSession) LocalAddr() net.Addr       { return nil }
func (fakeSession) RemoteAddr() net.Addr      { return nil }
func (fakeSession) Conn() getty.Conn          { return nil }
func (fakeSession) Context() context.Context  { return context.Background() }
func (fakeSession) Err() error                { return nil }
func (fakeSession) Stats() getty.SessionStats { return getty.SessionStats{Backlog: 100} }
func (fakeSession) Value(any) any             { return nil }

// wsClose is a transport close error as package ws has it.
type wsClose struct{ code int }

func (e wsClose) Error() string  { return fmt.Sprintf("ws: peer closed with status %d", e.code) }
func (e wsClose) CloseCode() int { return e.code }

func gather(t *testing.T, reg *prom.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		m[f.GetName()] = f
	}
	return m
}

// TestHooks drives each hook and checks its metric: close codes, error
// operations, refusals, backlog.
func TestHooks(t *testing.T) {
	t.Parallel()
	reg := prom.NewRegistry()
	m, err := gettyprom.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fakeSession{1}, fakeSession{2}
	m.OnOpen(a)
	m.OnOpen(b)
	if got := value(t, gather(t, reg), "getty_write_backlog_bytes"); got != 200 {
		t.Errorf("backlog %v", got)
	}
	m.OnError(a, &getty.OpError{Op: "decode", Err: getty.ErrBadPackage})
	m.OnError(a, &getty.PacketError{Err: errors.New("truncated")})
	m.OnError(a, &getty.OpError{Op: "handshake", Err: errors.New("tls: bad certificate")})
	m.OnError(a, errors.New("other"))
	m.OnRefuse(nil, getty.ErrTooManySessions)
	m.OnRefuse(nil, &getty.OpError{Op: "dial", Err: errors.New("refused")})
	m.OnClose(a, getty.CausePeer, &getty.OpError{Op: "read", Err: wsClose{1001}})
	m.OnClose(b, getty.CauseRejected, fmt.Errorf("%w: no", getty.ErrRejected))
	fams := gather(t, reg)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "getty_close_codes_total", labels: []string{"code", "1001"}, want: 1},
		{name: "getty_errors_total", labels: []string{"op", "decode"}, want: 1},
		{name: "getty_errors_total", labels: []string{"op", "packet"}, want: 1},
		{name: "getty_errors_total", labels: []string{"op", "other"}, want: 1},
		{name: "getty_handshake_failures_total", want: 1},
		{name: "getty_sessions_rejected_total", labels: []string{"reason", "limit"}, want: 1},
		{name: "getty_sessions_rejected_total", labels: []string{"reason", "handler"}, want: 1},
		{name: "getty_dial_failures_total", want: 1},
		{name: "getty_sessions_closed_total", labels: []string{"cause", "peer"}, want: 1},
		{name: "getty_sessions_closed_total", labels: []string{"cause", "rejected"}, want: 1},
		{name: "getty_sessions_open", want: 0},
		{name: "getty_write_backlog_bytes", want: 0},
	} {
		if got := value(t, fams, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if strings.Contains(fmt.Sprint(fams["getty_errors_total"]), "handshake") {
		t.Error("handshake failures counted as errors too")
	}
}

// BenchmarkHooks measures the cost the adapter adds per read, write and
// handled package.
func BenchmarkHooks(b *testing.B) {
	m, err := gettyprom.New(prom.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	s := fakeSession{1}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.OnRead(s, 64, 1)
			m.OnHandle(s, time.Microsecond)
			m.OnWrite(s, 64, 1)
		}
	})
}

// BenchmarkEchoPipelined echoes 16 packages of 64 bytes per round trip
// over TCP loopback, without an Observer and with Metrics.
func BenchmarkEchoPipelined(b *testing.B) {
	for _, name := range []string{"none", "prometheus"} {
		b.Run(name, func(b *testing.B) {
			var o getty.ServerOptions
			if name == "prometheus" {
				m, err := gettyprom.New(prom.NewRegistry(), nil)
				if err != nil {
					b.Fatal(err)
				}
				o.Observer = m
			}
			echo := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }}
			srv, err := getty.NewServer(lengthfield.Codec{}, echo, &o)
			if err != nil {
				b.Fatal(err)
			}
			l, err := tcp.Listen("127.0.0.1:0", nil)
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(l)
			defer srv.Close()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			const depth, size = 16, 64
			batch := make([]byte, 0, depth*(size+4))
			for range depth {
				batch = binary.BigEndian.AppendUint32(batch, size)
				batch = append(batch, make([]byte, size)...)
			}
			in := make([]byte, len(batch))
			c.SetDeadline(time.Now().Add(time.Minute))
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
