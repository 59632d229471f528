package getty_test

import (
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
)

// TestBacklogCountsRepliesQueuedByReference: a reply queued while the read
// loop dispatches a batch counts in Stats().Backlog on both engines, also
// when ZeroCopyReplies queues it by reference to the read buffer.
func TestBacklogCountsRepliesQueuedByReference(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		backlogs := make(chan int, 2)
		h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) {
			if err := s.Write(p); err != nil {
				t.Errorf("write: %v", err)
			}
			backlogs <- s.Stats().Backlog
		}}
		_, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{ZeroCopyReplies: true}})
		c := dialRaw(t, l)
		p := payload(1, 100)
		// Two packages in one write: the replies are corked until both are
		// dispatched, so the first reply is still queued when its callback
		// asks for the backlog.
		if _, err := c.Write(append(frame(p), frame(p)...)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range 2 {
			if _, err := readFrame(c); err != nil {
				t.Fatal(err)
			}
		}
		if b := <-backlogs; b < len(frame(p)) {
			t.Errorf("Backlog after queueing a %d-byte reply = %d", len(frame(p)), b)
		}
	})
}
