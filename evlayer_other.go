//go:build !linux

package getty

// evWrap stands in for the event-loop engine on systems without it.
func evWrap(Conn, *spareFD) (Conn, *evConn, error) { return nil, nil, ErrEngineUnsupported }

// evFramed returns nil: there are no event-loop connections here.
func evFramed(MessageConn) *evConn { return nil }

func (w *writer[T]) tryFrames(*[]byte, []span) (int, error) { return 0, ErrEngineUnsupported }
