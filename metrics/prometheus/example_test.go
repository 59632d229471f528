package prometheus_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	gettyprom "github.com/gettynet/getty/metrics/prometheus"
	"github.com/gettynet/getty/transport/tcp"
)

func Example() {
	reg := prometheus.NewRegistry()
	m, err := gettyprom.New(reg, &gettyprom.Options{ConstLabels: prometheus.Labels{"server": "echo"}})
	if err != nil {
		panic(err)
	}
	echo := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }}
	srv, err := getty.NewServer(lengthfield.Codec{}, echo, &getty.ServerOptions{Options: getty.Options{Observer: m}})
	if err != nil {
		panic(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	// Serve reg on /metrics of an HTTP server of your own, for example:
	_ = http.Handler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	got := make(chan []byte, 1)
	h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { got <- p }}
	c, err := getty.Dial(context.Background(), tcp.Dialer{Addr: l.Addr().String()}, lengthfield.Codec{}, h, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	s, _ := c.Session()
	s.Write([]byte("hello"))
	<-got

	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "getty_sessions_open" || f.GetName() == "getty_sessions_total" {
			m := f.GetMetric()[0]
			fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetGauge().GetValue()+m.GetCounter().GetValue())
		}
	}
	// Output:
	// getty_sessions_open echo 1
	// getty_sessions_total echo 1
}
