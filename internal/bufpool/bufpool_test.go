package bufpool

import "testing"

func TestClasses(t *testing.T) {
	var p Pool
	for _, n := range []int{0, 1, 512, 513, 4096, 65537, 1 << 26} {
		b := p.Get(n)
		if len(*b) != 0 || cap(*b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		*b = append(*b, 1)
		p.Put(b)
	}
	// A buffer grown between two classes serves the lower one.
	grown := make([]byte, 0, 5376)
	p.Put(&grown)
	for range 100 { // sync.Pool may drop it; it never hands out less
		if b := p.Get(4096); cap(*b) < 4096 {
			t.Fatalf("Get(4096): cap %d", cap(*b))
		}
	}
	huge := p.Get(1<<26 + 1)
	if cap(*huge) < 1<<26+1 {
		t.Fatal("oversized buffer too small")
	}
	p.Put(huge) // dropped, not pooled
	p.Put(nil)
	small := make([]byte, 0, 100)
	p.Put(&small) // under the smallest class: dropped
}

func BenchmarkGetPut(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	for b.Loop() {
		p.Put(p.Get(4096))
	}
}
