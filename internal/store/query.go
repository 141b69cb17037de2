package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
)

// ErrNotFound is returned when no message is at an offset.
var ErrNotFound = errors.New("store: no message there")

// MinOffsetInQueue returns the first readable queue offset, -1 for a
// queue that does not exist (as Java).
func (s *Store) MinOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs.get(topic, queueID); cq != nil {
		return cq.MinOffset()
	}
	return -1
}

// MaxOffsetInQueue returns the next queue offset to be written (0 for a
// queue that does not exist).
func (s *Store) MaxOffsetInQueue(topic string, queueID int32) int64 {
	if cq := s.cqs.get(topic, queueID); cq != nil {
		return cq.MaxOffset()
	}
	return 0
}

// AssignedOffsetInQueue returns the next queue offset an append will get:
// MaxOffsetInQueue plus appends not yet dispatched (Java's
// getMaxOffsetInQueue with committed=false).
func (s *Store) AssignedOffsetInQueue(topic string, queueID int32) int64 {
	return max(s.cl.QueueOffset(topic, queueID), s.MaxOffsetInQueue(topic, queueID))
}

// OffsetInQueueByTime returns the first queue offset whose message was
// stored at or after ts (ms); the max offset if none was.
func (s *Store) OffsetInQueueByTime(topic string, queueID int32, ts int64) int64 {
	cq := s.cqs.get(topic, queueID)
	if cq == nil {
		return 0
	}
	return cq.OffsetByTime(ts, s.cl.StoreTimestampAt)
}

// EarliestMessageTime returns the store time of the queue's first
// readable message.
func (s *Store) EarliestMessageTime(topic string, queueID int32) (int64, error) {
	cq := s.cqs.get(topic, queueID)
	if cq == nil {
		return 0, ErrNotFound
	}
	return s.MessageStoreTimestamp(topic, queueID, cq.MinOffset())
}

// MessageStoreTimestamp returns the store time of the message at a queue
// offset.
func (s *Store) MessageStoreTimestamp(topic string, queueID int32, offset int64) (int64, error) {
	cq := s.cqs.get(topic, queueID)
	if cq == nil {
		return 0, ErrNotFound
	}
	u, ok := cq.Unit(offset)
	if !ok || u.Blank() || offset < cq.MinOffset() {
		return 0, ErrNotFound
	}
	ts, ok := s.cl.StoreTimestampAt(u.Offset)
	if !ok {
		return 0, ErrNotFound
	}
	return ts, nil
}

// SelectResult holds raw commit-log bytes with their segment; Release it
// once.
type SelectResult struct {
	Offset int64
	Bytes  []byte
	seg    *mappedfile.File
}

// Release lets the segment go.
func (r *SelectResult) Release() {
	if r.seg != nil {
		r.seg.Release()
		r.seg = nil
	}
}

// SelectOneMessageByOffset returns the raw record at a commit-log offset.
func (s *Store) SelectOneMessageByOffset(commitLogOffset int64) (*SelectResult, error) {
	seg, b, err := s.cl.ReadRecord(commitLogOffset)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if _, err := message.DecodeRecord(b); err != nil {
		seg.Release()
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return &SelectResult{Offset: commitLogOffset, Bytes: b, seg: seg}, nil
}

// LookMessageByOffset returns the decoded message at a commit-log offset.
func (s *Store) LookMessageByOffset(commitLogOffset int64) (*message.MessageExt, error) {
	r, err := s.SelectOneMessageByOffset(commitLogOffset)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	return message.DecodeMessageExt(r.Bytes)
}

// QueryResult is the answer to QueryMessage; Messages are copies.
type QueryResult struct {
	Messages                 [][]byte
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyOffset int64
}

// QueryMessage finds messages of topic whose UNIQ_KEY or one of whose
// KEYS tokens is key, stored within [begin, end] ms, at most maxNum,
// newest first. Index hits are checked against the records.
func (s *Store) QueryMessage(topic, key string, maxNum int, begin, end int64) (*QueryResult, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	offsets, lastTs, lastPhy := s.idx.Query(topic, key, maxNum*2, begin, end)
	res := &QueryResult{IndexLastUpdateTimestamp: lastTs, IndexLastUpdatePhyOffset: lastPhy}
	seen := make(map[int64]bool, len(offsets))
	for _, off := range offsets {
		if len(res.Messages) >= maxNum {
			break
		}
		if seen[off] {
			continue
		}
		seen[off] = true
		seg, b, err := s.cl.ReadRecord(off)
		if err != nil {
			continue
		}
		r, err := message.DecodeRecord(b)
		if err == nil && string(r.Topic) == topic && hasKey(r.Properties, key) {
			res.Messages = append(res.Messages, bytes.Clone(b))
		}
		seg.Release()
	}
	return res, nil
}

func hasKey(props []byte, key string) bool {
	if v, ok := message.PropertyValue(props, message.PropertyUniqClientMessageIDKeyIdx); ok && string(v) == key {
		return true
	}
	keys, _ := message.PropertyValue(props, message.PropertyKeys)
	for _, k := range bytes.Split(keys, []byte(message.KeySeparator)) {
		if string(k) == key {
			return true
		}
	}
	return false
}

// MinPhyOffset returns the commit log's first offset.
func (s *Store) MinPhyOffset() int64 { return s.cl.MinOffset() }

// MaxPhyOffset returns the end of the readable commit log.
func (s *Store) MaxPhyOffset() int64 { return s.cl.MaxOffset() }

// DeleteTopics removes the ConsumeQueues of topics (their records stay in
// the commit log until retention) and forgets their queue offsets. It
// returns how many queues it removed.
func (s *Store) DeleteTopics(topics []string) int {
	// Dispatch must not recreate a queue while its directory goes away.
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	n := 0
	for _, t := range topics {
		s.cl.RemoveTopic(t)
		for _, cq := range s.cqs.removeTopic(t) {
			if err := cq.Destroy(s.fs); err != nil {
				s.logger.Warn("removing consume queue", "topic", t, "queue", cq.QueueID(), "err", err)
			}
			n++
		}
		if validTopic(t) {
			if err := s.fs.RemoveAll(filepath.Join(s.opts.StorePathRootDir, "consumequeue", t)); err != nil {
				s.logger.Warn("removing consume queue directory", "topic", t, "err", err)
			}
		}
	}
	return n
}

// CommitLogData returns the published commit-log bytes from offset to the
// end of its segment's data (what a master ships to a slave).
func (s *Store) CommitLogData(offset int64) (*SelectResult, error) {
	seg, b, ok := s.cl.ReadFrom(offset)
	if !ok {
		return nil, ErrNotFound
	}
	return &SelectResult{Offset: offset, Bytes: b, seg: seg}, nil
}

// AppendToCommitLog appends bytes received from a master at offset (which
// must be MaxPhyOffset). Dispatch builds the ConsumeQueues and index from
// them. A slave only.
func (s *Store) AppendToCommitLog(offset int64, data []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.wrapErr(s.cl.AppendRaw(offset, data))
}

// QueueResident reports how many bytes of the commit-log range holding a
// queue's messages from fromOffset to its end are in the page cache
// (mincore), and how many there are in all.
func (s *Store) QueueResident(topic string, queueID int32, fromOffset int64) (resident, total int64, err error) {
	cq := s.cqs.get(topic, queueID)
	if cq == nil {
		return 0, 0, ErrNotFound
	}
	maxOff := cq.MaxOffset()
	fromOffset = max(fromOffset, cq.MinOffset())
	if fromOffset >= maxOff {
		return 0, 0, nil
	}
	first, ok1 := cq.Unit(fromOffset)
	last, ok2 := cq.Unit(maxOff - 1)
	if !ok1 || !ok2 || first.Blank() || last.Blank() {
		return 0, 0, ErrNotFound
	}
	lo, hi := max(first.Offset, s.cl.MinOffset()), min(last.Offset+int64(last.Size), s.cl.MaxOffset())
	vec := make([]byte, 4096)
	for pos := lo; pos < hi; {
		seg := s.cl.Segments().Acquire(pos)
		if seg == nil {
			pos = s.cl.NextSegmentStart(pos)
			continue
		}
		end := min(hi, seg.End())
		r, err := seg.Resident(pos-seg.Start(), end-pos, vec)
		seg.Release()
		if err != nil {
			return resident, total, err
		}
		resident += r
		total += end - pos
		pos = end
	}
	return resident, total, nil
}

// Topics returns the topics that have ConsumeQueues, sorted.
func (s *Store) Topics() []string {
	s.cqs.mu.RLock()
	defer s.cqs.mu.RUnlock()
	out := make([]string, 0, len(s.cqs.topics))
	for t := range s.cqs.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
