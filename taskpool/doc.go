// Package taskpool runs tasks on a fixed set of worker goroutines fed by
// bounded queues. It separates network I/O from message handling: a read
// loop decodes packages and submits their handling, keyed by session, so it
// can go back to reading.
//
// A Pool has one of four shapes (Mode), chosen when it is created:
//
//   - Ordered (the default): a mailbox per key and a run queue of keys with
//     pending tasks; a worker runs one key's whole batch, idle workers take
//     any ready key. Every key's tasks run in order and never two at once,
//     and a slow key holds up only itself. This is what a server wants when
//     its handlers must see each session's messages in order.
//   - Shared (1:N): one queue for all workers. No order.
//   - KeyHash (1:1): a queue per worker, chosen by hash(key). Order per key,
//     but one slow task stalls every key of its worker.
//   - RoundRobin (M:N): M queues, each drained by N/M workers, tasks dealt
//     in turn. No order; the least lock contention of the channel shapes.
//
// Queues are bounded. When a task's queue is full, Submit blocks (Block:
// back-pressure), fails with ErrPoolFull (Fail), or runs the task in the
// caller (RunInCaller). A panicking task is recovered, counted and logged;
// its worker lives on. Close stops taking tasks, finishes the queued ones
// and waits for the workers. There is no global pool: create one with New
// and share it among the servers and clients that should share workers.
//
// A Pool satisfies getty.TaskPool:
//
//	pool, err := taskpool.New(nil) // Ordered, GOMAXPROCS workers
//	...
//	srv, err := getty.NewServer(codec, handler, &getty.ServerOptions{
//		Options: getty.Options{TaskPool: pool},
//	})
//	...
//	srv.Shutdown(ctx) // first the server: its sessions wait for their tasks
//	pool.Close(ctx)
//
// # Concurrency
//
// Every Pool method is safe for concurrent use. Stats are counted per
// worker without locks; a snapshot is consistent per counter, not across
// counters.
package taskpool
