// Package unix benchmarks getty's Unix-domain transports: echo throughput
// over a Unix stream socket against TCP loopback (and seqpacket), and
// datagram throughput over unixgram. See README.md for the figures.
//
//	cd bench && go test -run '^$' -bench . -benchmem ./unix
package unix
