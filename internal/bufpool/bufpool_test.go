package bufpool

import "testing"

func TestClasses(t *testing.T) {
	var p Pool
	for _, n := range []int{0, 1, 512, 513, 4096, 65537, 1 << 26} {
		b := p.Get(n)
		if len(*b) != 0 || cap(*b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		if c := cap(*b); c&(c-1) != 0 {
			t.Fatalf("Get(%d): capacity %d is not a size class", n, c)
		}
		*b = append(*b, 1)
		p.Put(b)
	}
	huge := p.Get(1<<26 + 1)
	if cap(*huge) < 1<<26+1 {
		t.Fatal("oversized buffer too small")
	}
	p.Put(huge) // dropped, not pooled
	p.Put(nil)
	odd := make([]byte, 0, 1000)
	p.Put(&odd) // not a class: dropped
}

func BenchmarkGetPut(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	for b.Loop() {
		p.Put(p.Get(4096))
	}
}
