package tlsconfig_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/tlsconfig"
)

func TestFromFiles(t *testing.T) {
	c := testutil.NewCerts(t)
	srv, err := tlsconfig.Server(c.CertFile, c.KeyFile)
	if err != nil || len(srv.Certificates) != 1 || srv.MinVersion != tls.VersionTLS12 {
		t.Fatalf("Server: %v", err)
	}
	cli, err := tlsconfig.Client(c.CAFile)
	if err != nil || cli.RootCAs == nil || cli.MinVersion != tls.VersionTLS12 || cli.InsecureSkipVerify {
		t.Fatalf("Client: %v", err)
	}
	sys, err := tlsconfig.Client("")
	if err != nil || sys.RootCAs != nil {
		t.Fatalf("Client with system roots: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconfig.Client(junk); !errors.Is(err, tlsconfig.ErrNoCertificates) {
		t.Errorf("junk CA: %v", err)
	}
	if _, err := tlsconfig.Client(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing CA: %v", err)
	}
	if _, err := tlsconfig.Server(junk, junk); err == nil {
		t.Error("junk certificate accepted")
	}
}
