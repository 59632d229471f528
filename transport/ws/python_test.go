package ws_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// TestPythonWebsockets checks the permessage-deflate negotiation against
// Debian's python3-websockets, which can offer small windows: the server
// must decline what it cannot honour and accept the rest.
func TestPythonWebsockets(t *testing.T) {
	t.Parallel()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		missingPeer(t, "/usr/bin/python3 missing")
	}
	if err := exec.Command(py, "-c", "import websockets").Run(); err != nil {
		missingPeer(t, "python3-websockets not installed")
	}
	es := startEcho(t, &ws.Config{Compression: ws.Compression{Enabled: true}}, nil)
	for _, tc := range []struct {
		offer    string
		accepted bool
	}{
		{offer: "none"},
		{offer: "default", accepted: true},
		{offer: "no-takeover", accepted: true},
		{offer: "small-server-window", accepted: false},
		{offer: "small-client-window", accepted: true},
	} {
		t.Run(tc.offer, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, filepath.Join("testdata", "python", "client.py"), es.url, tc.offer).CombinedOutput()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			var r struct {
				OK         bool     `json:"ok"`
				Problems   []string `json:"problems"`
				Extensions string   `json:"extensions"`
				Code       int      `json:"code"`
			}
			if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
				t.Fatalf("output %q", out)
			}
			if !r.OK || r.Code != 1000 {
				t.Fatalf("%+v", r)
			}
			if got := strings.Contains(r.Extensions, "permessage-deflate"); got != tc.accepted {
				t.Fatalf("extensions %q, accepted want %v", r.Extensions, tc.accepted)
			}
		})
	}
}

// TestPythonAutobahn sends framing cases built by Debian's python3-autobahn
// (its sendFrame, the call its fuzzing suite builds frames with) to a getty
// echo server: a peer nobody here wrote. For each case it checks the close
// status getty sent, that the closing handshake was clean (autobahn saw
// getty close TCP), what was echoed, and the server session's cause.
func TestPythonAutobahn(t *testing.T) {
	t.Parallel()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		missingPeer(t, "/usr/bin/python3 missing")
	}
	if err := exec.Command(py, "-c", "import autobahn.asyncio.websocket").Run(); err != nil {
		missingPeer(t, "python3-autobahn not installed")
	}
	type msg struct {
		Binary bool   `json:"binary"`
		Len    int    `json:"len"`
		SHA256 string `json:"sha256"`
	}
	textMsg := func(s string) msg { return msg{Len: len(s), SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(s)))} }
	binary64k := bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 256)
	cases := []struct {
		name  string
		code  int
		err   error // the session's cause; nil: io.EOF
		msgs  []msg
		pongs []string
	}{
		{name: "text", code: 1000, msgs: []msg{textMsg("Hello κόσμε")}},
		{name: "binary-64k", code: 1000, msgs: []msg{{Binary: true, Len: len(binary64k), SHA256: fmt.Sprintf("%x", sha256.Sum256(binary64k))}}},
		{name: "text-chopped", code: 1000, msgs: []msg{textMsg("κόσμε chopped")}},
		{name: "fragments-with-ping", code: 1000, msgs: []msg{textMsg("fragment1fragment2 κόσμε")}, pongs: []string{"ping payload"}},
		{name: "ping-125", code: 1000, pongs: []string{strings.Repeat("*", 125)}},
		{name: "ping-126", code: 1002, err: ws.ErrProtocol},
		{name: "rsv", code: 1002, err: ws.ErrProtocol},
		{name: "opcode-3", code: 1002, err: ws.ErrProtocol},
		{name: "opcode-11", code: 1002, err: ws.ErrProtocol},
		{name: "continuation-first", code: 1002, err: ws.ErrProtocol},
		{name: "fragmented-ping", code: 1002, err: ws.ErrProtocol},
		{name: "new-message-in-fragments", code: 1002, err: ws.ErrProtocol},
		{name: "invalid-utf8", code: 1007, err: ws.ErrInvalidUTF8},
		{name: "invalid-utf8-first-fragment", code: 1007, err: ws.ErrInvalidUTF8},
		{name: "close-999", code: 1002, err: ws.ErrProtocol},
		{name: "close-1005", code: 1002, err: ws.ErrProtocol},
		{name: "close-one-byte", code: 1002, err: ws.ErrProtocol},
		{name: "close-reason-not-utf8", code: 1007, err: ws.ErrInvalidUTF8},
		{name: "close-3000", code: 3000, err: ws.ErrPeerClosed},
		{name: "unmasked", code: 1002, err: ws.ErrProtocol},
		{name: "too-big", code: 1009, err: getty.ErrMessageTooLarge},
	}
	es := startEcho(t, &ws.Config{CloseTimeout: 2 * time.Second}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 1 << 20}})
	args := []string{filepath.Join("testdata", "python", "autobahn_client.py"), es.url}
	for _, c := range cases {
		args = append(args, c.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, args...).Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d results for %d cases:\n%s", len(lines), len(cases), out)
	}
	// Causes arrive as sessions close, in no guaranteed order: match them
	// as a multiset.
	want := map[string]int{}
	key := func(code int, err error) string { return fmt.Sprint(code, err) }
	for i, c := range cases {
		var r struct {
			Case     string   `json:"case"`
			Messages []msg    `json:"messages"`
			Pongs    []string `json:"pongs"`
			Clean    bool     `json:"clean"`
			Code     int      `json:"code"`
			Error    string   `json:"error"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil || r.Case != c.name {
			t.Fatalf("result %d: %q (%v)", i, lines[i], err)
		}
		if r.Code != c.code || !r.Clean || r.Error != "" {
			t.Errorf("%s: getty closed with %d (clean %v, %s), want %d, clean", c.name, r.Code, r.Clean, r.Error, c.code)
		}
		if fmt.Sprint(r.Messages) != fmt.Sprint(c.msgs) || fmt.Sprint(r.Pongs) != fmt.Sprint(c.pongs) {
			t.Errorf("%s: echoed %v, pongs %q; want %v, %q", c.name, r.Messages, r.Pongs, c.msgs, c.pongs)
		}
		e := c.err
		if e == nil {
			e = io.EOF
		}
		want[key(c.code, e)]++
	}
	for range cases {
		cause := es.waitClosed(t)
		var ce *ws.CloseError
		if !errors.As(cause, &ce) {
			t.Errorf("session cause %v is not a CloseError", cause)
			continue
		}
		matched := false
		for _, e := range []error{io.EOF, ws.ErrProtocol, ws.ErrInvalidUTF8, ws.ErrPeerClosed, getty.ErrMessageTooLarge} {
			if k := key(int(ce.Code), e); errors.Is(cause, e) && want[k] > 0 {
				want[k]--
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("unexpected session cause %v", cause)
		}
	}
	t.Logf("python3-autobahn: %d cases", len(cases))
}
