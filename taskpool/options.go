package taskpool

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
)

// Sentinel errors returned by Submit and New. Match them with errors.Is.
var (
	// ErrPoolFull is returned by Submit under the Fail policy, and by
	// TrySubmit, when the task's queue is full.
	ErrPoolFull = errors.New("taskpool: pool full")
	// ErrClosed is returned by Submit once Close has been called.
	ErrClosed = errors.New("taskpool: pool closed")
	// ErrInvalidOptions is wrapped by New when it refuses its options.
	ErrInvalidOptions = errors.New("taskpool: invalid options")
)

// Mode is the shape of a pool: how its queues feed its workers, and so which
// order tasks of one key run in.
type Mode int

const (
	// Ordered keeps a mailbox per key and a run queue of keys that have
	// pending tasks. A worker takes one key's whole batch; idle workers take
	// whatever key is ready. Tasks of one key run in submission order and
	// never two at once, and a key whose tasks are slow holds up only its
	// own tasks. QueueSize bounds each key's mailbox. The default.
	Ordered Mode = iota
	// Shared is the 1:N shape: one queue, of QueueSize tasks, for every
	// worker. Keys are ignored; tasks of one key may run out of order and
	// at the same time.
	Shared
	// KeyHash is the 1:1 shape: a queue of QueueSize tasks per worker, and
	// each task goes to the queue of hash(key) % Workers. Tasks of one key
	// run in order and never two at once, but a slow task holds up every
	// key that hashes to its worker while other workers may idle.
	KeyHash
	// RoundRobin is the M:N shape: Queues queues of QueueSize tasks, each
	// consumed by Workers/Queues workers, and tasks dealt to them in turn.
	// Keys are ignored; tasks of one key may run out of order and at the
	// same time.
	RoundRobin
)

func (m Mode) String() string {
	switch m {
	case Ordered:
		return "ordered"
	case Shared:
		return "shared"
	case KeyHash:
		return "keyhash"
	case RoundRobin:
		return "roundrobin"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// FullPolicy says what Submit does when the task's queue is full.
type FullPolicy int

const (
	// Block makes Submit wait for room (or for Close). In a read loop this is
	// back-pressure: the loop stops reading, and TCP flow control slows the
	// peer down. The default.
	Block FullPolicy = iota
	// Fail makes Submit return ErrPoolFull at once.
	Fail
	// RunInCaller makes Submit run the task in the submitting goroutine. In
	// Ordered mode the caller first runs the key's queued tasks (unless a
	// worker is running them: then it waits for room as Block does), so
	// order and exclusion per key still hold. In KeyHash mode the caller's
	// task runs ahead of the key's queued tasks.
	RunInCaller
)

func (f FullPolicy) String() string {
	switch f {
	case Block:
		return "block"
	case Fail:
		return "fail"
	case RunInCaller:
		return "run-in-caller"
	}
	return fmt.Sprintf("FullPolicy(%d)", int(f))
}

// DefaultQueueSize is the capacity of each queue (each key's mailbox in
// Ordered mode) when Options.QueueSize is zero.
const DefaultQueueSize = 1024

// Options configure a Pool. The zero value is ready to use: an Ordered pool
// of GOMAXPROCS workers that blocks submitters when a key has 1024 tasks
// pending.
type Options struct {
	// Workers is the number of worker goroutines, fixed for the pool's life.
	// Default runtime.GOMAXPROCS(0).
	Workers int
	// Mode is the shape of the pool. Default Ordered.
	Mode Mode
	// Queues is the number of queues of a RoundRobin pool, at most Workers.
	// Default max(1, Workers/2). Other modes ignore it.
	Queues int
	// QueueSize bounds each queue: each key's mailbox in Ordered mode (the
	// batch a worker is running does not count), the single queue of a
	// Shared pool, each worker's queue of a KeyHash pool, each queue of a
	// RoundRobin pool. Default DefaultQueueSize.
	QueueSize int
	// WhenFull is what Submit does when the queue is full. Default Block.
	WhenFull FullPolicy
	// Logger receives a record for each task that panics. Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Workers < 0 || o.Queues < 0 || o.QueueSize < 0 {
		return o, fmt.Errorf("%w: Workers, Queues and QueueSize must not be negative", ErrInvalidOptions)
	}
	if o.Mode < Ordered || o.Mode > RoundRobin {
		return o, fmt.Errorf("%w: unknown %v", ErrInvalidOptions, o.Mode)
	}
	if o.WhenFull < Block || o.WhenFull > RunInCaller {
		return o, fmt.Errorf("%w: unknown %v", ErrInvalidOptions, o.WhenFull)
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Queues == 0 {
		o.Queues = max(1, o.Workers/2)
	}
	if o.Queues > o.Workers {
		return o, fmt.Errorf("%w: %d queues for %d workers leaves queues without a worker", ErrInvalidOptions, o.Queues, o.Workers)
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
