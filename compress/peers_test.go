package compress_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/internal/testutil"
)

// python3WithModule returns the Debian python3 when it can import module
// (python3 on PATH may be a separate install without Debian's modules).
func python3WithModule(t *testing.T, module string) string {
	t.Helper()
	py := testutil.RequirePeer(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import "+module).Run(); err != nil {
		if os.Getenv("GETTY_REQUIRE_PEERS") == "1" {
			t.Fatalf("python3 module %q is required (GETTY_REQUIRE_PEERS=1) but missing: %v", module, err)
		}
		t.Skipf("python3 module %q not installed", module)
	}
	return py
}

// frameData splits a single compressed frame into its declared content
// size and its algorithm data.
func frameData(t *testing.T, wire []byte) (uint64, []byte) {
	t.Helper()
	if len(wire) < 5 || wire[0]&0x10 == 0 || int(binary.BigEndian.Uint32(wire[1:5])) != len(wire)-5 {
		t.Fatalf("not one compressed frame: % x...", wire[:min(len(wire), 8)])
	}
	size, k := binary.Uvarint(wire[5:])
	return size, wire[5+k:]
}

// TestPayloadsWithThirdPartyTools checks the compressed data inside frames
// against other implementations, both ways: the zstd CLI, python's zlib
// (raw deflate) and python-snappy decode what this package sends, and
// what they compress, framed, this package decodes: as bytes, and through
// echo servers on both engines over TCP loopback.
func TestPayloadsWithThirdPartyTools(t *testing.T) {
	t.Parallel()
	msg := pkgFrame(payload(20<<10, true, 9))                              // a package, for the echo servers
	content := append(binary.AppendUvarint(nil, uint64(len(msg))), msg...) // one record
	tools := []struct {
		alg        compress.Algorithm
		decompress func(t *testing.T) *exec.Cmd
		compress   func(t *testing.T, in string) *exec.Cmd
	}{
		{
			alg: compress.Zstd,
			decompress: func(t *testing.T) *exec.Cmd {
				return exec.Command(testutil.RequirePeer(t, "zstd"), "-d", "-c", "-q")
			},
			// From a file, so that the frame declares its content size.
			compress: func(t *testing.T, in string) *exec.Cmd {
				return exec.Command(testutil.RequirePeer(t, "zstd"), "-c", "-q", "-3", in)
			},
		},
		{
			alg: compress.Deflate,
			decompress: func(t *testing.T) *exec.Cmd {
				return exec.Command(python3WithModule(t, "zlib"), "-c",
					"import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read(), -15))")
			},
			compress: func(t *testing.T, in string) *exec.Cmd {
				return exec.Command(python3WithModule(t, "zlib"), "-c",
					"import sys,zlib; c=zlib.compressobj(6, zlib.DEFLATED, -15); sys.stdout.buffer.write(c.compress(open(sys.argv[1],'rb').read())+c.flush())", in)
			},
		},
		{
			alg: compress.Snappy,
			decompress: func(t *testing.T) *exec.Cmd {
				return exec.Command(python3WithModule(t, "snappy"), "-c",
					"import sys,snappy; sys.stdout.buffer.write(snappy.uncompress(sys.stdin.buffer.read()))")
			},
			compress: func(t *testing.T, in string) *exec.Cmd {
				return exec.Command(python3WithModule(t, "snappy"), "-c",
					"import sys,snappy; sys.stdout.buffer.write(snappy.compress(open(sys.argv[1],'rb').read()))", in)
			},
		},
	}
	for _, tool := range tools {
		t.Run(tool.alg.String(), func(t *testing.T) {
			t.Parallel()
			cfg := &compress.Config{Algorithm: tool.alg}

			// This package compresses; the tool decompresses.
			size, data := frameData(t, frames(t, cfg, msg))
			if size != uint64(len(content)) {
				t.Fatalf("frame declares %d bytes, want %d", size, len(content))
			}
			cmd := tool.decompress(t)
			cmd.Stdin = bytes.NewReader(data)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", cmd.Args, err)
			}
			if !bytes.Equal(out, content) {
				t.Fatalf("the tool decoded %d bytes that differ from the %d sent", len(out), len(content))
			}

			// The tool compresses; this package decompresses.
			in := filepath.Join(t.TempDir(), "content")
			if err := os.WriteFile(in, content, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd = tool.compress(t, in)
			z, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", cmd.Args, err)
			}
			wire := rawFrame(tool.alg, true, compressedBody(uint64(len(content)), z))
			msgs, err := readAll(t, cfg, wire, 1<<20)
			if len(msgs) != 1 || !bytes.Equal(msgs[0], msg) {
				t.Fatalf("decoding the tool's data: %d messages, %v", len(msgs), err)
			}

			// Through a session: an echo server decodes the tool's frame
			// and answers with a frame the tool decodes.
			forEngines(t, netTCP, func(t *testing.T, n network) {
				c := rawDial(t, serve(t, n, cfg, nil, echo()))
				if _, err := c.Write(wire); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				reply := make([]byte, 5)
				if _, err := io.ReadFull(c, reply); err != nil {
					t.Fatal(err)
				}
				reply = append(reply, make([]byte, binary.BigEndian.Uint32(reply[1:]))...)
				if _, err := io.ReadFull(c, reply[5:]); err != nil {
					t.Fatal(err)
				}
				_, data := frameData(t, reply)
				cmd := tool.decompress(t)
				cmd.Stdin = bytes.NewReader(data)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%v: %v", cmd.Args, err)
				}
				if !bytes.Equal(out, content) {
					t.Fatalf("the tool decoded a reply of %d bytes that differs from the %d sent", len(out), len(content))
				}
			})
		})
	}
}
