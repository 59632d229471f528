// Command getty is getty's command-line tool: an echo server, a
// netcat-like client and a loopback benchmark.
//
//	getty serve --transport tcp --addr 127.0.0.1:7000
//	getty dial  --transport tcp --addr 127.0.0.1:7000
//	getty bench --conns 100 --size 64 --depth 1
//	getty help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run an echo server", runServe},
		{"dial", "connect to a server; send stdin lines, print replies", runDial},
		{"bench", "benchmark an echo server (embedded or --addr) with a load generator", runBench},
	}
}

// errUsage marks errors caused by bad arguments (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return helpFor(args[1], stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdin, stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				fmt.Fprintln(stderr, "getty "+c.name+":", err)
				return 2
			default:
				fmt.Fprintln(stderr, "getty "+c.name+":", err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "getty: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "getty: a network engine's echo server, client and benchmark")
	fmt.Fprintln(w, "\nUsage: getty <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'getty help <command>' for its flags.")
}

func helpFor(name string, stdout, stderr io.Writer) int {
	for _, c := range commands() {
		if c.name == name {
			c.run(context.Background(), []string{"-h"}, nil, stdout, stdout) //nolint:errcheck // -h only prints usage
			return 0
		}
	}
	fmt.Fprintf(stderr, "getty: unknown command %q\n", name)
	return 2
}
