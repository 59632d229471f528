package ws_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// An echo server on getty's own listener, and a client that sends one text
// message to it.
func Example() {
	srv, _ := getty.NewServer[ws.Message](ws.Codec{}, getty.HandlerFuncs[ws.Message]{
		Message: func(s *getty.Session[ws.Message], m ws.Message) { s.Write(m) },
	}, nil)
	l, err := ws.Listen("127.0.0.1:0", &ws.Config{Path: "/echo", Compression: ws.Compression{Enabled: true}})
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(l)
	defer srv.Close()

	got := make(chan ws.Message, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial[ws.Message](ctx, ws.Dialer{URL: l.URL(), Compression: ws.Compression{Enabled: true}}, ws.Codec{},
		getty.HandlerFuncs[ws.Message]{Message: func(_ *getty.Session[ws.Message], m ws.Message) {
			got <- ws.Message{Kind: m.Kind, Data: append([]byte(nil), m.Data...)}
		}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	s, _ := client.Session()
	s.Write(ws.Text("hello"))
	m := <-got
	fmt.Println(m.Kind, string(m.Data))
	// Output: text hello
}

// Mounting the handler on an existing net/http server: the Handler is also
// the getty.Listener the getty server serves.
func ExampleNewHandler() {
	h, _ := ws.NewHandler(&ws.Config{Subprotocols: []string{"chat"}})
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "plain HTTP still works") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	srv, _ := getty.NewServer[ws.Message](ws.Codec{}, getty.HandlerFuncs[ws.Message]{
		Open: func(s *getty.Session[ws.Message]) error {
			fmt.Println("subprotocol:", s.Conn().(*ws.Conn).Subprotocol())
			return nil
		},
	}, nil)
	go srv.Serve(h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ws.Dialer{URL: "ws://" + ln.Addr().String() + "/ws", Subprotocols: []string{"chat"}}.DialConn(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Close()
	// Output: subprotocol: chat
}

// A client keeping two wss:// connections with a custom header.
func ExampleDialer() {
	d := ws.Dialer{
		URL:          "wss://example.com/chat",
		Header:       http.Header{"Authorization": {"Bearer token"}},
		Subprotocols: []string{"chat.v2", "chat.v1"},
		Compression:  ws.Compression{Enabled: true, Level: 1, Threshold: 512},
	}
	_ = func(ctx context.Context, h getty.Handler[ws.Message]) (*getty.Client[ws.Message], error) {
		return getty.Dial[ws.Message](ctx, d, ws.Codec{}, h, &getty.ClientOptions{
			Connections: 2,
			Options:     getty.Options{ReadTimeout: time.Minute}, // pings after 30 s of silence
		})
	}
	fmt.Println(d.URL)
	// Output: wss://example.com/chat
}
