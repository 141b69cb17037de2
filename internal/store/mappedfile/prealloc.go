package mappedfile

import (
	"log/slog"
	"sync"
)

// preallocator prepares the next segment of a queue in the background so
// that a roll does not wait for fallocate and warming.
type preallocator struct {
	q      *Queue
	logger *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	want     int64 // offset to prepare, -1 for none
	busy     bool  // preparing inflight
	inflight int64
	ready    *File
	lastErr  error
	stopped  bool
	done     chan struct{}
}

// StartPreallocator starts preparing segments ahead of the writer. The
// queue's first segment must exist (or be created with Create first).
func (q *Queue) StartPreallocator() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.prep != nil {
		return
	}
	p := &preallocator{q: q, logger: q.logger, want: -1, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	q.prep = p
	if last := q.Last(); last != nil {
		p.want = last.End()
	}
	go p.run()
}

func (p *preallocator) run() {
	defer close(p.done)
	p.mu.Lock()
	for {
		for !p.stopped && (p.want < 0 || p.ready != nil && p.ready.start == p.want || p.lastErr != nil) {
			p.cond.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		off := p.want
		p.busy, p.inflight = true, off
		p.mu.Unlock()
		f, err := Create(p.q.fs, p.q.dir, off, p.q.fileSize, p.q.opts, p.logger)
		p.mu.Lock()
		p.busy = false
		switch {
		case err != nil:
			p.lastErr = err
			p.logger.Warn("preparing next segment failed", "dir", p.q.dir, "offset", off, "err", err)
		case p.stopped || p.want != off:
			f.Destroy()
		default:
			if p.ready != nil {
				p.ready.Destroy()
			}
			p.ready = f
		}
		p.cond.Broadcast()
	}
}

// take returns the prepared segment for offset, waiting for one in
// progress, or creates it inline when none is (or preparing failed: the
// inline attempt reports the current error, e.g. a full disk).
func (p *preallocator) take(offset int64) (*File, error) {
	p.mu.Lock()
	// Two Files must never share a path: wait for a background creation
	// of this offset, and keep the background off it while we create it.
	for p.busy && p.inflight == offset {
		p.cond.Wait()
	}
	if f := p.ready; f != nil && f.start == offset {
		p.ready = nil
		p.mu.Unlock()
		return f, nil
	}
	if p.want == offset {
		p.want = -1
	}
	p.lastErr = nil // a new attempt; the background retries after the next request
	p.mu.Unlock()
	return Create(p.q.fs, p.q.dir, offset, p.q.fileSize, p.q.opts, p.logger)
}

// request asks for the segment at offset to be prepared.
func (p *preallocator) request(offset int64) {
	p.mu.Lock()
	p.want = offset
	p.lastErr = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}

// discard drops any prepared segment (after a truncation).
func (p *preallocator) discard() {
	p.mu.Lock()
	for p.busy {
		p.cond.Wait()
	}
	if p.ready != nil {
		p.ready.Destroy()
		p.ready = nil
	}
	p.want = -1
	p.lastErr = nil
	p.mu.Unlock()
}

func (p *preallocator) stop() {
	p.mu.Lock()
	p.stopped = true
	p.cond.Broadcast()
	p.mu.Unlock()
	<-p.done
	p.mu.Lock()
	if p.ready != nil {
		p.ready.Destroy()
		p.ready = nil
	}
	p.mu.Unlock()
}
