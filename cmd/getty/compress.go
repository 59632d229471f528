package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
)

// addCompressFlags adds --compress and --compress-level to fs.
func addCompressFlags(fs *flag.FlagSet, f *endpointFlags) {
	fs.StringVar(&f.compress, "compress", "none", "compress frames (stream transports; both ends must agree): none | s2 | snappy | zstd | deflate")
	fs.StringVar(&f.compressLevel, "compress-level", "fast", "compression level: fast | better | best")
}

// compressConfig returns the compression chosen by the flags, or nil for
// none.
func (f *endpointFlags) compressConfig() (*compress.Config, error) {
	if f.compress == "" || f.compress == "none" {
		return nil, nil
	}
	alg, err := compress.ParseAlgorithm(f.compress)
	if err != nil {
		return nil, fmt.Errorf("%w: --compress %q: use none|s2|snappy|zstd|deflate", errUsage, f.compress)
	}
	level, err := compress.ParseLevel(f.compressLevel)
	if err != nil {
		return nil, fmt.Errorf("%w: --compress-level %q: use fast|better|best", errUsage, f.compressLevel)
	}
	return &compress.Config{Algorithm: alg, Level: level}, nil
}

// checkCompress refuses compression flags that are malformed or name a
// transport that is not a stream.
func (f *endpointFlags) checkCompress(t transport) error {
	cfg, err := f.compressConfig()
	if err != nil {
		return err
	}
	if cfg != nil && !t.stream {
		return fmt.Errorf("%w: --compress needs a stream transport (tcp), not this one", errUsage)
	}
	return nil
}

// compressListener wraps l when compression is on.
func (f *endpointFlags) compressListener(l getty.Listener) (getty.Listener, error) {
	cfg, err := f.compressConfig()
	if err != nil || cfg == nil {
		return l, err
	}
	cl, err := compress.NewListener(l, cfg)
	if err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return cl, nil
}

// compressDialer wraps d when compression is on.
func (f *endpointFlags) compressDialer(d getty.Dialer) (getty.Dialer, error) {
	cfg, err := f.compressConfig()
	if err != nil || cfg == nil {
		return d, err
	}
	return compress.NewDialer(d, cfg)
}

// compressStats returns log attributes with the compression ratio of a
// session's connection, if it compresses.
func compressStats(c getty.Conn) []any {
	cc, ok := c.(*compress.Conn)
	if !ok {
		return nil
	}
	st := cc.Stats()
	return []any{"compress", cc.Algorithm().String(), "wire_in", st.WireIn, "raw_in", st.RawIn, "wire_out", st.WireOut, "raw_out", st.RawOut}
}
