package main

import (
	"context"
	"errors"
	"fmt"
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
// runtime's and the process's, on /metrics.
func startMetrics(addr string, labels prometheus.Labels, log *slog.Logger) (*metricsServer, error) {
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

// stop shuts the HTTP server down, letting a scrape in progress finish.
func (ms *metricsServer) stop(ctx context.Context) error {
	err := ms.srv.Shutdown(ctx)
	if serr := <-ms.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
