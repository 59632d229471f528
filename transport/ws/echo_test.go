package ws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// collector is a client handler that forwards received messages.
type collector struct {
	getty.NopHandler[ws.Message]
	got    chan ws.Message
	closed chan error
}

func newCollector() *collector {
	return &collector{got: make(chan ws.Message, 1024), closed: make(chan error, 16)}
}

func (c *collector) OnMessage(_ *getty.Session[ws.Message], m ws.Message) {
	c.got <- ws.Message{Kind: m.Kind, Data: bytes.Clone(m.Data)}
}

func (c *collector) OnClose(s *getty.Session[ws.Message]) { c.closed <- s.Err() }

func (c *collector) next(t *testing.T) ws.Message {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return ws.Message{}
	}
}

func dialClient(t *testing.T, d ws.Dialer, h getty.Handler[ws.Message], opts *getty.ClientOptions) *getty.Client[ws.Message] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opts == nil {
		opts = &getty.ClientOptions{NoReconnect: true}
	}
	c, err := getty.Dial[ws.Message](ctx, d, ws.Codec{}, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEchoTextAndBinary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		server    bool // server offers compression
		client    bool
		threshold int
		wantComp  bool
	}{
		{name: "plain"},
		{name: "deflate", server: true, client: true, threshold: -1, wantComp: true},
		{name: "deflate-threshold", server: true, client: true, wantComp: true},
		{name: "client-only", client: true},
		{name: "server-only", server: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, &ws.Config{Compression: ws.Compression{Enabled: tc.server, Threshold: tc.threshold}}, nil)
			col := newCollector()
			c := dialClient(t, ws.Dialer{URL: es.url, Compression: ws.Compression{Enabled: tc.client, Threshold: tc.threshold}}, col, nil)
			s, err := c.Session()
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Conn().(*ws.Conn).Compressed(); got != tc.wantComp {
				t.Fatalf("compressed = %v, want %v", got, tc.wantComp)
			}
			msgs := []ws.Message{
				ws.Text("hello"),
				ws.Binary([]byte{0, 1, 2, 255}),
				ws.Text(""),
				ws.Binary(nil),
				ws.Text(strings.Repeat("héllo wörld ", 1000)),
				ws.Binary(bytes.Repeat([]byte{7}, 200<<10)),
				ws.Text(strings.Repeat("x", 125)),
				ws.Text(strings.Repeat("y", 126)),
				ws.Text(strings.Repeat("z", 65536)),
			}
			for _, m := range msgs {
				if err := s.Write(m); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range msgs {
				got := col.next(t)
				if got.Kind != want.Kind || !bytes.Equal(got.Data, want.Data) {
					t.Fatalf("message %d: got %v %d bytes, want %v %d bytes", i, got.Kind, len(got.Data), want.Kind, len(want.Data))
				}
			}
			s.Close()
			if err := <-col.closed; !errors.Is(err, getty.ErrSessionClosed) {
				t.Fatalf("client cause = %v", err)
			}
			err = es.waitClosed(t)
			var ce *ws.CloseError
			if !errors.As(err, &ce) || ce.Code != ws.StatusNormalClosure || !errors.Is(err, io.EOF) {
				t.Fatalf("server cause = %v, want a 1000 CloseError wrapping io.EOF", err)
			}
		})
	}
}

func TestManyMessagesBatched(t *testing.T) {
	t.Parallel()
	es := startEcho(t, nil, nil)
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url}, col, nil)
	s, _ := c.Session()
	const n = 5000
	go func() {
		for i := range n {
			s.Write(ws.Text(fmt.Sprint(i))) //nolint:errcheck // checked by the receiver
		}
	}()
	for i := range n {
		m := <-col.got
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d = %q", i, m.Data)
		}
	}
}
