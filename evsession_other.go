//go:build !linux

package getty

const eventLoopSupported = false

// evGroup stands in for the event loops on systems without them.
type evGroup struct{}

func newEvGroup(*Options) (*evGroup, error) { return nil, ErrEngineUnsupported }

func (*evGroup) Close() error { return nil }

type evConn struct{ Conn }

func newEvConn(Conn) (*evConn, error) { return nil, ErrEngineUnsupported }

func (s *Session[T]) evStart(*evGroup, *evConn, func()) {}
