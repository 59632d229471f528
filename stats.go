package getty

import (
	"net"
	"sync/atomic"
	"time"
)

// SessionStats is a snapshot of one session's counters.
type SessionStats struct {
	Started     time.Time
	LastRead    time.Time // coarse: within one timer tick
	LastWrite   time.Time // coarse: within one timer tick
	BytesIn     uint64
	BytesOut    uint64
	PackagesIn  uint64
	PackagesOut uint64
	Backlog     int // bytes queued or being written
}

// Stats is a snapshot of a server's or client's counters. Byte and package
// counts include closed and live sessions.
type Stats struct {
	SessionsOpen  int64  // live sessions
	SessionsTotal uint64 // sessions ever opened
	Accepted      uint64 // connections accepted (servers) or dialed (clients)
	Rejected      uint64 // connections refused: session limit or failed dials
	BytesIn       uint64
	BytesOut      uint64
	PackagesIn    uint64
	PackagesOut   uint64
}

type counters struct {
	opened, closed     atomic.Uint64
	accepted, rejected atomic.Uint64
	bytesIn, bytesOut  atomic.Uint64
	pkgsIn, pkgsOut    atomic.Uint64
}

func (c *counters) snapshot() Stats {
	opened, closed := c.opened.Load(), c.closed.Load()
	return Stats{
		SessionsOpen:  int64(opened) - int64(closed),
		SessionsTotal: opened,
		Accepted:      c.accepted.Load(),
		Rejected:      c.rejected.Load(),
		BytesIn:       c.bytesIn.Load(),
		BytesOut:      c.bytesOut.Load(),
		PackagesIn:    c.pkgsIn.Load(),
		PackagesOut:   c.pkgsOut.Load(),
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
