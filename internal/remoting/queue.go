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

// sendQueue hands frames from any goroutine to a connection's writer. It is
// bounded: push waits for room. Every frame pushed is finished exactly
// once, by the writer after writing it or by close.
type sendQueue struct {
	mu       sync.Mutex
	frames   []*outFrame
	max      int
	closed   bool
	draining bool
	room     chan struct{} // closed when the writer takes frames or the queue closes
	wake     chan struct{} // wakes the writer
}

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, wake: make(chan struct{}, 1)}
}

// push queues f, waiting while the queue is full. It fails, finishing f,
// when the queue closes, ctx is done (ctx may be nil) or deadline passes
// (zero for none) first.
func (q *sendQueue) push(ctx context.Context, deadline time.Time, f *outFrame) error {
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
	q.frames = append(q.frames, f)
	if len(q.frames) == 1 {
		q.signal()
	}
	q.mu.Unlock()
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

// take moves every queued frame to dst, waiting until there is one. It
// returns false when the queue is closed, or draining and empty.
func (q *sendQueue) take(dst []*outFrame) ([]*outFrame, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return dst, false
		}
		if len(q.frames) > 0 {
			dst = append(dst, q.frames...)
			clear(q.frames)
			q.frames = q.frames[:0]
			if q.room != nil {
				close(q.room)
				q.room = nil
			}
			q.mu.Unlock()
			return dst, true
		}
		if q.draining {
			q.mu.Unlock()
			return dst, false
		}
		q.mu.Unlock()
		<-q.wake
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
