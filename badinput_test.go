package getty_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

// badInput is one hostile or edge-case input: the bytes a peer sends, the
// packages the server must echo back first, and the error that must end
// the session (nil: the session stays up until the peer closes).
type badInput struct {
	category string
	name     string
	send     []byte
	halfShut bool // the peer shuts its sending side after send
	echoes   [][]byte
	cause    error
}

const badMax = 1024 // MaxPackageSize of the servers under test

// clientHello is the start of a real TLS 1.2 ClientHello record.
var clientHello = []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03}

func lengthfieldInputs() []badInput {
	hdr := func(n uint32, rest ...byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), rest...) }
	garbage := payload(7, 64)
	garbage[0] = 0xde
	var three []byte
	for i := range 3 {
		three = append(three, frame(payload(i, 10*i))...)
	}
	return []badInput{
		{category: "edge", name: "zero-length package", send: frame(nil), echoes: [][]byte{{}}},
		{category: "edge", name: "package at the limit", send: frame(payload(1, badMax-lengthfield.HeaderLen)), echoes: [][]byte{payload(1, badMax-lengthfield.HeaderLen)}},
		{category: "edge", name: "three packages coalesced", send: three, echoes: [][]byte{payload(0, 0), payload(1, 10), payload(2, 20)}},
		{category: "limit", name: "one byte over the limit", send: hdr(badMax - lengthfield.HeaderLen + 1), cause: getty.ErrMessageTooLarge},
		{category: "lying length", name: "huge length", send: hdr(0xffffffff), cause: getty.ErrMessageTooLarge},
		{category: "lying length", name: "negative as int32", send: hdr(0x80000000, 1, 2, 3), cause: getty.ErrMessageTooLarge},
		{category: "lying length", name: "longer than what arrives before EOF", send: hdr(100, 1, 2, 3, 4, 5), halfShut: true, cause: io.ErrUnexpectedEOF},
		{category: "lying length", name: "header cut before EOF", send: []byte{0, 0}, halfShut: true, cause: io.ErrUnexpectedEOF},
		{category: "garbage", name: "random bytes", send: garbage, cause: getty.ErrMessageTooLarge},
		{category: "wrong protocol", name: "TLS ClientHello to a plain port", send: clientHello, cause: getty.ErrMessageTooLarge},
		{category: "wrong protocol", name: "HTTP request", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), cause: getty.ErrMessageTooLarge},
		{category: "edge", name: "valid package then garbage", send: append(frame([]byte("ok")), 0xff, 0xff, 0xff, 0xff), echoes: [][]byte{[]byte("ok")}, cause: getty.ErrMessageTooLarge},
	}
}

func delimInputs() []badInput {
	atLimit := bytes.Repeat([]byte{'a'}, badMax-1)
	return []badInput{
		{category: "edge", name: "empty line", send: []byte("\n"), echoes: [][]byte{{}}},
		{category: "edge", name: "line at the limit", send: append(atLimit, '\n'), echoes: [][]byte{atLimit}},
		{category: "edge", name: "lines coalesced, CRLF", send: []byte("a\r\nb\nc\r\n"), echoes: [][]byte{[]byte("a"), []byte("b"), []byte("c")}},
		{category: "limit", name: "no delimiter within the limit", send: bytes.Repeat([]byte{'x'}, badMax+10), cause: getty.ErrMessageTooLarge},
		{category: "lying length", name: "line cut by EOF", send: []byte("half a li"), halfShut: true, cause: io.ErrUnexpectedEOF},
		{category: "wrong protocol", name: "HTTP request", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), echoes: [][]byte{[]byte("GET / HTTP/1.1"), []byte("Host: x"), {}}},
		{category: "garbage", name: "binary bytes", send: []byte{0, 1, 0xff, 0xfe, '\n'}, echoes: [][]byte{{0, 1, 0xff, 0xfe}}},
	}
}

// TestBadInputPerCodecAndTransport sends every bad input of each codec over
// every stream transport and engine, and checks the exact outcome: the
// valid packages echoed in order, then the session ended with the expected
// error (matched with errors.Is), while the server keeps serving.
func TestBadInputPerCodecAndTransport(t *testing.T) {
	var tried atomic.Int64
	counts := map[string]*atomic.Int64{}
	for _, in := range append(lengthfieldInputs(), delimInputs()...) {
		if counts[in.category] == nil {
			counts[in.category] = new(atomic.Int64)
		}
	}
	t.Cleanup(func() {
		var s []string
		for c, n := range counts {
			s = append(s, fmt.Sprintf("%s: %d", c, n.Load()))
		}
		t.Logf("%d bad inputs tried (%s)", tried.Load(), strings.Join(s, ", "))
	})
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			for _, codec := range []struct {
				name   string
				c      getty.Codec[[]byte]
				inputs []badInput
				read   func(*bufio.Reader) ([]byte, error)
			}{
				{"lengthfield", lengthfield.Codec{}, lengthfieldInputs(), readLengthFrame},
				{"delim", delim.Lines(), delimInputs(), readLine},
			} {
				for _, in := range codec.inputs {
					t.Run(codec.name+"/"+in.name, func(t *testing.T) {
						env := tr.Setup(t)
						runBadInput(t, env, codec.c, codec.read, in)
						tried.Add(1)
						counts[in.category].Add(1)
					})
				}
			}
		})
	}
}

func runBadInput(t *testing.T, env *testutil.Env, codec getty.Codec[[]byte], read func(*bufio.Reader) ([]byte, error), in badInput) {
	rec := newRecorder(t, true)
	_, l := serveCodec(t, env, codec, rec, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: badMax}})
	c := rawPeer(t, env, l)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(in.send); err != nil {
		t.Fatal(err)
	}
	if in.halfShut {
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(c)
	for i, want := range in.echoes {
		got, err := read(br)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo %d: %q %v, want %q", i, got, err, want)
		}
	}
	if in.cause == nil {
		c.Close()
		if cause, errs := rec.waitClosed(t); !errors.Is(cause, io.EOF) && !errors.Is(cause, getty.ErrSessionClosed) || len(errs) != 0 {
			t.Fatalf("peer closed a healthy session: cause %v, errors %v", cause, errs)
		}
		return
	}
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, in.cause) {
		t.Fatalf("cause %v, want %v", cause, in.cause)
	}
	if len(errs) != 1 || !errors.Is(errs[0], in.cause) {
		t.Fatalf("OnError got %v, want one %v", errs, in.cause)
	}
	// The peer sees the connection end.
	if _, err := io.Copy(io.Discard, br); err != nil && !isReset(err) {
		t.Fatalf("after the bad input: %v", err)
	}
	if rec.msgs.Load() != int64(len(in.echoes)) {
		t.Fatalf("%d packages delivered, want %d", rec.msgs.Load(), len(in.echoes))
	}
}

func readLengthFrame(br *bufio.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint32(h[:]))
	_, err := io.ReadFull(br, p)
	return p, err
}

func readLine(br *bufio.Reader) ([]byte, error) {
	l, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(l, []byte("\n")), nil
}
