package getty

import (
	"net"
	"sync/atomic"
	"time"
)

// SessionStats is a snapshot of one session's counters.
type SessionStats struct {
	Started     time.Time
	LastRead    time.Time // coarse: within one timer tick (event loops: one batch of events)
	LastWrite   time.Time // coarse, as LastRead
	BytesIn     uint64
	BytesOut    uint64
	PackagesIn  uint64
	PackagesOut uint64
	Backlog     int // bytes queued or being written
}

// Stats is a snapshot of a server's or client's counters. Every counter is
// 64 bits wide and counts from the server's or client's creation; a
// snapshot is safe to take from any goroutine at any time.
//
// A connection is accepted (or dialed), then either refused at once
// (RejectedLimit), or becomes a session that runs its transport handshake
// (failures: HandshakeFailed) and opens (SessionsTotal). An open session
// later closes, counted in Closed by cause; a session refused by OnOpen is
// counted in RejectedByHandler and in Closed.Rejected. So SessionsOpen =
// SessionsTotal - Closed.Total().
type Stats struct {
	SessionsOpen  int64  // live sessions (open, not yet closed)
	SessionsTotal uint64 // sessions ever opened (their handshake succeeded)

	Accepted uint64 // connections accepted (servers) or dialed (clients)
	// Rejected is RejectedLimit + RejectedByHandler.
	Rejected          uint64
	RejectedLimit     uint64 // refused at MaxSessions, before any handshake
	RejectedByHandler uint64 // refused by Handler.OnOpen
	HandshakeFailed   uint64 // handshakes (TLS, PROXY header) that failed or were cut short
	DialFailed        uint64 // clients: dials that failed

	Closed ClosedStats // sessions closed, by cause

	// Bytes and packages of closed and live sessions.
	BytesIn     uint64
	BytesOut    uint64
	PackagesIn  uint64
	PackagesOut uint64

	// Backlog is the bytes queued for writing (or being written) on every
	// live session together.
	Backlog int64
}

// ClosedStats counts closed sessions by cause (see CloseCause and CauseOf).
type ClosedStats struct {
	Peer     uint64 // the peer closed or reset the connection
	Local    uint64 // Session.Close
	Shutdown uint64 // Server.Shutdown or Close, Client.Close
	Timeout  uint64 // read, write or handshake timeout
	Limit    uint64 // a limit passed (ErrMessageTooLarge)
	Rejected uint64 // OnOpen refused the session
	Error    uint64 // any other error
}

// Total is the number of closed sessions.
func (c ClosedStats) Total() uint64 {
	return c.Peer + c.Local + c.Shutdown + c.Timeout + c.Limit + c.Rejected + c.Error
}

// ByCause returns the count of one cause.
func (c ClosedStats) ByCause(cause CloseCause) uint64 {
	switch cause {
	case CausePeer:
		return c.Peer
	case CauseLocal:
		return c.Local
	case CauseShutdown:
		return c.Shutdown
	case CauseTimeout:
		return c.Timeout
	case CauseLimit:
		return c.Limit
	case CauseRejected:
		return c.Rejected
	}
	return c.Error
}

// counters are an endpoint's atomic counters. The byte and package counts
// of a session move here when it closes (under endpoint.mu, so that a
// snapshot sees them either here or on the live session, never twice).
type counters struct {
	opened                      atomic.Uint64
	closed                      [numCauses]atomic.Uint64
	accepted, rejectedLimit     atomic.Uint64
	handshakeFailed, dialFailed atomic.Uint64
	bytesIn, bytesOut           atomic.Uint64
	pkgsIn, pkgsOut             atomic.Uint64
}

func (c *counters) snapshot() Stats {
	// Closes first, opens last: a session that opens and closes meanwhile
	// counts as open rather than making SessionsOpen negative.
	closed := ClosedStats{
		Peer:     c.closed[CausePeer].Load(),
		Local:    c.closed[CauseLocal].Load(),
		Shutdown: c.closed[CauseShutdown].Load(),
		Timeout:  c.closed[CauseTimeout].Load(),
		Limit:    c.closed[CauseLimit].Load(),
		Rejected: c.closed[CauseRejected].Load(),
		Error:    c.closed[CauseError].Load(),
	}
	st := Stats{
		SessionsTotal:   c.opened.Load(),
		Accepted:        c.accepted.Load(),
		RejectedLimit:   c.rejectedLimit.Load(),
		HandshakeFailed: c.handshakeFailed.Load(),
		DialFailed:      c.dialFailed.Load(),
		Closed:          closed,
		BytesIn:         c.bytesIn.Load(),
		BytesOut:        c.bytesOut.Load(),
		PackagesIn:      c.pkgsIn.Load(),
		PackagesOut:     c.pkgsOut.Load(),
	}
	st.RejectedByHandler = st.Closed.Rejected
	st.Rejected = st.RejectedLimit + st.RejectedByHandler
	st.SessionsOpen = int64(st.SessionsTotal) - int64(st.Closed.Total())
	return st
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
