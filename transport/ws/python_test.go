package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestAutobahnPeer drives the server with Debian's python3-autobahn, a
// WebSocket implementation nobody here wrote, building frames of its own:
// fragmented text, one-byte chopped writes, pings, and protocol violations
// that getty must answer with the right close code.
func TestAutobahnPeer(t *testing.T) {
	t.Parallel()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		missingPeer(t, "/usr/bin/python3 missing")
	}
	if err := exec.Command(py, "-c", "import autobahn.asyncio.websocket").Run(); err != nil {
		missingPeer(t, "python3-autobahn not installed")
	}
	for _, tc := range []struct {
		scenario string
		want     []string
	}{
		{"fragmented", []string{"echo " + hexOf("κόσμε and more"), "close 1000"}},
		{"chopped", []string{"echo " + hexOf(strings.Repeat("\x01", 300)), "close 1000"}},
		{"ping", []string{"pong " + hexOf("are you there"), "close 1000"}},
		{"bad-utf8-first-fragment", []string{"close 1007"}},
		{"rsv", []string{"close 1002"}},
		{"reserved-opcode", []string{"close 1002"}},
		{"long-ping", []string{"close 1002"}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, &ws.Config{CloseTimeout: time.Second}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, filepath.Join("testdata", "python", "autobahn_client.py"), es.url, tc.scenario).CombinedOutput()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			es.waitClosed(t)
		})
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }
