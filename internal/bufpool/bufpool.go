// Package bufpool hands out byte slices in power-of-two size classes.
//
// Buffers travel as *[]byte so that Get and Put allocate nothing in steady
// state. Every buffer obtained with Get must go back with Put exactly once,
// and must not be used after that.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 9  // 512 B
	maxShift = 26 // 64 MiB; larger buffers are not pooled
)

// Pool is a set of size-classed sync.Pools. The zero value is ready to use
// and safe for concurrent use.
type Pool struct {
	classes [maxShift - minShift + 1]sync.Pool
}

func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a buffer with len 0 and cap >= n.
func (p *Pool) Get(n int) *[]byte {
	c := class(n)
	if c >= len(p.classes) {
		b := make([]byte, 0, n)
		return &b
	}
	if v := p.classes[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1<<(c+minShift))
	return &b
}

// Put returns b to the pool. A buffer grown by append to a capacity between
// two classes joins the lower one (it serves every request of that class);
// buffers under 512 B or over 64 MiB are dropped for the GC.
func (p *Pool) Put(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	if c < 1<<minShift {
		return
	}
	i := bits.Len(uint(c)) - 1 - minShift
	if i >= len(p.classes) {
		return
	}
	*b = (*b)[:0]
	p.classes[i].Put(b)
}
