//go:build !linux

package udp_test

import (
	"testing"

	"github.com/gettynet/getty/transport/udp"
)

// waitQueued needs SIOCINQ to see the receive queue.
func waitQueued(t *testing.T, _ *udp.Conn) { t.Skip("needs Linux SIOCINQ") }
