package timewheel

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFiresAfterDelay(t *testing.T) {
	w := New(5 * time.Millisecond)
	defer w.Stop()
	fired := make(chan time.Time, 1)
	start := time.Now()
	tm := w.NewTimer(func() { fired <- time.Now() })
	tm.Schedule(50 * time.Millisecond)
	select {
	case at := <-fired:
		if d := at.Sub(start); d < 45*time.Millisecond {
			t.Errorf("fired after %v, want >= 50ms less one tick", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timer never fired")
	}
}

func TestCancelAndReschedule(t *testing.T) {
	w := New(time.Millisecond)
	defer w.Stop()
	var n atomic.Int32
	done := make(chan struct{})
	a := w.NewTimer(func() { n.Add(100) })
	a.Schedule(10 * time.Millisecond)
	a.Cancel()
	b := w.NewTimer(func() { n.Add(1); close(done) })
	b.Schedule(time.Hour)
	b.Schedule(5 * time.Millisecond) // rescheduling replaces the first arming
	<-done
	c := w.NewTimer(func() {})
	c.Schedule(30 * time.Millisecond)
	fence := make(chan struct{})
	w.NewTimer(func() { close(fence) }).Schedule(40 * time.Millisecond)
	<-fence
	if got := n.Load(); got != 1 {
		t.Fatalf("n = %d, want 1 (cancelled timer fired or rescheduled one fired twice)", got)
	}
}

func TestLongDelaysWrapTheWheel(t *testing.T) {
	w := New(time.Millisecond)
	defer w.Stop()
	// Over two revolutions of 1024 slots.
	fired := make(chan time.Duration, 1)
	start := time.Now()
	w.NewTimer(func() { fired <- time.Since(start) }).Schedule(2100 * time.Millisecond)
	if d := <-fired; d < 2090*time.Millisecond {
		t.Fatalf("fired after %v", d)
	}
}

func TestCallbackMayRescheduleItself(t *testing.T) {
	w := New(time.Millisecond)
	defer w.Stop()
	var n atomic.Int32
	done := make(chan struct{})
	var tm *Timer
	tm = w.NewTimer(func() {
		if n.Add(1) == 5 {
			close(done)
			return
		}
		tm.Schedule(time.Millisecond)
	})
	tm.Schedule(time.Millisecond)
	<-done
}

func TestIdleWheelSleepsAndClockStaysFresh(t *testing.T) {
	w := New(time.Millisecond)
	defer w.Stop()
	if got := time.Duration(time.Now().UnixNano() - w.Now()); got > 50*time.Millisecond || got < -50*time.Millisecond {
		t.Fatalf("clock off by %v before any timer", got)
	}
	if _, ok := w.Ticking(); ok {
		t.Fatal("a wheel without timers says it ticks")
	}
	done := make(chan struct{})
	long := w.NewTimer(func() {})
	long.Schedule(time.Hour)
	if now, ok := w.Ticking(); !ok || time.Duration(time.Now().UnixNano()-now) > 50*time.Millisecond {
		t.Fatalf("Ticking with a timer pending: %v, %v old", ok, time.Duration(time.Now().UnixNano()-now))
	}
	long.Cancel()
	w.NewTimer(func() { close(done) }).Schedule(time.Millisecond)
	<-done
	time.Sleep(20 * time.Millisecond) // let the wheel go idle
	if _, ok := w.Ticking(); ok {
		t.Fatal("an idle wheel says it ticks")
	}
	if got := time.Duration(time.Now().UnixNano() - w.Now()); got > 50*time.Millisecond {
		t.Fatalf("clock stale by %v while idle", got)
	}
}

func TestStopWithoutStartAndTwice(t *testing.T) {
	w := New(0)
	if w.Tick() != DefaultTick {
		t.Fatal("default tick")
	}
	w.Stop()
	w.Stop()
	if w.NewTimer(func() {}).Schedule(time.Second) {
		t.Fatal("scheduled on a stopped wheel")
	}
}

func BenchmarkSchedule(b *testing.B) {
	w := New(time.Millisecond)
	defer w.Stop()
	tm := w.NewTimer(func() {})
	b.ReportAllocs()
	for b.Loop() {
		tm.Schedule(time.Second)
	}
}

// TestClockFreshOnWake checks the clock of a wheel that wakes from sleep:
// from the moment it is offered again (Ticking), it is not the time of the
// tick before the wheel slept.
func TestClockFreshOnWake(t *testing.T) {
	w := New(time.Millisecond)
	defer w.Stop()
	tm := w.NewTimer(func() {})
	tm.Schedule(time.Millisecond) // starts the wheel
	for range 200 {
		tm.Cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, ok := w.Ticking(); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the idle wheel never sleeps")
			}
			time.Sleep(100 * time.Microsecond)
		}
		asleep := time.Now().UnixNano()
		woke := make(chan struct{})
		go func() {
			defer close(woke)
			tm.Schedule(time.Hour) // wakes the wheel
		}()
		for {
			now, ok := w.Ticking()
			if !ok {
				continue
			}
			if now < asleep {
				<-woke
				t.Fatalf("the waking wheel offered a clock %v older than the moment it was seen asleep", time.Duration(asleep-now))
			}
			break
		}
		<-woke
	}
}
