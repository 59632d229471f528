package getty

import (
	"fmt"
	"unsafe"
)

// Zero-copy replies on the event-loop engine. While the loop dispatches the
// packages decoded from one read, the session is corked and its replies
// queue. With a HeaderEncoder codec, a reply whose payload lies in the bytes
// being dispatched is queued by reference: only its header is copied into
// the queue, and the flush at the end of the dispatch sends headers and
// payloads with one vectored write. The references never outlive the
// dispatch: uncork waits for a flush that holds them, and copies any still
// queued behind a flush in progress (endRefsLocked).

const (
	zcMinPayload = 512 // smaller payloads are cheaper to copy than to point at
	zcMaxRefs    = 256 // references per batch: 2*zcMaxRefs+1 iovecs at most
)

// zcBatch is the state of one corked dispatch: the bytes being dispatched
// and the payloads queued from them.
type zcBatch struct {
	region   []byte  // the bytes the loop is dispatching
	refs     []zcRef // in queue order
	bytes    int     // total length of the referenced payloads
	inflight bool    // a flusher is writing references without the lock
	vecs     [][]byte
	iov      []iovec // the flusher's system call arguments
}

// zcRef is a payload queued by reference: it goes after out[:at].
type zcRef struct {
	at int
	b  []byte
}

// holds reports whether p lies within the region being dispatched.
func (z *zcBatch) holds(p []byte) bool {
	if len(p) == 0 || len(z.region) == 0 {
		return false
	}
	base := &z.region[0]
	last := &z.region[len(z.region)-1]
	return !ptrBefore(&p[0], base) && !ptrBefore(last, &p[len(p)-1])
}

// corkOn corks the writer for a dispatch of the packages decoded from data,
// taking references to data on the event-loop engine.
func (w *writer[T]) corkOn(data []byte) {
	w.mu.Lock()
	w.corked = true
	if w.lean && w.sess().msg == nil && w.sess().e.hdrEnc != nil && w.zc == nil {
		z, _ := w.sess().e.zcs.Get().(*zcBatch)
		if z == nil {
			z = &zcBatch{}
		}
		z.region = data
		w.zc = z
	}
	w.mu.Unlock()
}

// encodeRefLocked encodes pkg into out, or only its header when its
// payload can be queued by reference.
func (w *writer[T]) encodeRefLocked(out *[]byte, pkg T) error {
	e := w.sess().e
	if e.hdrEnc == nil {
		var err error
		*out, err = e.codec.Encode(*out, pkg)
		return err
	}
	start := len(*out)
	b, payload, err := e.hdrEnc.EncodeHeader(*out, pkg)
	if err != nil {
		return err
	}
	*out = b
	if size := len(b) - start + len(payload); size > e.opts.MaxPackageSize {
		return fmt.Errorf("%w: encoded package is %d bytes, the limit is %d", ErrMessageTooLarge, size, e.opts.MaxPackageSize)
	}
	z := w.zc
	// While a flusher writes the queued references without the lock, a
	// package queued meanwhile is copied: once done, the flusher drops
	// every reference, and would drop one added now unwritten.
	if !z.inflight && z.holds(payload) {
		off := z.offset(payload)
		hdr := b[start:]
		// When the bytes before the payload are this very header (a frame
		// sent on as it came: an echo, a relay), the reference takes them
		// too, whatever the size; consecutive such frames make one
		// reference, and one iovec.
		if len(hdr) > 0 && off >= len(hdr) && string(z.region[off-len(hdr):off]) == string(hdr) {
			frame := z.region[off-len(hdr) : off+len(payload)]
			if n := len(z.refs); n > 0 && z.refs[n-1].at == start && z.adjacent(z.refs[n-1].b, frame) {
				*out = b[:start]
				last := &z.refs[n-1]
				last.b = z.region[z.offset(last.b) : off+len(payload)]
				z.bytes += len(frame)
				return nil
			}
			if len(z.refs) < zcMaxRefs {
				*out = b[:start]
				z.refs = append(z.refs, zcRef{at: start, b: frame})
				z.bytes += len(frame)
				return nil
			}
		} else if len(payload) >= zcMinPayload && len(z.refs) < zcMaxRefs {
			z.refs = append(z.refs, zcRef{at: len(b), b: payload})
			z.bytes += len(payload)
			return nil
		}
	}
	w.reserveLocked(out, len(payload))
	*out = append(*out, payload...)
	return nil
}

// offset is where p (which z holds) starts in the region.
func (z *zcBatch) offset(p []byte) int {
	return int(uintptr(unsafe.Pointer(&p[0])) - uintptr(unsafe.Pointer(&z.region[0])))
}

// adjacent reports whether b starts where a ends (both in the region).
func (z *zcBatch) adjacent(a, b []byte) bool {
	return z.offset(a)+len(a) == z.offset(b)
}

// segments lists the queued bytes of out and the references in order.
func (z *zcBatch) segments(out []byte) [][]byte {
	vecs := z.vecs[:0]
	prev := 0
	for _, r := range z.refs {
		if r.at > prev {
			vecs = append(vecs, out[prev:r.at])
		}
		vecs = append(vecs, r.b)
		prev = r.at
	}
	if prev < len(out) {
		vecs = append(vecs, out[prev:])
	}
	z.vecs = vecs
	return vecs
}

// materializeLocked copies the referenced payloads into the queue, which
// then owns every byte it holds.
func (w *writer[T]) materializeLocked() {
	z := w.zc
	if len(z.refs) == 0 {
		return
	}
	nb := w.sess().e.bufs.Get(len(*w.out) + z.bytes)
	for _, seg := range z.segments(*w.out) {
		*nb = append(*nb, seg...)
	}
	w.sess().e.bufs.Put(w.out)
	w.out = nb
	z.dropRefs()
}

func (z *zcBatch) dropRefs() {
	clear(z.refs)
	z.refs = z.refs[:0]
	clear(z.vecs)
	z.vecs = z.vecs[:0]
	z.bytes = 0
}

// flushRefsLocked writes the queue, references included, with one
// non-blocking vectored write. What the kernel does not take is copied
// and handed to the background flusher; it reports whether it did so (and
// unlocked w.mu). Otherwise w.mu is held again on return.
func (w *writer[T]) flushRefsLocked() bool {
	z := w.zc
	buf, pkgs := w.out, int(w.pkgs)
	w.out, w.pkgs = nil, 0
	total := len(*buf) + z.bytes
	w.setInflight(total)
	z.inflight = true
	w.beginLocked()
	vecs := z.segments(*buf) // under the lock, as the references are
	w.mu.Unlock()
	n, err := w.sess().stream.(*evConn).tryVec(z, vecs)
	w.observeWrite(err, n, total, pkgs)
	w.mu.Lock()
	z.inflight = false
	w.wakeLocked()
	if err == nil && n < total {
		// Keep the unwritten rest in a buffer of our own.
		rest := w.sess().e.bufs.Get(total - n)
		skip := n
		for _, seg := range z.vecs {
			if skip >= len(seg) {
				skip -= len(seg)
				continue
			}
			*rest = append(*rest, seg[skip:]...)
			skip = 0
		}
		z.dropRefs()
		w.sess().e.bufs.Put(buf)
		w.sess().bytesOut.Add(uint64(n))
		w.handOffLocked(rest, pkgs)
		return true
	}
	z.dropRefs()
	err = w.endLocked(total, pkgs, err)
	w.recycleLocked(buf, nil)
	if err != nil {
		w.failLocked(err) //nolint:errcheck // the session closes with err as its cause
		w.mu.Lock()
	}
	return false
}

// endRefsLocked ends a dispatch's references: it waits for a flusher
// writing some, copies those still queued (behind a background flush), or
// drops them if nothing more will be written, and returns the batch state
// to the pool.
func (w *writer[T]) endRefsLocked() {
	z := w.zc
	for z.inflight {
		w.waitLocked()
	}
	if len(z.refs) > 0 {
		if w.broken {
			z.dropRefs()
		} else {
			w.materializeLocked()
		}
	}
	z.region = nil
	w.zc = nil
	w.sess().e.zcs.Put(z)
}

// ptrBefore reports whether a is at a lower address than b.
func ptrBefore(a, b *byte) bool { return uintptr(unsafe.Pointer(a)) < uintptr(unsafe.Pointer(b)) }

// reserveLocked makes room for n more bytes in out with a buffer from the
// pool, rather than letting append grow it into garbage. out keeps its
// identity (callers hold it); its backing array is swapped.
func (w *writer[T]) reserveLocked(out *[]byte, n int) {
	if cap(*out)-len(*out) >= n {
		return
	}
	nb := w.sess().e.bufs.Get(len(*out) + n)
	*nb = append(*nb, *out...)
	*out, *nb = *nb, (*out)[:0]
	w.sess().e.bufs.Put(nb)
}
