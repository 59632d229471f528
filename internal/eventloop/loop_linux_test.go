package eventloop

import (
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorder struct {
	fd  int
	got chan string
}

func (r recorder) OnEvent(events uint32, buf []byte) {
	if events&In == 0 {
		return
	}
	// Edge-triggered: read until the socket is drained.
	for {
		n, err := unix.Read(r.fd, buf)
		if n <= 0 || err != nil {
			return
		}
		r.got <- string(buf[:n])
	}
}

func TestLoopDeliversAndStops(t *testing.T) {
	g, err := NewGroup[recorder](2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if g.Loops() != 2 {
		t.Fatalf("%d loops", g.Loops())
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	r := recorder{fd: fds[0], got: make(chan string, 16)}
	l := g.Next()
	slot, err := l.Add(fds[0], r)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two"} {
		if _, err := unix.Write(fds[1], []byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-r.got:
			if got != msg {
				t.Fatalf("got %q, want %q", got, msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %q", msg)
		}
	}
	l.Remove(fds[0], slot)
	unix.Write(fds[1], []byte("after"))
	select {
	case got := <-r.got:
		t.Fatalf("event after Remove: %q", got)
	case <-time.After(100 * time.Millisecond):
	}
	unix.Close(fds[0])
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Next().Add(fds[1], r); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

type nopHandler struct{ id int }

func (*nopHandler) OnEvent(uint32, []byte) {}

// TestSlotsReusedAndListed checks the slot table: freed slots are reused,
// Each lists exactly the registered handlers, and an Unwatched handler
// stays listed until Release.
func TestSlotsReusedAndListed(t *testing.T) {
	g, err := NewGroup[*nopHandler](1, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	l := g.Next()
	var fds []int
	var slots []int32
	hs := make([]*nopHandler, 4)
	for i := range hs {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		hs[i] = &nopHandler{id: i}
		slot, err := l.Add(p[0], hs[i])
		if err != nil {
			t.Fatal(err)
		}
		fds, slots = append(fds, p[0]), append(slots, slot)
	}
	listed := func() map[int]bool {
		m := map[int]bool{}
		g.Each(func(h *nopHandler) { m[h.id] = true })
		return m
	}
	if got := listed(); len(got) != 4 {
		t.Fatalf("listed %v, want 4", got)
	}
	l.Unwatch(fds[1])
	if got := listed(); !got[1] {
		t.Fatalf("unwatched handler not listed before Release: %v", got)
	}
	l.Release(slots[1])
	if got := listed(); got[1] || len(got) != 3 {
		t.Fatalf("listed %v after Release, want 0, 2, 3", got)
	}
	again := &nopHandler{id: 9}
	slot, err := l.Add(fds[1], again)
	if err != nil {
		t.Fatal(err)
	}
	if slot != slots[1] {
		t.Fatalf("slot %d, want the freed %d", slot, slots[1])
	}
	l.Remove(fds[3], slots[3]) // the last slot: the table shrinks
	if got := listed(); len(got) != 3 || !got[9] || got[3] {
		t.Fatalf("listed %v, want 0, 2, 9", got)
	}
}

// clockReader reports the group clock as its handler sees it.
type clockReader struct {
	fd  int
	g   *Group[*clockReader]
	got chan [2]int64 // clock, ok (1/0)
}

func (c *clockReader) OnEvent(events uint32, buf []byte) {
	for {
		if n, err := unix.Read(c.fd, buf); n <= 0 || err != nil {
			break
		}
	}
	now, ok := c.g.Now()
	okv := int64(0)
	if ok {
		okv = 1
	}
	c.got <- [2]int64{now, okv}
}

// newClockGroup starts one loop watching a socket whose handler reports
// the clock; peer is the socket's other end.
func newClockGroup(t *testing.T) (*Group[*clockReader], *clockReader, int) {
	t.Helper()
	g, err := NewGroup[*clockReader](1, 1024)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	c := &clockReader{fd: fds[0], g: g, got: make(chan [2]int64, 4)}
	if _, err := g.Next().Add(fds[0], c); err != nil {
		t.Fatal(err)
	}
	return g, c, fds[1]
}

// waitAsleep waits until every loop of g sleeps (its clock not offered).
func waitAsleep(t *testing.T, g *Group[*clockReader]) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := g.Now(); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle loop never sleeps: its clock is still offered")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupClock(t *testing.T) {
	g, c, peer := newClockGroup(t)
	// An idle loop sleeps in epoll_wait: its clock is not offered.
	waitAsleep(t, g)
	for range 3 {
		before := time.Now().UnixNano()
		if _, err := unix.Write(peer, []byte("x")); err != nil {
			t.Fatal(err)
		}
		var got [2]int64
		select {
		case got = <-c.got:
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		after := time.Now().UnixNano()
		if got[1] != 1 {
			t.Fatal("a handler found the clock not offered")
		}
		if got[0] < before || got[0] > after {
			t.Fatalf("clock %d outside [%d, %d]: not the time of this batch", got[0], before, after)
		}
	}
}

// TestGroupClockAfterInterruptedWait checks that a loop never offers a
// stale clock: a loop whose wait a signal interrupts (EINTR; the Go runtime
// signals its threads) is awake for a moment without a batch, and must not
// offer the time of its last batch (long ago), nor zero before its first.
func TestGroupClockAfterInterruptedWait(t *testing.T) {
	g, c, peer := newClockGroup(t)
	pid := unix.Getpid()
	signalThreads := func() {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if tid, err := strconv.Atoi(task.Name()); err == nil {
				unix.Tgkill(pid, tid, unix.SIGURG) //nolint:errcheck // a thread may have exited
			}
		}
	}
	// check signals the loop's thread while it sleeps, and fails if the
	// clock it then offers is older than the moment it was seen asleep.
	check := func(what string) {
		t.Helper()
		waitAsleep(t, g)
		asleep := time.Now().UnixNano()
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
			signalThreads()
			for range 10000 {
				if now, ok := g.Now(); ok && now < asleep {
					t.Fatalf("%s: the clock offered %d, %v before the loop was seen asleep", what, now, time.Duration(asleep-now))
				}
			}
		}
	}
	check("before the first batch")
	if _, err := unix.Write(peer, []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	check("after a batch")
}
