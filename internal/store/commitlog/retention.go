package commitlog

import "time"

// DeleteExpired removes up to maxFiles of the oldest segments whose last
// write is before expiredBefore (all of them, whatever their age, when
// force is set), never the segment being written nor one at or past
// keepFrom (the dispatch position: units must exist before their records
// go). It returns how many it removed.
func (c *CommitLog) DeleteExpired(expiredBefore time.Time, force bool, maxFiles int, keepFrom int64) int {
	files := c.segs.Files()
	n := 0
	for n < len(files)-1 && n < maxFiles {
		f := files[n]
		if f.End() > keepFrom {
			break
		}
		if !force && !f.LastWrite().Before(expiredBefore) {
			break
		}
		n++
	}
	if n == 0 {
		return 0
	}
	removed := c.segs.RemoveFirst(n)
	for _, f := range removed {
		c.logger.Info("deleted expired commit log segment", "path", f.Path(), "lastWrite", f.LastWrite(), "forced", force)
	}
	return len(removed)
}
