package getty

import (
	"net"
	"sync"
)

// inbox holds the packages a session has handed to its TaskPool, oldest
// first. The read loop pushes a package and submits the session's one
// prebound task; each run of that task pops the oldest package. Nothing is
// allocated per package, and a pool that runs a key's tasks in submission
// order hands the packages to the handler in order.
type inbox[T any] struct {
	mu   sync.Mutex // guards every field
	buf  []inboxItem[T]
	head int // index of the oldest package; len(buf) is a power of two
	n    int
}

type inboxItem[T any] struct {
	pkg  T
	from net.Addr
}

const (
	inboxMin  = 8
	inboxKeep = 1024 // a larger ring is freed when it empties
)

func (q *inbox[T]) push(pkg T, from net.Addr) {
	q.mu.Lock()
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = inboxItem[T]{pkg, from}
	q.n++
	q.mu.Unlock()
}

func (q *inbox[T]) grow() {
	nb := make([]inboxItem[T], max(inboxMin, 2*len(q.buf)))
	for i := range q.n {
		nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = nb, 0
}

// pop removes the oldest package and reports how many remain. The inbox is
// never empty when pop is called: every run of the task pops the package
// that its submission pushed, or an older one.
func (q *inbox[T]) pop() (pkg T, from net.Addr, left int) {
	q.mu.Lock()
	it := &q.buf[q.head]
	pkg, from = it.pkg, it.from
	*it = inboxItem[T]{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	left = q.n
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > inboxKeep {
			q.buf = nil
		}
	}
	q.mu.Unlock()
	return pkg, from, left
}

// dropNewest takes back the package just pushed, whose task the pool
// refused. The read loop is the only pusher, and tasks pop only packages
// older than it, so it is still there.
func (q *inbox[T]) dropNewest() {
	q.mu.Lock()
	q.n--
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = inboxItem[T]{}
	q.mu.Unlock()
}
