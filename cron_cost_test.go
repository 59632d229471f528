package getty_test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCronCostOfTenThousandSessions holds 10,000 sessions with a 1 s cron
// period (in-memory pipes: the transport does not matter here, and 10,000
// TCP pairs would exceed the descriptor limit) and checks that the shared
// timing wheel keeps the whole process well under one core.
func TestCronCostOfTenThousandSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const sessions = 10000
	rec := newRecorder(t, false)
	srv, conns := pipeServer(t, rec, &getty.ServerOptions{Options: getty.Options{CronPeriod: time.Second}})
	clients := make([]net.Conn, 0, sessions)
	for range sessions {
		clients = append(clients, <-conns)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); srv.Stats().SessionsOpen < sessions; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sessions opened", srv.Stats().SessionsOpen)
		}
	}
	crons0, cpu0, wall0 := rec.crons.Load(), cpuTime(t), time.Now()
	time.Sleep(3 * time.Second) // the measurement window
	crons, cpu, wall := rec.crons.Load()-crons0, cpuTime(t)-cpu0, time.Since(wall0)
	share := float64(cpu) / float64(wall)
	t.Logf("%d sessions, %d OnCron calls in %v: %.1f%% of one core", sessions, crons, wall.Round(time.Millisecond), 100*share)
	if crons < 2*sessions {
		t.Errorf("only %d OnCron calls in %v", crons, wall)
	}
	if share > 0.5 {
		t.Errorf("cron for %d sessions costs %.0f%% of a core", sessions, 100*share)
	}
}
