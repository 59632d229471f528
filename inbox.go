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
//
// While packages wait behind the one being handled, the session's writes are
// corked, so the replies to a pipelined burst leave in one system call when
// the inbox drains (or when the queue passes corkLimit) rather than one
// each. On a busy pool the replies of one batch may so wait for the
// session's next batch; they never wait past corkLimit bytes.
type inbox[T any] struct {
	mu     sync.Mutex // guards every field
	buf    []inboxItem[T]
	head   int // index of the oldest package; len(buf) is a power of two
	n      int
	corked bool // the tasks corked the writer
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

// pop removes the oldest package, and corks w if more are waiting. The
// inbox is never empty when pop is called: every run of the task pops the
// package that its submission pushed, or an older one. Every pop must be
// followed by uncorkIfDrained once the package is handled.
func (q *inbox[T]) pop(w *writer[T]) (pkg T, from net.Addr) {
	q.mu.Lock()
	it := &q.buf[q.head]
	pkg, from = it.pkg, it.from
	*it = inboxItem[T]{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > inboxKeep {
			q.buf = nil
		}
	} else if !q.corked {
		// Under q.mu, so that a cork never lands after the uncork of the
		// task that drained the inbox.
		q.corked = true
		w.cork()
	}
	q.mu.Unlock()
	return pkg, from
}

// uncorkIfDrained flushes the corked replies once no package waits. An
// uncork that comes late (after a new cork) only loses some batching: the
// last task to drain the inbox uncorks again.
func (q *inbox[T]) uncorkIfDrained(w *writer[T]) {
	q.mu.Lock()
	drained := q.n == 0 && q.corked
	if drained {
		q.corked = false
	}
	q.mu.Unlock()
	if drained {
		w.uncork()
	}
}

// dropNewest takes back the package just pushed, whose task the pool
// refused. The read loop is the only pusher, and tasks pop only packages
// older than it, so it is still there.
func (q *inbox[T]) dropNewest(w *writer[T]) {
	q.mu.Lock()
	q.n--
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = inboxItem[T]{}
	q.mu.Unlock()
	q.uncorkIfDrained(w) // the tasks may have seen it waiting and corked
}

// pooled is what a session needs only with a TaskPool: the packages handed
// to the pool, and the task submitted per package (s.runPooled, bound once).
type pooled[T any] struct {
	inbox inbox[T]
	run   func()
	tasks sync.WaitGroup // tasks submitted by the read loop
}
