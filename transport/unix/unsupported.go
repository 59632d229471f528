//go:build !linux

package unix

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/gettynet/getty"
)

// errNeedsLinux is returned everywhere but on Linux: the transport relies
// on Linux socket behaviour (abstract names, SO_PEERCRED, MSG_TRUNC sizes).
var errNeedsLinux = fmt.Errorf("unix: this transport needs Linux: %w", errors.ErrUnsupported)

// Listener is not available on this system.
type Listener struct{}

// Listen fails with an error wrapping errors.ErrUnsupported.
func Listen(Network, string, *Config) (*Listener, error) { return nil, errNeedsLinux }

// Accept fails.
func (*Listener) Accept() (getty.Conn, error) { return nil, errNeedsLinux }

// Close does nothing.
func (*Listener) Close() error { return nil }

// Addr is nil.
func (*Listener) Addr() net.Addr { return nil }

// Dial fails with an error wrapping errors.ErrUnsupported.
func (Dialer) Dial(context.Context) (getty.Conn, error) { return nil, errNeedsLinux }
