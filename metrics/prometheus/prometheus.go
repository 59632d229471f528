// Package prometheus exports getty's session metrics to Prometheus. It is
// the only getty package that imports github.com/prometheus/client_golang.
//
// A Metrics is a getty.Observer: construct one per server or client, with
// const labels that tell them apart, register it with a
// prometheus.Registerer, and set it as Options.Observer:
//
//	reg := prometheus.NewRegistry()
//	m, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prometheus.Labels{"server": "echo"}})
//	srv, err := getty.NewServer(codec, handler, &getty.ServerOptions{Options: getty.Options{Observer: m}})
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Metrics (with the default namespace "getty"):
//
//	getty_sessions_open                    gauge     live sessions
//	getty_sessions_total                   counter   sessions opened (handshake done)
//	getty_sessions_closed_total{cause}     counter   peer|local|shutdown|timeout|limit|rejected|error
//	getty_sessions_rejected_total{reason}  counter   limit (MaxSessions) | handler (OnOpen refused)
//	getty_handshake_failures_total         counter   TLS or PROXY header failures
//	getty_dial_failures_total              counter   failed dials (clients)
//	getty_errors_total{op}                 counter   errors reported to OnError, by OpError.Op
//	getty_bytes_received_total             counter
//	getty_bytes_sent_total                 counter
//	getty_packages_received_total          counter
//	getty_packages_sent_total              counter
//	getty_handler_seconds                  histogram time in OnMessage/OnPacket per package
//	getty_write_backlog_bytes              gauge     bytes queued for writing, all live sessions
//	getty_close_codes_total{code}          counter   protocol close codes (WebSocket) found in close causes
//
// Nothing here uses the global registry: New registers only with the
// Registerer it is given.
package prometheus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/gettynet/getty"
)

// DefaultBuckets are the upper bounds, in seconds, of getty_handler_seconds
// when Options.Buckets is nil: 1 µs to about 4 s, by factors of 4.
var DefaultBuckets = prom.ExponentialBuckets(1e-6, 4, 12)

// Options configure Metrics. The zero value (or nil) is ready to use.
type Options struct {
	// Namespace prefixes every metric name. Default "getty".
	Namespace string
	// ConstLabels are added to every metric; use them to tell apart the
	// servers and clients of one process sharing a registry (for example
	// {"server": "api"}). Default none.
	ConstLabels prom.Labels
	// Buckets are the histogram buckets of getty_handler_seconds. Default
	// DefaultBuckets.
	Buckets []float64
	// CloseCode finds a protocol close code (a WebSocket status) in a
	// session's close cause, for getty_close_codes_total. Default: the
	// first getty.CloseCoder in the cause's chain.
	CloseCode func(cause error) (code int, ok bool)
}

// Metrics is a getty.Observer that keeps Prometheus metrics. Its methods
// are safe for concurrent use. One Metrics may observe several servers and
// clients, which then share its figures.
type Metrics struct {
	getty.NopObserver

	open          prom.Gauge
	total         prom.Counter
	closed        []prom.Counter // by getty.CloseCause
	closedVec     *prom.CounterVec
	rejectLimit   prom.Counter
	rejectHandler prom.Counter
	handshake     prom.Counter
	dial          prom.Counter
	errors        *prom.CounterVec
	bytesIn       prom.Counter
	bytesOut      prom.Counter
	pkgsIn        prom.Counter
	pkgsOut       prom.Counter
	handler       prom.Histogram
	backlog       prom.GaugeFunc
	codes         *prom.CounterVec
	closeCode     func(error) (int, bool)

	live sync.Map // the live getty.SessionInfo values (keys), for the backlog gauge
}

// New returns Metrics registered with reg. It fails if reg already holds
// metrics of the same names and const labels. A nil opts means defaults.
func New(reg prom.Registerer, opts *Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("prometheus: nil Registerer")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "getty"
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	if o.CloseCode == nil {
		o.CloseCode = closeCoder
	}
	m := &Metrics{closeCode: o.CloseCode}
	counter := func(name, help string) prom.Counter {
		return prom.NewCounter(prom.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels})
	}
	vec := func(name, help, label string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, []string{label})
	}
	m.open = prom.NewGauge(prom.GaugeOpts{Namespace: o.Namespace, Name: "sessions_open", Help: "Live sessions.", ConstLabels: o.ConstLabels})
	m.total = counter("sessions_total", "Sessions opened (their transport handshake done).")
	m.closedVec = vec("sessions_closed_total", "Sessions closed, by cause.", "cause")
	for _, c := range getty.CloseCauses() {
		m.closed = append(m.closed, m.closedVec.WithLabelValues(c.String()))
	}
	rejected := vec("sessions_rejected_total", "Connections refused: at the session limit, or by the handler's OnOpen.", "reason")
	m.rejectLimit = rejected.WithLabelValues("limit")
	m.rejectHandler = rejected.WithLabelValues("handler")
	m.handshake = counter("handshake_failures_total", "Connections whose transport handshake (TLS, PROXY protocol header) failed.")
	m.dial = counter("dial_failures_total", "Dials that failed (clients).")
	m.errors = vec("errors_total", "Errors reported to the handler's OnError, by operation.", "op")
	m.bytesIn = counter("bytes_received_total", "Bytes read from the transport.")
	m.bytesOut = counter("bytes_sent_total", "Bytes written to the transport.")
	m.pkgsIn = counter("packages_received_total", "Packages decoded and dispatched.")
	m.pkgsOut = counter("packages_sent_total", "Packages written.")
	m.handler = prom.NewHistogram(prom.HistogramOpts{Namespace: o.Namespace, Name: "handler_seconds",
		Help: "Time the handler took per package (OnMessage or OnPacket).", ConstLabels: o.ConstLabels, Buckets: o.Buckets})
	m.backlog = prom.NewGaugeFunc(prom.GaugeOpts{Namespace: o.Namespace, Name: "write_backlog_bytes",
		Help: "Bytes queued for writing on all live sessions.", ConstLabels: o.ConstLabels}, m.sumBacklog)
	m.codes = vec("close_codes_total", "Protocol close codes (WebSocket status) found in close causes.", "code")

	collectors := []prom.Collector{m.open, m.total, m.closedVec, rejected, m.handshake, m.dial, m.errors,
		m.bytesIn, m.bytesOut, m.pkgsIn, m.pkgsOut, m.handler, m.backlog, m.codes}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("prometheus: registering getty metrics: %w", err)
		}
	}
	return m, nil
}

// OnOpen counts a session.
func (m *Metrics) OnOpen(s getty.SessionInfo) {
	m.total.Inc()
	m.open.Inc()
	m.live.Store(s, nil)
}

// OnClose counts a closed session by cause, and its close code if any.
func (m *Metrics) OnClose(s getty.SessionInfo, cause getty.CloseCause, err error) {
	m.open.Dec()
	m.live.Delete(s)
	if int(cause) < len(m.closed) {
		m.closed[cause].Inc()
	}
	if cause == getty.CauseRejected {
		m.rejectHandler.Inc()
	}
	if code, ok := m.closeCode(err); ok {
		m.codes.WithLabelValues(strconv.Itoa(code)).Inc()
	}
}

// OnError counts an error by operation; a handshake error counts as a
// handshake failure.
func (m *Metrics) OnError(s getty.SessionInfo, err error) {
	op := errorOp(err)
	if op == "handshake" {
		m.handshake.Inc()
		return
	}
	m.errors.WithLabelValues(op).Inc()
}

// OnRefuse counts a connection refused at the session limit, or a failed
// dial.
func (m *Metrics) OnRefuse(_ net.Addr, err error) {
	if errors.Is(err, getty.ErrTooManySessions) {
		m.rejectLimit.Inc()
		return
	}
	m.dial.Inc()
}

// OnRead counts bytes and packages received.
func (m *Metrics) OnRead(_ getty.SessionInfo, bytes, packages int) {
	m.bytesIn.Add(float64(bytes))
	if packages > 0 {
		m.pkgsIn.Add(float64(packages))
	}
}

// OnWrite counts bytes and packages sent.
func (m *Metrics) OnWrite(_ getty.SessionInfo, bytes, packages int) {
	m.bytesOut.Add(float64(bytes))
	if packages > 0 {
		m.pkgsOut.Add(float64(packages))
	}
}

// OnHandle records the handler's time for one package.
func (m *Metrics) OnHandle(_ getty.SessionInfo, d time.Duration) {
	m.handler.Observe(d.Seconds())
}

func (m *Metrics) sumBacklog() float64 {
	var n int
	m.live.Range(func(k, _ any) bool {
		n += k.(getty.SessionInfo).Stats().Backlog
		return true
	})
	return float64(n)
}

// errorOp names an error's operation for the op label: the Op of the
// outermost *getty.OpError, "packet" for a *getty.PacketError, else
// "other".
func errorOp(err error) string {
	var op *getty.OpError
	if errors.As(err, &op) {
		return op.Op
	}
	var pe *getty.PacketError
	if errors.As(err, &pe) {
		return "packet"
	}
	return "other"
}

func closeCoder(err error) (int, bool) {
	var cc getty.CloseCoder
	if err != nil && errors.As(err, &cc) {
		return cc.CloseCode(), true
	}
	return 0, false
}
