package commitlog

import (
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/message"
)

// check validates one message and returns its encoded size. It also sets
// the body CRC.
func (c *CommitLog) check(m *message.Inner) (int, error) {
	switch {
	case m.Topic == "":
		return 0, fmt.Errorf("%w: empty topic", ErrBadMessage)
	case len(m.Topic) > message.MaxTopicLengthV1 && !c.opts.AllowV2:
		return 0, fmt.Errorf("%w: topic of %d bytes (max %d)", ErrBadMessage, len(m.Topic), message.MaxTopicLengthV1)
	case len(m.Properties) > message.MaxPropertiesLength:
		return 0, fmt.Errorf("%w: %w: %d bytes (max %d)", ErrBadMessage, message.ErrPropertiesTooLong, len(m.Properties), message.MaxPropertiesLength)
	case m.QueueID < 0:
		return 0, fmt.Errorf("%w: queue id %d", ErrBadMessage, m.QueueID)
	}
	size, err := m.RecordSize()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if size > c.opts.MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes (max %d)", ErrMessageTooLarge, size, c.opts.MaxMessageSize)
	}
	m.BodyCRC = message.BodyCRC(m.Body)
	return size, nil
}

// Append adds msgs (one message, or a batch for one topic and queue with
// consecutive queue offsets) to the log. It sets each message's
// CommitLogOffset, QueueOffset, StoreTimestamp and BodyCRC. wait=false
// acknowledges under SyncFlush without waiting for the sync (the WAIT
// property).
//
// A returned error means nothing was written and w will not be called.
// Otherwise w.AppendDone is called exactly once, later, from another
// goroutine.
func (c *CommitLog) Append(msgs []*message.Inner, wait bool, w Waiter) error {
	if len(msgs) == 0 {
		return fmt.Errorf("%w: empty batch", ErrBadMessage)
	}
	total := 0
	for i, m := range msgs {
		if i > 0 && (m.Topic != msgs[0].Topic || m.QueueID != msgs[0].QueueID) {
			return fmt.Errorf("%w: a batch must hold one topic and queue", ErrBadMessage)
		}
		size, err := c.check(m)
		if err != nil {
			return err
		}
		total += size
	}
	if len(msgs) > 1 && total > c.opts.MaxMessageSize {
		return fmt.Errorf("%w: batch of %d bytes (max %d)", ErrMessageTooLarge, total, c.opts.MaxMessageSize)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	// Room in the active buffer for the records and a blank marker.
	need := total + message.BlankMarkerSize
	for !c.closed && c.broken == nil && len(c.active.data)+need > cap(c.active.data) {
		c.kickCommit()
		c.space.Wait()
	}
	if c.closed {
		return ErrClosed
	}
	if c.broken != nil {
		return fmt.Errorf("%w: %w", ErrBroken, c.broken)
	}
	b := c.active

	// Roll to the next segment when the records plus the minimum blank do
	// not fit in what is left of the current one.
	segSize := c.opts.SegmentSize
	pos := c.reserved
	rel := pos % segSize
	if rel+int64(total)+message.BlankMarkerSize > segSize {
		next := pos - rel + segSize
		if _, err := c.segs.EnsureNext(next); err != nil {
			return c.wrapSegmentErr(err)
		}
		from := len(b.data)
		b.data = b.data[:from+message.BlankMarkerSize]
		message.PutBlankMarker(b.data[from:], int(segSize-rel))
		c.addRun(b, pos, from, true)
		pos = next
	} else if rel == 0 && c.segs.Find(pos) == nil {
		// First append into an empty log (or after a reset).
		if _, err := c.segs.EnsureNext(pos); err != nil {
			return c.wrapSegmentErr(err)
		}
	}

	now := c.now()
	res := Result{Offset: pos, Count: len(msgs), StoreTimestamp: now}
	qs := c.offsets[msgs[0].Topic]
	if qs == nil {
		qs = make(map[int32]int64)
		c.offsets[msgs[0].Topic] = qs
	}
	qoff := qs[msgs[0].QueueID]
	from := len(b.data)
	for i, m := range msgs {
		m.StoreTimestamp = now
		m.CommitLogOffset = pos
		if message.IsTransactionHalf(m.SysFlag) {
			m.QueueOffset = 0
		} else {
			m.QueueOffset = qoff
			qoff++
		}
		if i == 0 {
			res.QueueOffset = m.QueueOffset
		}
		at := len(b.data)
		n, err := message.EncodeRecord(b.data[at:cap(b.data)], m)
		if err != nil { // sizes were checked; this is a bug
			b.data = b.data[:from]
			return fmt.Errorf("commitlog: encode: %w", err)
		}
		b.data = b.data[:at+n]
		pos += int64(n)
	}
	qs[msgs[0].QueueID] = qoff
	c.addRun(b, res.Offset, from, false)
	res.End = pos
	res.Size = int(pos - res.Offset)
	c.reserved = pos
	b.lastTs = now
	b.end = pos
	pd := pending{w: w, res: res, wait: wait}
	if wait && c.opts.FlushMode == SyncFlush {
		// The watchdog's clock lags by at most a tick: never early, at
		// most two ticks late.
		pd.deadline = c.watchNow.Load() + c.watchTick + int64(c.opts.SyncFlushTimeout)
	}
	b.pending = append(b.pending, pd)
	c.stats.Appends.Add(1)
	c.stats.Messages.Add(int64(len(msgs)))
	c.stats.Bytes.Add(int64(res.Size))
	c.kickCommit()
	return nil
}

// addRun records that b.data[from:] lands at commit-log offset off,
// merging with the previous run when contiguous.
func (c *CommitLog) addRun(b *wbuf, off int64, from int, fillsSegment bool) {
	to := len(b.data)
	if n := len(b.runs); n > 0 {
		last := &b.runs[n-1]
		if !last.fillsSegment && last.to == from && last.off+int64(last.to-last.from) == off {
			last.to = to
			last.fillsSegment = fillsSegment
			return
		}
	}
	b.runs = append(b.runs, run{off: off, from: from, to: to, fillsSegment: fillsSegment})
}

func (c *CommitLog) kickCommit() {
	select {
	case c.commitCh <- struct{}{}:
	default:
	}
}

// commitLoop writes buffers out. spare is the buffer it owns between
// rounds.
func (c *CommitLog) commitLoop(spare *wbuf) {
	defer c.commitWG.Done()
	for {
		stopping := false
		select {
		case <-c.commitCh:
		case <-c.stopCommit:
			stopping = true
		}
		for {
			c.mu.Lock()
			b := c.active
			if len(b.data) == 0 && len(b.pending) == 0 {
				c.mu.Unlock()
				break
			}
			c.active = spare
			c.space.Broadcast()
			c.mu.Unlock()
			c.writeOut(b)
			b.reset()
			spare = b
			if c.opts.FlushMode == SyncFlush {
				c.groupCommit()
			}
		}
		if stopping {
			return
		}
	}
}

// writeOut pwrites b's runs, publishes them and hands the waiters on.
func (c *CommitLog) writeOut(b *wbuf) {
	var err error
	now := time.Now()
	for _, r := range b.runs {
		if err = c.writeRun(b, r, now); err != nil {
			break
		}
	}
	if err != nil {
		c.breakLog(fmt.Errorf("write: %w", err))
		for i := range b.pending {
			if p := &b.pending[i]; !p.answered {
				p.w.AppendDone(p.res, fmt.Errorf("%w: %w", ErrBroken, err))
			}
		}
		return
	}
	c.committedTs.Store(b.lastTs)
	c.committed.Store(b.end)
	c.stats.Commits.Add(1)
	if c.opts.FlushMode == AsyncFlush {
		for i := range b.pending {
			b.pending[i].w.AppendDone(b.pending[i].res, nil)
		}
		if c.opts.OnPublish != nil {
			c.opts.OnPublish()
		}
		return
	}
	// b left the active buffer before this write-out, so the watchdog
	// no longer touches it: answered is stable here.
	c.gmu.Lock()
	for i := range b.pending {
		p := &b.pending[i]
		if p.wait && !p.answered {
			c.gq = append(c.gq, gwait{w: p.w, res: p.res, deadline: p.deadline})
		}
	}
	c.gmu.Unlock()
	for i := range b.pending {
		if p := &b.pending[i]; !p.wait {
			p.w.AppendDone(p.res, nil)
		}
	}
}

func (c *CommitLog) writeRun(b *wbuf, r run, now time.Time) error {
	seg := c.segs.Find(r.off)
	if seg == nil {
		return fmt.Errorf("commitlog: no segment for offset %d", r.off)
	}
	rel := r.off - seg.Start()
	if rel != seg.Wrote() {
		return fmt.Errorf("commitlog: segment %d written to %d, run starts at %d", seg.Start(), seg.Wrote(), rel)
	}
	if err := seg.WriteAt(b.data[r.from:r.to], rel); err != nil {
		return err
	}
	if r.fillsSegment {
		seg.Publish(seg.Size() - rel)
	} else {
		seg.Publish(int64(r.to - r.from))
	}
	seg.Touch(now)
	return nil
}

func (c *CommitLog) breakLog(err error) {
	c.mu.Lock()
	c.breakLocked(err)
	c.mu.Unlock()
}

// breakLocked makes the log refuse writes until restart (the first
// error is kept and logged) and wakes appenders waiting for buffer
// space. c.mu must be held.
func (c *CommitLog) breakLocked(err error) {
	if c.broken == nil {
		c.broken = err
		c.logger.Error("commit log refuses writes until restart", "err", err)
	}
	c.space.Broadcast()
}
