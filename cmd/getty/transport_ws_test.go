package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWSServeAndDial(t *testing.T) {
	addr, stop := startServe(t, "--transport", "ws")
	for _, a := range []string{addr, "ws://" + addr + "/any/path"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"dial", "--transport", "ws", "--addr", a},
			strings.NewReader("one\ntwo\n"), &out, &errOut)
		if code != 0 || out.String() != "one\ntwo\n" {
			t.Errorf("dial %s: exit %d, out %q, err %q", a, code, out.String(), errOut.String())
		}
	}
	if c := stop(); c != 0 {
		t.Errorf("serve exit %d", c)
	}
}

func TestWSSServeAndDial(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	addr, stop := startServe(t, "--transport", "wss", "--tls-cert", cert, "--tls-key", key)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"dial", "--transport", "wss", "--addr", addr, "--tls-ca", cert},
		strings.NewReader("secure\n"), &out, &errOut)
	if code != 0 || out.String() != "secure\n" {
		t.Errorf("dial: exit %d, out %q, err %q", code, out.String(), errOut.String())
	}
	// Without the CA the certificate is refused.
	code = run(context.Background(), []string{"dial", "--transport", "wss", "--addr", addr},
		strings.NewReader("x\n"), &out, &errOut)
	if code != 1 {
		t.Errorf("dial without the CA exited %d", code)
	}
	if c := stop(); c != 0 {
		t.Errorf("serve exit %d", c)
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--transport", "wss", "--addr", "127.0.0.1:0"}, nil, &o, &e); code != 2 {
		t.Errorf("wss without a certificate exited %d; want 2 (usage)", code)
	}
}

func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "getty cli test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestWSBenchEmbedded(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--transport", "ws", "--conns", "3", "--duration", "300ms", "--warmup", "50ms"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "messages/s") {
		t.Errorf("output:\n%s", &stdout)
	}
}
