// Package tlsconfig builds *tls.Config values for getty transports from
// files, secure by default: TLS 1.2 at least, certificates verified.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificates means a CA file held no PEM certificate.
var ErrNoCertificates = errors.New("tlsconfig: no certificates in CA file")

// Server loads a certificate and key (PEM files) for a TLS server.
func Server(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Client returns a client config that trusts the certificates in caFile
// (PEM), or the system roots when caFile is empty.
func Client(caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s", ErrNoCertificates, caFile)
	}
	conf.RootCAs = pool
	return conf, nil
}
