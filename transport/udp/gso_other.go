//go:build !linux

package udp

import "syscall"

// Segmentation offload (UDP_SEGMENT) is Linux only.
const maxSegments = 1

const segmentOOBSize = 0

func gsoSupported(syscall.RawConn) bool { return false }

func putSegmentSize(b []byte, _ int) []byte { return b }

func gsoFailure(error) bool { return false }
