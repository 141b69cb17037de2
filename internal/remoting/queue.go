package remoting

import (
	"context"
	"sync"
	"time"
)

// outFrame is one encoded frame waiting for the writer: the frame head and
// header (plus the body when it was small enough to copy) in buf, larger
// bodies by reference in parts.
type outFrame struct {
	buf     []byte
	parts   [][]byte
	release func()
}

// copyBodyMax is the largest body copied next to its header: one iovec per
// small frame instead of two.
const copyBodyMax = 2048

// maxPooledBuf keeps an occasional huge header from pinning memory in the
// pool.
const maxPooledBuf = 64 << 10

var framePool = sync.Pool{New: func() any { return &outFrame{buf: make([]byte, 0, 512)} }}

func getFrame() *outFrame { return framePool.Get().(*outFrame) }

// finish releases the frame's body and returns it to the pool.
func (f *outFrame) finish() {
	if r := f.release; r != nil {
		f.release = nil
		r()
	}
	clear(f.parts)
	f.parts = f.parts[:0]
	if cap(f.buf) > maxPooledBuf {
		f.buf = make([]byte, 0, 512)
	}
	f.buf = f.buf[:0]
	framePool.Put(f)
}

// size returns the length of the whole frame: its head and every part.
func (f *outFrame) size() int {
	n := len(f.buf)
	for _, p := range f.parts {
		n += len(p)
	}
	return n
}

// appendIov appends the pieces of f to iov, leaving out its first skip
// bytes.
func appendIov(iov [][]byte, f *outFrame, skip int) [][]byte {
	if skip < len(f.buf) {
		iov = append(iov, f.buf[skip:])
		skip = 0
	} else {
		skip -= len(f.buf)
	}
	for _, p := range f.parts {
		if skip >= len(p) {
			skip -= len(p)
			continue
		}
		iov = append(iov, p[skip:])
		skip = 0
	}
	return iov
}

// sendQueue hands frames from any goroutine to a connection's writer. It is
// bounded: push waits for room. Every frame pushed is finished exactly
// once, by the writer after writing it, by close, or by push itself after
// a direct write.
//
// A direct write is the pusher writing its frame itself, without waking the
// writer goroutine: allowed when nobody is writing and nothing is queued,
// and it never blocks (directWriter). What the socket does not take at once
// goes to the front of the queue for the writer, with skip saying how much
// of that frame is already out. While the writer goroutine writes, pushes
// queue up behind it and leave in its next writev.
type sendQueue struct {
	mu       sync.Mutex
	frames   []*outFrame
	skip     int  // bytes of frames[0] a direct write already sent
	writer   bool // the writer goroutine has the socket (from take to take)
	direct   bool // a direct write has the socket
	max      int
	closed   bool
	draining bool
	room     chan struct{} // closed when the writer takes frames or the queue closes
	wake     chan struct{} // wakes the writer
}

// directWriter writes what the socket takes of f at once, skipping nothing,
// without blocking, and returns how many bytes that was.
type directWriter func(f *outFrame) int

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, wake: make(chan struct{}, 1)}
}

// push queues f, waiting while the queue is full, or, with direct set and
// the socket idle, writes it itself (see sendQueue). It fails, finishing f,
// when the queue closes, ctx is done (ctx may be nil) or deadline passes
// (zero for none) first.
func (q *sendQueue) push(ctx context.Context, deadline time.Time, f *outFrame, direct directWriter) error {
	q.mu.Lock()
	if !q.closed && len(q.frames) >= q.max {
		if err := q.waitRoomLocked(ctx, deadline); err != nil {
			q.mu.Unlock()
			f.finish()
			return err
		}
	}
	if q.closed {
		q.mu.Unlock()
		f.finish()
		return ErrConnClosed
	}
	if direct != nil && !q.writer && !q.direct && len(q.frames) == 0 {
		return q.writeDirectLocked(f, direct)
	}
	q.frames = append(q.frames, f)
	if len(q.frames) == 1 {
		q.signal()
	}
	q.mu.Unlock()
	return nil
}

// writeDirectLocked writes f on the pusher's goroutine. The caller holds
// mu, which is released.
func (q *sendQueue) writeDirectLocked(f *outFrame, direct directWriter) error {
	q.direct = true
	q.mu.Unlock()
	n := direct(f)
	q.mu.Lock()
	q.direct = false
	all := n == f.size()
	if !all {
		if q.closed {
			q.mu.Unlock()
			f.finish()
			return ErrConnClosed
		}
		q.frames = append(q.frames, nil)
		copy(q.frames[1:], q.frames)
		q.frames[0] = f
		q.skip = n
	}
	if len(q.frames) > 0 || q.draining {
		q.signal() // what queued up meanwhile, the rest of f, or the end
	}
	q.mu.Unlock()
	if all {
		f.finish()
	}
	return nil
}

// waitRoomLocked waits until the queue has room or is closed. The caller
// holds mu, which is held again on return, also on error.
func (q *sendQueue) waitRoomLocked(ctx context.Context, deadline time.Time) error {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	for !q.closed && len(q.frames) >= q.max {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-done:
			q.mu.Lock()
			return ctx.Err()
		case <-expired:
			q.mu.Lock()
			return context.DeadlineExceeded
		}
		q.mu.Lock()
	}
	return nil
}

func (q *sendQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take moves every queued frame to dst, waiting until there is one and no
// direct write is under way; skip is how much of the first is already
// written. The writer has the socket from then until it calls take again.
// take returns false when the queue is closed, or draining and empty.
func (q *sendQueue) take(dst []*outFrame) (frames []*outFrame, skip int, ok bool) {
	q.mu.Lock()
	q.writer = false
	for {
		if q.closed {
			q.mu.Unlock()
			return dst, 0, false
		}
		if len(q.frames) > 0 && !q.direct {
			dst = append(dst, q.frames...)
			clear(q.frames)
			q.frames = q.frames[:0]
			skip, q.skip = q.skip, 0
			q.writer = true
			if q.room != nil {
				close(q.room)
				q.room = nil
			}
			q.mu.Unlock()
			return dst, skip, true
		}
		if q.draining && len(q.frames) == 0 && !q.direct {
			q.mu.Unlock()
			return dst, 0, false
		}
		q.mu.Unlock()
		<-q.wake
		q.mu.Lock()
	}
}

// drain makes the writer exit once the queue is empty.
func (q *sendQueue) drain() {
	q.mu.Lock()
	q.draining = true
	q.signal()
	q.mu.Unlock()
}

// close fails pending and future pushes and finishes queued frames.
func (q *sendQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	frames := q.frames
	q.frames = nil
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.signal()
	q.mu.Unlock()
	for _, f := range frames {
		f.finish()
	}
}
