package getty_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"testing"
)

// serverProcess is a Test function of this binary run as a child process
// (a server that needs limits or descriptors of its own): its stdin, a
// scanner over its stdout, and its pid. Closing stdin asks it to finish; the
// test waits for it at cleanup.
type serverProcess struct {
	stdin io.WriteCloser
	out   *bufio.Scanner
	pid   int
}

// startServerProcess runs the test named test in a child process with the
// environment variable env set.
func startServerProcess(t *testing.T, test, env string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("server process: %v", err)
		}
	})
	return &serverProcess{stdin: stdin, out: bufio.NewScanner(stdout), pid: cmd.Process.Pid}
}

// line reads the next line the child printed.
func (p *serverProcess) line(t *testing.T) string {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("server process ended: %v", p.out.Err())
	}
	return p.out.Text()
}
