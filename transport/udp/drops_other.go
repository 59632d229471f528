//go:build !linux

package udp

import "syscall"

// dropOOBSize is zero: only Linux reports receive-queue drops per socket.
const dropOOBSize = 0

func enableDropCount(syscall.RawConn) bool { return false }

func parseDropCount([]byte) (uint32, bool) { return 0, false }
