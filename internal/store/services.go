package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/store/consumequeue"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
)

// flushLogicsLoop flushes ConsumeQueues and IndexFiles and writes the
// checkpoint every flushIntervalConsumeQueue.
func (s *Store) flushLogicsLoop() {
	defer s.wg.Done()
	t := time.NewTicker(ms(s.opts.FlushIntervalConsumeQueue))
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-s.stop:
			return // Close does the final flush
		case <-t.C:
		}
		if err := s.flushLogics(false); err != nil && time.Since(lastErr) > 10*time.Second {
			lastErr = time.Now()
			s.logger.Error("flushing consume queues, index or checkpoint failed", "err", err)
		}
	}
}

// flushLogics flushes the logical files (all dirty ones when thorough,
// else those with at least flushConsumeQueueLeastPages dirty pages) and,
// when nothing dirty was left behind, moves the checkpoint's safe point
// to what dispatch had reached before the flush.
//
// Once a sync of a logical file has failed, the safe point never moves
// again until restart: a failed fdatasync may have dropped dirty pages
// while marking them clean, so a later sync that succeeds proves nothing
// about them. Recovery then re-dispatches everything past the old safe
// point from the commit log, which rewrites whatever the disk lost.
func (s *Store) flushLogics(final bool) error {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	dispatched, dispatchedTs := s.reputFrom.Load(), s.reputTs.Load()
	flushed := s.cl.FlushedOffset()
	thorough := final || time.Since(s.stats.lastThorough) >= ms(s.opts.FlushConsumeQueueThoroughInterval)
	if thorough {
		s.stats.lastThorough = time.Now()
	}
	leastUnits := int64(s.opts.FlushConsumeQueueLeastPages) * mappedfile.PageSize / consumequeue.UnitSize
	allFlushed := true
	var errs []error
	for _, cq := range s.cqs.all() {
		d := cq.Dirty()
		if d == 0 {
			continue
		}
		if !thorough && d < leastUnits {
			allFlushed = false
			continue
		}
		if err := cq.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", cq.Topic(), cq.QueueID(), err))
		}
	}
	if err := s.idx.Flush(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		if !s.stats.logicsSyncFailed {
			s.stats.logicsSyncFailed = true
			s.logger.Error("a consume queue or index sync failed: the recovery safe point stays at its last value until restart",
				"safePoint", s.stats.checkpoint.LogicsSafeOffset)
		}
		return errors.Join(errs...)
	}
	cp := s.stats.checkpoint
	cp.Extended = true
	cp.PhysicMsgTimestamp = s.cl.FlushedTimestamp()
	cp.CommitLogFlushedOffset = flushed
	if allFlushed && !s.stats.logicsSyncFailed {
		cp.LogicsSafeOffset = min(dispatched, flushed)
		cp.LogicsMsgTimestamp = dispatchedTs
		cp.IndexMsgTimestamp = dispatchedTs
	}
	if cp == s.stats.checkpoint {
		return nil
	}
	if err := s.cpFile.Write(cp); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	s.stats.checkpoint = cp
	return nil
}

// cleanLoop checks the disk and deletes expired files every
// cleanResourceInterval (or when CleanNow asks).
func (s *Store) cleanLoop() {
	defer s.wg.Done()
	t := time.NewTicker(ms(s.opts.CleanResourceInterval))
	defer t.Stop()
	for {
		manual := false
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.cleanCh:
			manual = true
		}
		s.checkDisk()
		s.deleteExpired(manual)
	}
}

// CleanNow asks the cleanup service to check the disk and delete expired
// files now, whatever the hour (Java's executeDeleteFilesManually).
func (s *Store) CleanNow() {
	select {
	case s.cleanCh <- struct{}{}:
	default:
	}
}

// checkDisk measures disk use and refuses appends above
// diskSpaceWarningLevelRatio.
func (s *Store) checkDisk() {
	ratio := 0.0
	for _, dir := range []string{s.opts.commitLogDir(), s.opts.StorePathRootDir} {
		u, err := s.fs.DiskUsage(dir)
		if err != nil {
			s.logger.Warn("cannot measure disk use", "dir", dir, "err", err)
			continue
		}
		ratio = max(ratio, u.UsedRatio())
	}
	s.diskRatio.Store(int64(ratio * 1000))
	full := ratio*100 >= float64(s.opts.DiskSpaceWarningLevelRatio)
	if was := s.diskFull.Swap(full); was != full {
		if full {
			s.logger.Error("disk full: refusing appends", "usedRatio", ratio, "limit", s.opts.DiskSpaceWarningLevelRatio)
		} else {
			s.logger.Info("disk space back: accepting appends", "usedRatio", ratio)
		}
	}
}

// deleteExpired deletes expired commit-log segments at the deleteWhen
// hours, when disk use passes diskMaxUsedSpaceRatio, or on request; past
// diskSpaceCleanForciblyRatio it deletes regardless of age. ConsumeQueue
// segments and IndexFiles that point only below the new minimum follow.
func (s *Store) deleteExpired(manual bool) {
	ratio := float64(s.diskRatio.Load()) / 10
	now := s.now()
	timeUp := s.deleteHours[now.Hour()]
	spaceUp := ratio >= float64(s.opts.DiskMaxUsedSpaceRatio)
	force := s.opts.CleanFileForciblyEnable && ratio >= float64(s.opts.DiskSpaceCleanForciblyRatio)
	if timeUp || spaceUp || manual {
		expiredBefore := now.Add(-time.Duration(s.opts.FileReservedTime) * time.Hour)
		if n := s.cl.DeleteExpired(expiredBefore, force, 10, s.reputFrom.Load()); n > 0 {
			s.logger.Info("deleted commit log segments", "count", n, "minOffset", s.cl.MinOffset(), "forced", force, "diskUsedPercent", ratio)
		}
	}
	minPhy := s.cl.MinOffset()
	if minPhy == s.stats.lastCleanMinPhy.Load() {
		return
	}
	for _, cq := range s.cqs.all() {
		cq.DeleteExpired(minPhy)
	}
	s.idx.DeleteExpired(minPhy)
	s.stats.lastCleanMinPhy.Store(minPhy)
}
