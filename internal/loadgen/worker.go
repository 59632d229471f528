package loadgen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

const (
	flushBatch = 256                          // latencies buffered before recording
	flushEvery = int64(50 * time.Millisecond) // or this old
	maxBatch   = 256                          // frames per write in open loop
)

// worker drives one connection.
type worker struct {
	r    *run
	id   int
	link link

	total    atomic.Uint64 // frames echoed, any phase
	measured atomic.Uint64 // frames echoed in the measured window

	lat       []int64 // latencies not yet recorded (reading goroutine only)
	lastFlush int64
	_         [64]byte // keep workers' counters apart
}

func newWorker(r *run, id int, l link) *worker {
	return &worker{r: r, id: id, link: l, lat: make([]int64, 0, flushBatch)}
}

func (w *worker) run() {
	var err error
	if w.r.cfg.Rate > 0 {
		err = w.openLoop()
	} else {
		err = w.closedLoop()
	}
	w.flush()
	if err != nil {
		w.r.fail(fmt.Errorf("conn %d: %w", w.id, err))
	}
}

// frames returns n frames of size bytes each, with a recognizable payload.
func frames(size, n int) []byte {
	fl := HeaderLen + size
	b := make([]byte, fl*n)
	for i := range n {
		f := b[i*fl : (i+1)*fl]
		binary.BigEndian.PutUint32(f, uint32(size))
		for j := range size {
			f[HeaderLen+j] = byte(j%251 + 1)
		}
	}
	return b
}

// check verifies the frame at the front of f. stamped frames carry a time in
// their first 8 payload bytes, so only their last byte is compared.
func check(f []byte, size int, stamped bool) error {
	if got := binary.BigEndian.Uint32(f); got != uint32(size) {
		return fmt.Errorf("%w: frame length %d, sent %d", ErrBadEcho, got, size)
	}
	p := f[HeaderLen : HeaderLen+size]
	from := 0
	if stamped {
		from = size - 1
	} else if size > 8 {
		from = size - 8
	}
	for j := from; j < size; j++ {
		if p[j] != byte(j%251+1) {
			return fmt.Errorf("%w: payload byte %d differs", ErrBadEcho, j)
		}
	}
	return nil
}

// account counts k echoed frames and reports whether the window is open.
func (w *worker) account(k int) bool {
	w.total.Add(uint64(k))
	measuring := Phase(w.r.phase.Load()) == PhaseMeasure
	if measuring {
		w.measured.Add(uint64(k))
	}
	return measuring
}

func (w *worker) maybeFlush(now int64) {
	if len(w.lat) >= flushBatch || (len(w.lat) > 0 && now-w.lastFlush > flushEvery) {
		w.flush()
		w.lastFlush = now
	}
}

func (w *worker) flush() {
	if len(w.lat) > 0 {
		w.r.hist.record(w.id, w.lat)
		w.lat = w.lat[:0]
	}
}

// closedLoop keeps Depth frames in flight and replaces each echoed frame.
// The send times live in a ring in send order: an echo server answers in
// order.
func (w *worker) closedLoop() error {
	cfg := w.r.cfg
	fl := HeaderLen + cfg.Size
	out := frames(cfg.Size, cfg.Depth)
	buf := make([]byte, max(64<<10, 2*fl*cfg.Depth))
	ring := make([]int64, cfg.Depth)
	head := 0
	now := w.r.now()
	for i := range ring {
		ring[i] = now
	}
	w.lastFlush = now
	if err := w.link.write(out, fl); err != nil {
		return err
	}
	rd, wr := 0, 0
	for {
		if len(buf)-wr < fl {
			wr = copy(buf, buf[rd:wr])
			rd = 0
		}
		n, err := w.link.read(buf[wr:])
		if w.r.stop.Load() {
			return nil
		}
		if err != nil {
			return err
		}
		wr += n
		now = w.r.now()
		k := 0
		for wr-rd >= fl {
			if err := check(buf[rd:], cfg.Size, false); err != nil {
				return err
			}
			rd += fl
			k++
		}
		if rd == wr {
			rd, wr = 0, 0
		}
		if k == 0 {
			continue
		}
		if k > cfg.Depth {
			return fmt.Errorf("%w: %d frames back, %d in flight", ErrBadEcho, k, cfg.Depth)
		}
		measuring := w.account(k)
		for range k {
			if measuring {
				w.lat = append(w.lat, now-ring[head])
			}
			ring[head] = now
			head++
			if head == len(ring) {
				head = 0
			}
		}
		w.maybeFlush(now)
		if err := w.link.write(out[:k*fl], fl); err != nil {
			return err
		}
	}
}

// openLoop sends frames on a fixed schedule from one goroutine and reads the
// echoes on this one. Each frame carries its due time.
func (w *worker) openLoop() error {
	var (
		wg      sync.WaitGroup
		sendErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendErr = w.send()
		if sendErr != nil {
			w.link.wake() // end the reader too
		}
	}()
	err := w.receive()
	if err != nil {
		w.link.wake() // end the sender too
	}
	wg.Wait()
	if w.r.stop.Load() {
		return nil
	}
	if sendErr != nil {
		return sendErr
	}
	return err
}

func (w *worker) send() error {
	cfg := w.r.cfg
	fl := HeaderLen + cfg.Size
	out := frames(cfg.Size, maxBatch)
	interval := float64(cfg.Conns) / cfg.Rate * 1e9
	start := w.r.now()
	// Spread the connections' schedules so that they do not fire together.
	phase := rand.Float64() * interval
	var i int64
	due := func() int64 { return start + int64(phase+float64(i)*interval) }
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for !w.r.stop.Load() {
		now := w.r.now()
		next := due()
		if next > now {
			t.Reset(time.Duration(next - now))
			select {
			case <-t.C:
			case <-w.r.done:
				return nil
			}
			continue
		}
		k := 0
		for ; k < maxBatch && next <= now; k++ {
			binary.LittleEndian.PutUint64(out[k*fl+HeaderLen:], uint64(next))
			i++
			next = due()
		}
		if err := w.link.write(out[:k*fl], fl); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) receive() error {
	cfg := w.r.cfg
	fl := HeaderLen + cfg.Size
	buf := make([]byte, max(64<<10, 2*fl))
	w.lastFlush = w.r.now()
	rd, wr := 0, 0
	for {
		if len(buf)-wr < fl {
			wr = copy(buf, buf[rd:wr])
			rd = 0
		}
		n, err := w.link.read(buf[wr:])
		if w.r.stop.Load() {
			return nil
		}
		if err != nil {
			return err
		}
		wr += n
		now := w.r.now()
		k := 0
		for p := rd; wr-p >= fl; p += fl {
			k++
		}
		measuring := k > 0 && w.account(k)
		for ; wr-rd >= fl; rd += fl {
			if err := check(buf[rd:], cfg.Size, true); err != nil {
				return err
			}
			if measuring {
				w.lat = append(w.lat, now-int64(binary.LittleEndian.Uint64(buf[rd+HeaderLen:])))
			}
		}
		if rd == wr {
			rd, wr = 0, 0
		}
		w.maybeFlush(now)
	}
}
