package tcp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/tcp"
)

// serverConfigNoMin is the test server config with MinVersion left zero, as
// a user who builds a tls.Config by hand would leave it.
func serverConfigNoMin(c *testutil.Certs) *tls.Config {
	conf := c.Server.Clone()
	conf.MinVersion = 0
	return conf
}

// allowOldTLSInToolchain lowers crypto/tls's own server default to TLS 1.0
// (GODEBUG tls10server=1), so that the tests see the transport's default,
// not the toolchain's.
func allowOldTLSInToolchain(t *testing.T) {
	t.Setenv("GODEBUG", "tls10server=1")
}

// waitHandshakeFailed waits until the server counted n failed handshakes.
func waitHandshakeFailed(t *testing.T, ls *lineServer, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ls.srv.Stats().HandshakeFailed < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server counted %d failed handshakes, want %d", ls.srv.Stats().HandshakeFailed, n)
		}
	}
}

// TestTLSServerRefusesOldVersions: a server whose tls.Config leaves
// MinVersion zero still refuses TLS 1.0 and 1.1 clients, and serves 1.2
// and 1.3 ones.
func TestTLSServerRefusesOldVersions(t *testing.T) {
	allowOldTLSInToolchain(t)
	certs := testutil.NewCerts(t)
	ls := startLineServer(t, &tcp.Config{TLS: serverConfigNoMin(certs)}, nil)
	refused := uint64(0)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		name := tls.VersionName(v)
		conf := certs.Client.Clone()
		conf.MinVersion, conf.MaxVersion = v, v
		conf.ServerName = "localhost"
		c := tls.Client(dial(t, ls.l.Addr().String()), conf)
		err := c.Handshake()
		if v < tls.VersionTLS12 {
			if err == nil {
				t.Errorf("%s handshake succeeded", name)
				continue
			}
			if !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("%s: %v, want a protocol_version alert", name, err)
			}
			refused++
			waitHandshakeFailed(t, ls, refused)
			t.Logf("%s refused: %v", name, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		r := bufio.NewReader(c)
		echoLine(t, c, r, "over "+name)
	}
}

// TestTLSDialerRefusesOldVersions: a Dialer whose tls.Config leaves
// MinVersion zero refuses a server that speaks at most TLS 1.1.
func TestTLSDialerRefusesOldVersions(t *testing.T) {
	certs := testutil.NewCerts(t)
	conf := certs.Server.Clone()
	conf.MinVersion, conf.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	l, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		served <- c.(*tls.Conn).Handshake()
	}()
	client := certs.Client.Clone()
	client.MinVersion = 0
	err = dialHandshake(t, tcp.Dialer{Addr: l.Addr().String(), Config: tcp.Config{TLS: client}})
	if err == nil {
		t.Fatal("dialer accepted a TLS 1.1 server")
	}
	t.Logf("dialer: %v; server: %v", err, <-served)
}

// TestTLSDialerVerifiesByDefault: a Dialer with an empty tls.Config checks
// the server against the system roots, so a certificate from an unknown CA
// fails the handshake; trusting that CA makes it pass.
func TestTLSDialerVerifiesByDefault(t *testing.T) {
	certs := testutil.NewCerts(t)
	ls := startLineServer(t, &tcp.Config{TLS: certs.Server}, nil)
	err := dialHandshake(t, tcp.Dialer{Addr: ls.l.Addr().String(), Config: tcp.Config{TLS: &tls.Config{}}})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("handshake against an unknown CA: %v", err)
	}
	// A wrong name fails too, even with the CA trusted.
	wrong := certs.Client.Clone()
	wrong.ServerName = "not-localhost.example"
	var host x509.HostnameError
	if err := dialHandshake(t, tcp.Dialer{Addr: ls.l.Addr().String(), Config: tcp.Config{TLS: wrong}}); !errors.As(err, &host) {
		t.Fatalf("handshake with a wrong server name: %v", err)
	}
	if err := dialHandshake(t, tcp.Dialer{Addr: ls.l.Addr().String(), Config: tcp.Config{TLS: certs.Client}}); err != nil {
		t.Fatalf("handshake with the CA trusted: %v", err)
	}
}

// dialHandshake dials with d and runs the TLS handshake as a session would.
func dialHandshake(t *testing.T, d tcp.Dialer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.(getty.Handshaker).HandshakeContext(ctx)
}

// TestOpenSSLOldVersionsRefused: openssl s_client, allowed to offer TLS
// 1.0 or 1.1 only, gets a protocol_version alert from a getty server whose
// config leaves MinVersion zero; the server counts the failed handshakes.
func TestOpenSSLOldVersionsRefused(t *testing.T) {
	allowOldTLSInToolchain(t)
	openssl := testutil.RequirePeer(t, "openssl")
	certs := testutil.NewCerts(t)
	ls := startLineServer(t, &tcp.Config{TLS: serverConfigNoMin(certs)}, nil)
	for i, flag := range []string{"-tls1", "-tls1_1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		// SECLEVEL=0 lets this openssl offer the old versions at all.
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ls.l.Addr().String(), flag,
			"-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", certs.CAFile, "-servername", "localhost")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			t.Errorf("openssl %s: handshake succeeded:\n%s", flag, out)
			continue
		}
		if !strings.Contains(string(out), "protocol version") && !strings.Contains(string(out), "alert number 70") {
			t.Errorf("openssl %s: no protocol_version alert:\n%s", flag, out)
		}
		waitHandshakeFailed(t, ls, uint64(i+1))
	}
	// TLS 1.2 from the same openssl works.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ls.l.Addr().String(), "-tls1_2",
		"-CAfile", certs.CAFile, "-verify_return_error", "-quiet", "-servername", "localhost")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write([]byte("tls12\n"))
	line, err := bufio.NewReader(stdout).ReadString('\n')
	stdin.Close()
	cancel()
	cmd.Wait()
	if line != "tls12\n" {
		t.Errorf("openssl -tls1_2: %q %v", line, err)
	}
}
