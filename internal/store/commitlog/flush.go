package commitlog

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/gorocket/gorocket/internal/store/mappedfile"
)

// flushTo makes the log durable up to at least target.
func (c *CommitLog) flushTo(target int64) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	from := c.flushed.Load()
	if target <= from {
		return nil
	}
	ts := c.committedTs.Load()
	start := time.Now()
	for _, seg := range c.segs.Files() {
		if seg.End() <= from || seg.Start() >= target {
			continue
		}
		// A segment closed since the snapshot was deleted by retention
		// (which can outrun the flush under ASYNC_FLUSH): nothing of it
		// needs to reach the disk any more.
		if _, err := seg.Flush(); err != nil && !errors.Is(err, mappedfile.ErrClosed) {
			return err
		}
	}
	c.flushed.Store(target)
	c.flushedTs.Store(ts)
	c.stats.Flushes.Add(1)
	c.stats.FlushNanos.Add(int64(time.Since(start)))
	return nil
}

// asyncFlushLoop flushes every FlushInterval when at least FlushLeastPages
// pages are dirty, and everything every FlushThoroughInterval.
func (c *CommitLog) asyncFlushLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.FlushInterval)
	defer t.Stop()
	lastThorough := time.Now()
	least := int64(c.opts.FlushLeastPages) * mappedfile.PageSize
	for {
		select {
		case <-c.stop:
			return // Close flushes
		case <-t.C:
		}
		target := c.committed.Load()
		dirty := target - c.flushed.Load()
		thorough := time.Since(lastThorough) >= c.opts.FlushThoroughInterval
		if dirty <= 0 || (dirty < least && !thorough) {
			continue
		}
		if thorough {
			lastThorough = time.Now()
		}
		if err := c.flushTo(target); err != nil {
			c.breakLog(fmt.Errorf("flush: %w", err))
			return
		}
		if c.opts.OnPublish != nil {
			c.opts.OnPublish()
		}
	}
}

// groupCommit is the SyncFlush flush, run by the committer after each
// write-out: one fdatasync covers everything written so far and
// completes every waiter at or below it. Appends that arrive meanwhile
// form the next group.
func (c *CommitLog) groupCommit() {
	if err := c.flushTo(c.committed.Load()); err != nil {
		c.breakLog(fmt.Errorf("flush: %w", err))
		c.failGroupWaiters(fmt.Errorf("%w: %w", ErrBroken, err))
		return
	}
	c.mu.Lock()
	before := len(c.active.pending)
	c.mu.Unlock()
	completed := c.completeFlushed()
	if c.opts.OnPublish != nil {
		c.opts.OnPublish()
	}
	c.linger(before + completed)
}

// linger gives the appenders just acknowledged a moment to append again
// before the next write-out, so that one sync covers them too. Without
// it, synchronous writers split into two groups that take turns, each
// sync covering only half of them. It waits until target appends are
// pending (those pending before the completion plus the appenders it
// woke), at most GroupCommitLinger.
func (c *CommitLog) linger(target int) {
	completed := target
	lingerMax := c.opts.GroupCommitLinger
	if lingerMax == 0 {
		lingerMax = 50 * time.Microsecond
	}
	if completed < 2 || lingerMax < 0 {
		return
	}
	deadline := time.Now().Add(lingerMax)
	for {
		c.mu.Lock()
		n := len(c.active.pending)
		closed := c.closed
		c.mu.Unlock()
		if closed || n >= completed || time.Now().After(deadline) {
			return
		}
		runtime.Gosched()
	}
}

// flushWatchdog completes SyncFlush waiters whose sync did not finish
// within SyncFlushTimeout of their append with ErrFlushTimeout, even
// while the committer is stuck in fdatasync: both those written out and
// waiting for a sync, and those still in the active buffer, which the
// stuck committer cannot write out. The records stay appended; they
// reach the disk when it comes back (the answer says "stored, not
// known durable", as Java's FLUSH_DISK_TIMEOUT does).
func (c *CommitLog) flushWatchdog() {
	defer c.wg.Done()
	t := time.NewTicker(time.Duration(c.watchTick))
	defer t.Stop()
	var late []gwait
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		now := c.monotonic()
		c.watchNow.Store(now)
		c.gmu.Lock()
		n := 0
		for n < len(c.gq) && c.gq[n].deadline <= now {
			n++
		}
		late = append(late[:0], c.gq[:n]...)
		rest := copy(c.gq, c.gq[n:])
		clear(c.gq[rest:])
		c.gq = c.gq[:rest]
		c.gmu.Unlock()
		late = c.lateInActive(now, late)
		for i := range late {
			c.stats.FlushTimeout.Add(1)
			late[i].w.AppendDone(late[i].res, ErrFlushTimeout)
		}
		clear(late)
	}
}

// lateInActive marks the waiters of the active buffer whose deadline has
// passed as answered and appends them to late. Deadlines grow with the
// buffer's order, so the scan stops at the first one still running.
func (c *CommitLog) lateInActive(now int64, late []gwait) []gwait {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.active
	for ; b.watched < len(b.pending); b.watched++ {
		p := &b.pending[b.watched]
		if !p.wait {
			continue
		}
		if p.deadline > now {
			break
		}
		p.answered = true
		late = append(late, gwait{w: p.w, res: p.res})
	}
	return late
}

// completeFlushed completes the SyncFlush waiters at or below the flushed
// offset.
func (c *CommitLog) completeFlushed() int {
	flushed := c.flushed.Load()
	c.gmu.Lock()
	n := 0
	for n < len(c.gq) && c.gq[n].res.End <= flushed {
		n++
	}
	c.done = append(c.done[:0], c.gq[:n]...)
	rest := copy(c.gq, c.gq[n:])
	clear(c.gq[rest:])
	c.gq = c.gq[:rest]
	done := c.done
	c.gmu.Unlock()
	// Only one goroutine completes at a time (the flusher, or Close after
	// it stopped), so c.done is not shared.
	for i := range done {
		done[i].w.AppendDone(done[i].res, nil)
	}
	clear(done)
	return n
}

func (c *CommitLog) failGroupWaiters(err error) {
	c.gmu.Lock()
	q := c.gq
	c.gq = nil
	c.gmu.Unlock()
	for i := range q {
		q[i].w.AppendDone(q[i].res, err)
	}
}
