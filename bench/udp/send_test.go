package main

import "testing"

// BenchmarkSend sends b.N datagrams of 64 bytes through each variant to a
// socket drained by recvmmsg. pkts/s is per wall-clock second, pkts/cpu-s per
// CPU second of the sending thread.
func BenchmarkSend(b *testing.B) {
	r, err := newReceiver(true)
	if err != nil {
		b.Fatal(err)
	}
	defer r.close()
	for _, v := range variants() {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			res, err := v.send(r.addr(), b.N, 64)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/res.wall.Seconds(), "pkts/s")
			b.ReportMetric(float64(b.N)/res.cpu.Seconds(), "pkts/cpu-s")
		})
	}
}
