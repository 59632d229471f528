package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gettynet/getty"
	gettyprom "github.com/gettynet/getty/metrics/prometheus"
)

// metricsServer serves /metrics for `getty serve --metrics ADDR`.
type metricsServer struct {
	obs  getty.Observer
	addr net.Addr
	srv  *http.Server
	done chan error
}

// startMetrics listens on addr and serves the session metrics, and the Go
// runtime's and the process's, on /metrics. An empty addr means no metrics:
// it returns a nil *metricsServer, whose methods do nothing.
func startMetrics(addr string, labels prometheus.Labels, log *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	m, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: labels})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	ms := &metricsServer{
		obs:  m,
		addr: ln.Addr(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { ms.done <- ms.srv.Serve(ln) }()
	return ms, nil
}

// observer is the Observer to give the server (nil without metrics).
func (ms *metricsServer) observer() getty.Observer {
	if ms == nil {
		return nil
	}
	return ms.obs
}

// announce prints and logs the metrics URL.
func (ms *metricsServer) announce(stdout io.Writer, log *slog.Logger) {
	if ms == nil {
		return
	}
	log.Info("serving metrics", "url", "http://"+ms.addr.String()+"/metrics")
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ms.addr)
}

// stop shuts the HTTP server down, letting a scrape in progress finish
// within timeout.
func (ms *metricsServer) stop(timeout time.Duration, log *slog.Logger) {
	if ms == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := ms.srv.Shutdown(ctx)
	if serr := <-ms.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		log.Warn("stopping the metrics server", "err", err)
	}
}
