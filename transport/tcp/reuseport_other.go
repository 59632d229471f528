//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package tcp

import (
	"errors"
	"fmt"
	"syscall"
)

func reusePort(_, _ string, _ syscall.RawConn) error {
	return fmt.Errorf("tcp: SO_REUSEPORT: %w", errors.ErrUnsupported)
}
