package commitlog

import (
	"fmt"
	"time"
)

// AppendRaw writes bytes received from a master at offset, which must be
// the end of this log. The bytes may end inside a record (dispatch waits
// for the rest) but must not cross a segment end: a master ships a
// segment's tail (blank marker included) up to the segment end. Only a
// slave calls it, never concurrently with Append.
func (c *CommitLog) AppendRaw(offset int64, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.broken != nil {
		return fmt.Errorf("%w: %w", ErrBroken, c.broken)
	}
	if c.reserved != c.committed.Load() {
		return fmt.Errorf("%w: local appends in flight", ErrOffsetMismatch)
	}
	if offset != c.reserved {
		// An empty log takes the master's position (a new slave).
		if c.segs.Last() != nil || offset%c.opts.SegmentSize != 0 {
			return fmt.Errorf("%w: got %d, log ends at %d", ErrOffsetMismatch, offset, c.reserved)
		}
		c.reserved = offset
		c.committed.Store(offset)
		c.flushed.Store(offset)
	}
	if len(data) == 0 {
		return nil
	}
	rel := offset % c.opts.SegmentSize
	if rel+int64(len(data)) > c.opts.SegmentSize {
		return fmt.Errorf("%w: %d bytes at %d cross the segment end", ErrOffsetMismatch, len(data), offset)
	}
	seg, err := c.segs.EnsureNext(offset - rel)
	if err != nil {
		return c.wrapSegmentErr(err)
	}
	if err := seg.WriteAt(data, rel); err != nil {
		c.breakLocked(fmt.Errorf("replica write at %d: %w", offset, err))
		return fmt.Errorf("%w: %w", ErrBroken, err)
	}
	seg.Publish(int64(len(data)))
	seg.Touch(time.Now())
	end := offset + int64(len(data))
	c.reserved = end
	c.committed.Store(end)
	c.stats.Bytes.Add(int64(len(data)))
	if c.opts.FlushMode == SyncFlush {
		if err := c.flushTo(end); err != nil {
			c.breakLocked(fmt.Errorf("replica flush to %d: %w", end, err))
			return fmt.Errorf("%w: %w", ErrBroken, err)
		}
	}
	if c.opts.OnPublish != nil {
		c.opts.OnPublish()
	}
	return nil
}
