package store

import (
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/checkpoint"
	"github.com/gorocket/gorocket/internal/store/commitlog"
)

// recover brings the commit log, the ConsumeQueues and the index to a
// consistent state (see the package documentation, Recovery).
func (s *Store) recover(cp checkpoint.Checkpoint, abnormal bool) error {
	t0 := time.Now()
	segs := s.cl.Segments()
	segSize := s.opts.MappedFileSizeCommitLog
	minOff := segs.MinOffset()
	maxEnd := minOff
	if last := segs.Last(); last != nil {
		maxEnd = last.End()
	}
	safe := minOff
	if cp.Extended {
		safe = min(max(cp.LogicsSafeOffset, minOff), maxEnd)
	} else if segs.Last() != nil {
		// No checkpoint of ours (a new store, a Java store, or a torn
		// checkpoint): validate and dispatch everything.
		abnormal = true
	}
	scanFrom := safe
	if abnormal {
		scanFrom = max(safe-safe%segSize, minOff)
		if s.opts.MessageIndexEnable {
			// Entries past the safe point may not have reached the disk.
			s.idx.Truncate(safe)
		}
	}
	res, err := s.cl.Recover(commitlog.RecoverOptions{
		ScanFrom:     scanFrom,
		DispatchFrom: safe,
		CheckCRC:     s.opts.CheckCRCOnRecover,
		Truncate:     true,
		ZeroTail:     abnormal,
		Dispatch:     func(r *message.Record) error { return s.dispatchRecord(r, false) },
	})
	if err != nil {
		return fmt.Errorf("store: recover commit log: %w", err)
	}
	if res.Cut {
		s.logger.Warn("commit log cut at the first invalid record",
			"offset", res.End, "reason", res.CutReason, "bytesCut", res.CutBytes, "segmentsRemoved", res.CutSegments)
	}
	end := res.End
	minPhy := s.cl.MinOffset()
	for _, cq := range s.cqs.all() {
		if err := cq.TruncateAfterPhy(end); err != nil {
			return fmt.Errorf("store: truncate consume queue %s/%d: %w", cq.Topic(), cq.QueueID(), err)
		}
		cq.CorrectMinOffset(minPhy)
		s.cl.SetQueueOffset(cq.Topic(), cq.QueueID(), cq.MaxOffset())
	}
	s.idx.Truncate(end)
	s.reputFrom.Store(end)
	s.logger.Info("store recovered",
		"abnormal", abnormal, "scanFrom", scanFrom, "safePoint", safe, "end", end,
		"recordsScanned", res.Records, "recordsDispatched", res.Dispatched,
		"consumeQueues", len(s.cqs.all()), "took", time.Since(t0))
	return nil
}
