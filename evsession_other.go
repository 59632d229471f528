//go:build !linux

package getty

import "net"

const eventLoopSupported = false

// evGroup stands in for the event loops on systems without them.
type evGroup struct{ spare *spareFD }

func newEvGroup(*Options) (*evGroup, error) { return nil, ErrEngineUnsupported }

func (*evGroup) Close() error { return nil }

// evConn is never made on these systems; it exists for the code that
// looks for it.
type evConn struct{ net.Conn }

func (*evConn) try([][]byte) (int, error) { return 0, ErrEngineUnsupported }

func (*evConn) tryOne([]byte) (int, error) { return 0, ErrEngineUnsupported }

type spareFD struct{}

func newEvConn(Conn, *spareFD) (*evConn, error) { return nil, ErrEngineUnsupported }

func (s *Session[T]) evStart(*evGroup, *evConn) {}

type fdListener interface{ evOnly() }

func (srv *Server[T]) evServe(Listener, fdListener) error { return ErrEngineUnsupported }

func (s *Session[T]) onLoop() bool { return false }

func (s *Session[T]) evStalled() *evConn { return nil }

func (*evConn) awaitOut() {}

func (s *Session[T]) evRelease() {}

func (e *endpoint[T]) evAppend(live []*Session[T]) []*Session[T] { return live }

type iovec struct{}

func (*evConn) tryVec(*zcBatch, [][]byte) (int, error) { return 0, ErrEngineUnsupported }

// now is the coarse clock of lastRead and lastWrite.
func (e *endpoint[T]) now() int64 { return e.wheel.Now() }
