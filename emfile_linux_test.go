package getty_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

const emfileChildEnv = "GETTY_EMFILE_SERVER"

// TestAcceptSurvivesRealEMFILE runs an echo server in a child process whose
// descriptor limit is 64, and connects 150 clients: the server runs out of
// descriptors (EMFILE), backs off without spinning (its CPU use is measured
// while the clients wait), and serves every waiting client once earlier
// ones hang up.
func TestAcceptSurvivesRealEMFILE(t *testing.T) {
	for _, engine := range []string{"goroutine", "eventloop"} {
		t.Run(engine, func(t *testing.T) { testAcceptSurvivesRealEMFILE(t, engine) })
	}
}

func testAcceptSurvivesRealEMFILE(t *testing.T, engine string) {
	const clients = 150
	child := startServerProcess(t, "TestEMFILEServer", emfileChildEnv+"="+engine)
	addr := strings.TrimPrefix(child.line(t), "addr ")

	conns := make([]net.Conn, clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
		if _, err := c.Write(frame([]byte(strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	echoed := func(i int, wait time.Duration) bool {
		conns[i].SetReadDeadline(time.Now().Add(wait))
		p, err := readFrame(conns[i])
		return err == nil && string(p) == strconv.Itoa(i)
	}
	served := 0
	for i := range conns {
		if echoed(i, 300*time.Millisecond) {
			served++
		} else {
			break
		}
	}
	if served == 0 || served == clients {
		t.Fatalf("%d of %d clients served under a 64-descriptor limit", served, clients)
	}
	// The rest wait in the kernel's accept queue while Accept fails with
	// EMFILE: the server must back off, not spin.
	before := processCPU(t, child.pid)
	time.Sleep(2 * time.Second)
	used := processCPU(t, child.pid) - before
	if used > 500*time.Millisecond {
		t.Errorf("server used %v of CPU in 2s of EMFILE: it spins", used)
	}
	// Hang up the served clients: the waiting ones are served.
	for i := range served {
		conns[i].Close()
		conns[i] = nil
	}
	for i := served; i < clients; i++ {
		if !echoed(i, 10*time.Second) {
			t.Fatalf("client %d never served after descriptors were freed", i)
		}
		conns[i].Close() // and make room for the next
		conns[i] = nil
	}
	t.Logf("%s engine: %d clients served at once under RLIMIT_NOFILE 64, %v of CPU in 2 s of EMFILE, the other %d served after the first hung up",
		engine, served, used, clients-served)
}

// processCPU is the user and system CPU time of process pid.
func processCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// TestEMFILEServer is the server process of TestAcceptSurvivesRealEMFILE.
func TestEMFILEServer(t *testing.T) {
	engineName := os.Getenv(emfileChildEnv)
	if engineName == "" {
		t.Skip("the server process of TestAcceptSurvivesRealEMFILE")
	}
	engine, err := getty.ParseEngine(engineName)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 64, Max: 64}); err != nil {
		t.Fatal(err)
	}
	_, stop := serveChildEcho(t, &getty.ServerOptions{Options: getty.Options{Engine: engine, EventLoops: 1}}, false) // peers may be gone: a failed echo just ends its session
	bufio.NewScanner(os.Stdin).Scan()                                                                                // until the parent closes stdin
	stop()
}
