package taskpool_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/taskpool"
	"github.com/gettynet/getty/transport/tcp"
)

// Tasks of one key run in the order they were submitted, one at a time.
func Example() {
	pool, err := taskpool.New(&taskpool.Options{Workers: 4})
	if err != nil {
		log.Fatal(err)
	}
	var got []int // only touched by key 42's tasks, which never overlap
	for i := range 5 {
		if err := pool.Submit(42, func() { got = append(got, i) }); err != nil {
			log.Fatal(err)
		}
	}
	if err := pool.Close(context.Background()); err != nil { // runs what is queued
		log.Fatal(err)
	}
	fmt.Println(got, pool.Stats().Completed)
	// Output: [0 1 2 3 4] 5
}

// With the Fail policy a full queue refuses the task at once.
func ExampleFullPolicy() {
	pool, err := taskpool.New(&taskpool.Options{Workers: 1, QueueSize: 1, WhenFull: taskpool.Fail})
	if err != nil {
		log.Fatal(err)
	}
	release, running := make(chan struct{}), make(chan struct{})
	pool.Submit(1, func() { close(running); <-release }) // occupies the worker
	<-running
	fmt.Println(pool.Submit(2, func() {})) // queued
	err = pool.Submit(2, func() {})        // key 2's mailbox is full
	fmt.Println(errors.Is(err, taskpool.ErrPoolFull))
	close(release)
	pool.Close(context.Background())
	// Output:
	// <nil>
	// true
}

// A server hands its handler calls to a pool; each session's packages are
// still handled in order. Shut the server down before closing the pool.
func Example_server() {
	pool, err := taskpool.New(nil) // Ordered, GOMAXPROCS workers, Block
	if err != nil {
		log.Fatal(err)
	}
	echo := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], pkg []byte) { s.Write(pkg) }}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, echo,
		&getty.ServerOptions{Options: getty.Options{TaskPool: pool}})
	if err != nil {
		log.Fatal(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)

	replies := make(chan string, 3)
	client, err := getty.Dial[[]byte](context.Background(), tcp.Dialer{Addr: l.Addr().String()}, lengthfield.Codec{},
		getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], pkg []byte) { replies <- string(pkg) }}, nil)
	if err != nil {
		log.Fatal(err)
	}
	s, _ := client.Session()
	for _, m := range []string{"one", "two", "three"} {
		s.Write([]byte(m))
	}
	fmt.Println(<-replies, <-replies, <-replies)

	client.Close()
	srv.Shutdown(context.Background())
	pool.Close(context.Background())
	// Output: one two three
}
