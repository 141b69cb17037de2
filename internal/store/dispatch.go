package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/consumequeue"
)

// ScheduleTopic is the topic delayed messages wait in; its ConsumeQueue
// tagsCode is the delivery time.
const ScheduleTopic = "SCHEDULE_TOPIC_XXXX"

func (s *Store) kickDispatch() {
	select {
	case s.dispatchCh <- struct{}{}:
	default:
	}
}

// dispatchLoop builds ConsumeQueue units and index entries behind the
// commit log ("reput").
func (s *Store) dispatchLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second) // a safety net; the commit log kicks us
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-s.dispatchCh:
		case <-t.C:
		}
		err := s.dispatchAvailable()
		if err == nil {
			if s.stats.dispatchErr.Load() != nil && s.stats.dispatchErr.Swap(nil) != nil {
				s.logger.Info("dispatch resumed", "offset", s.reputFrom.Load())
			}
			continue
		}
		// Dispatch stays at the record it could not dispatch (a unit is
		// never skipped) and retries on the next kick or tick.
		msg := err.Error()
		s.stats.dispatchErr.Store(&msg)
		if time.Since(lastErr) > 10*time.Second {
			lastErr = time.Now()
			s.logger.Error("dispatch stalled", "offset", s.reputFrom.Load(), "err", err)
		}
	}
}

// dispatchAvailable dispatches every complete record below the commit
// log's dispatchable offset.
func (s *Store) dispatchAvailable() error {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	for {
		from := s.reputFrom.Load()
		if from >= s.cl.DispatchableOffset() {
			return nil
		}
		seg, b, ok := s.cl.ReadFrom(from)
		if !ok {
			if min := s.cl.MinOffset(); from < min {
				s.reputFrom.Store(min) // retention outran dispatch
				continue
			}
			return fmt.Errorf("store: commit log unreadable at %d", from)
		}
		progress, err := s.dispatchChunk(from, b)
		seg.Release()
		if err != nil || !progress {
			return err
		}
	}
}

// dispatchChunk dispatches the records in b (commit-log bytes from from).
// A record cut by the end of b (a slave's partial append) waits.
func (s *Store) dispatchChunk(from int64, b []byte) (progress bool, err error) {
	pos := 0
	for len(b)-pos >= message.BlankMarkerSize {
		size, magic, _ := message.PeekRecordHeader(b[pos:])
		at := from + int64(pos)
		if magic == message.MagicBlank {
			s.reputFrom.Store(s.cl.NextSegmentStart(at))
			return true, nil
		}
		if size < message.MinRecordSize || (magic != message.MagicV1 && magic != message.MagicV2) {
			return progress, fmt.Errorf("store: invalid record header at %d (size %d, magic %#x)", at, size, magic)
		}
		if int(size) > len(b)-pos {
			return progress, nil
		}
		r, err := message.DecodeRecord(b[pos : pos+int(size)])
		if err != nil {
			return progress, fmt.Errorf("store: record at %d: %w", at, err)
		}
		if r.PhysicalOffset != at {
			return progress, fmt.Errorf("store: record at %d says it is at %d", at, r.PhysicalOffset)
		}
		if err := s.dispatchRecord(&r, true); err != nil {
			return progress, err
		}
		pos += int(size)
		s.reputFrom.Store(from + int64(pos))
		progress = true
	}
	return progress, nil
}

// dispatchRecord writes the record's ConsumeQueue unit (not for PREPARED
// and ROLLBACK records) and index entries, then tells the broker.
func (s *Store) dispatchRecord(r *message.Record, notify bool) error {
	if !message.IsTransactionHalf(r.SysFlag) {
		tags := s.tagsCode(r)
		u := consumequeue.Unit{Offset: r.PhysicalOffset, Size: r.TotalSize, TagsCode: tags}
		var (
			cq    *consumequeue.ConsumeQueue
			wrote bool
			err   error
		)
		for range 2 { // a topic deleted under us is recreated once
			if cq, err = s.cqs.getOrCreate(r.Topic, r.QueueID); err != nil {
				return err
			}
			if wrote, err = cq.Put(r.QueueOffset, u); !errors.Is(err, consumequeue.ErrClosed) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("store: consume queue %s/%d: %w", r.Topic, r.QueueID, err)
		}
		if wrote && notify && s.hooks.OnMessageArrival != nil {
			s.hooks.OnMessageArrival(cq.Topic(), r.QueueID, r.QueueOffset, tags, r.StoreTimestamp, r.Properties)
		}
	}
	if s.opts.MessageIndexEnable {
		// A missing index entry only costs key lookups: never stall
		// consumers for it.
		if err := s.idx.BuildIndex(r); err != nil {
			s.stats.indexErrors.Add(1)
			if now := time.Now().UnixNano(); now-s.stats.lastIndexErrLog.Load() > int64(10*time.Second) {
				s.stats.lastIndexErrLog.Store(now)
				s.logger.Error("indexing failed; messages stay consumable but key lookups miss them", "offset", r.PhysicalOffset, "err", err)
			}
		}
	}
	s.reputTs.Store(r.StoreTimestamp)
	return nil
}

// tagsCode is the ConsumeQueue tagsCode of a record: the TAGS hash, or in
// the schedule topic the delivery time (TIMER_DELIVER_MS, else store time
// plus the delay of the DELAY level, clamped to the highest level).
func (s *Store) tagsCode(r *message.Record) int64 {
	var code int64
	if v, ok := message.PropertyValue(r.Properties, message.PropertyTags); ok {
		code = message.TagsHashCodeBytes(v)
	}
	if string(r.Topic) != ScheduleTopic {
		return code
	}
	if v, ok := message.PropertyValue(r.Properties, message.PropertyTimerDeliverMS); ok {
		if t, ok := parseInt(v); ok {
			return t
		}
	}
	if v, ok := message.PropertyValue(r.Properties, message.PropertyDelayTimeLevel); ok {
		if level, ok := parseInt(v); ok && level > 0 {
			level = min(level, int64(len(s.delayLevels)))
			return r.StoreTimestamp + s.delayLevels[level-1]
		}
	}
	return code
}

// parseInt parses a decimal int64 without allocating.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}
