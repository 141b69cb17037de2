package store

import (
	"context"
	"math"
	"sync"

	"github.com/gorocket/gorocket/internal/store/consumequeue"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
)

// GetStatus is Java's GetMessageStatus (protocol.md §7).
type GetStatus int

// Get statuses.
const (
	GetFound               GetStatus = iota
	GetNoMatchedMessage              // everything examined was filtered out
	GetMessageWasRemoving            // the records were just deleted
	GetOffsetFoundNull               // the ConsumeQueue segment is gone
	GetOffsetOverflowBadly           // offset > max
	GetOffsetOverflowOne             // offset == max: nothing new yet
	GetOffsetTooSmall                // offset < min: deleted
	GetNoMatchedLogicQueue           // no such queue
	GetNoMessageInQueue              // the queue is empty
)

func (g GetStatus) String() string {
	return [...]string{"FOUND", "NO_MATCHED_MESSAGE", "MESSAGE_WAS_REMOVING", "OFFSET_FOUND_NULL",
		"OFFSET_OVERFLOW_BADLY", "OFFSET_OVERFLOW_ONE", "OFFSET_TOO_SMALL", "NO_MATCHED_LOGIC_QUEUE",
		"NO_MESSAGE_IN_QUEUE"}[g]
}

// MessageFilter selects messages for a pull; the broker implements it.
type MessageFilter interface {
	// MatchByConsumeQueue is asked first, with the unit's tagsCode.
	MatchByConsumeQueue(tagsCode int64) bool
	// MatchByCommitLog is asked for units that passed, with the whole
	// stored record (message.DecodeRecord gives its properties).
	MatchByCommitLog(record []byte) bool
}

// GetResult is the answer to GetMessage. Messages are sub-slices of the
// mapped commit log: they stay valid until Release, which must be called
// exactly once (after the bytes were written to the socket); the result
// must not be used after it.
type GetResult struct {
	Status          GetStatus
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// Messages are the stored records, in queue order.
	Messages [][]byte
	// QueueOffsets are the queue offsets of Messages.
	QueueOffsets []int64
	// BufferTotalSize is the sum of len(Messages[i]).
	BufferTotalSize int
	// SuggestPullingFromSlave is set when the unread distance exceeds
	// accessMessageInMemoryMaxRatio percent of RAM.
	SuggestPullingFromSlave bool

	segs []*mappedfile.File
	live bool // between GetMessage and Release
}

var getResultPool = sync.Pool{New: func() any {
	return &GetResult{Messages: make([][]byte, 0, 32), QueueOffsets: make([]int64, 0, 32), segs: make([]*mappedfile.File, 0, 4)}
}}

// Release returns the record slices' segments and recycles the result. A
// second Release of the same result is a no-op (until the pool hands the
// object out again, so do not keep results after releasing them).
func (r *GetResult) Release() {
	if r == nil || !r.live {
		return
	}
	for i, f := range r.segs {
		f.Release()
		r.segs[i] = nil
	}
	clear(r.Messages)
	*r = GetResult{Messages: r.Messages[:0], QueueOffsets: r.QueueOffsets[:0], segs: r.segs[:0]}
	getResultPool.Put(r)
}

func (r *GetResult) hold(f *mappedfile.File) {
	if n := len(r.segs); n > 0 && r.segs[n-1] == f {
		f.Release() // one reference per segment is enough
		return
	}
	r.segs = append(r.segs, f)
}

// maxFilterUnits is how many units one GetMessage examines at most
// (Java: max(16000 bytes of units, maxMsgNums units)).
const maxFilterUnits = 16000 / consumequeue.UnitSize

// GetMessage reads up to maxMsgNums messages (and about maxBytes; 0 for
// no limit beyond the transfer limits) of topic/queueID from offset,
// keeping those filter accepts (nil: all). group is the consumer group,
// for accounting. The result must be Released.
func (s *Store) GetMessage(ctx context.Context, group, topic string, queueID int32, offset int64, maxMsgNums, maxBytes int, filter MessageFilter) (*GetResult, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	res := getResultPool.Get().(*GetResult)
	res.live = true
	maxOffsetPy := s.cl.MaxOffset()
	cq := s.cqs.get(topic, queueID)
	if cq == nil {
		res.Status = GetNoMatchedLogicQueue
		res.NextBeginOffset = s.correctOffset(offset, 0)
		s.stats.getMiss.Add(1)
		return res, nil
	}
	minOff, maxOff := cq.MinOffset(), cq.MaxOffset()
	res.MinOffset, res.MaxOffset = minOff, maxOff
	switch {
	case maxOff == 0:
		res.Status = GetNoMessageInQueue
		res.NextBeginOffset = s.correctOffset(offset, 0)
	case offset < minOff:
		res.Status = GetOffsetTooSmall
		res.NextBeginOffset = s.correctOffset(offset, minOff)
	case offset == maxOff:
		res.Status = GetOffsetOverflowOne
		res.NextBeginOffset = offset
	case offset > maxOff:
		res.Status = GetOffsetOverflowBadly
		if minOff == 0 {
			res.NextBeginOffset = s.correctOffset(offset, minOff)
		} else {
			res.NextBeginOffset = s.correctOffset(offset, maxOff)
		}
	default:
		s.readQueue(res, cq, offset, maxMsgNums, maxBytes, filter, maxOffsetPy)
	}
	if res.Status == GetFound {
		s.stats.getFound.Add(1)
		s.stats.getTransferred.Add(int64(len(res.Messages)))
	} else {
		s.stats.getMiss.Add(1)
	}
	return res, nil
}

func (s *Store) readQueue(res *GetResult, cq *consumequeue.ConsumeQueue, offset int64, maxMsgNums, maxBytes int, filter MessageFilter, maxOffsetPy int64) {
	memory := s.totalMemory * int64(s.opts.AccessMessageInMemoryMaxRatio) / 100
	if maxBytes <= 0 {
		maxBytes = math.MaxInt
	}
	res.Status = GetNoMatchedMessage
	maxUnits := max(int64(maxFilterUnits), int64(maxMsgNums))
	nextPhyFileStart := int64(math.MinInt64)
	var maxPhyPulling int64
	next := offset
	examined := int64(0)
outer:
	for examined < maxUnits {
		f, units, ok := cq.Units(next, int(maxUnits-examined))
		if !ok {
			if examined == 0 {
				// The segment was deleted after the min check: go on
				// at the next segment, as Java's rollNextFile.
				units := s.opts.unitsPerConsumeQueueFile()
				res.Status = GetOffsetFoundNull
				res.NextBeginOffset = s.correctOffset(offset, offset-offset%units+units)
				return
			}
			break
		}
		for len(units) > 0 {
			u := consumequeue.DecodeUnit(units)
			if u.Blank() {
				units, next, examined = units[consumequeue.UnitSize:], next+1, examined+1
				continue
			}
			maxPhyPulling = u.Offset
			if nextPhyFileStart != math.MinInt64 && u.Offset < nextPhyFileStart {
				units, next, examined = units[consumequeue.UnitSize:], next+1, examined+1
				continue
			}
			inDisk := maxOffsetPy-u.Offset > memory
			if s.batchFull(int(u.Size), maxMsgNums, maxBytes, res.BufferTotalSize, len(res.Messages), inDisk) {
				f.Release()
				break outer
			}
			units, next, examined = units[consumequeue.UnitSize:], next+1, examined+1
			if filter != nil && !filter.MatchByConsumeQueue(u.TagsCode) {
				continue
			}
			seg, rec, ok := s.cl.Read(u.Offset, int(u.Size))
			if !ok {
				if res.BufferTotalSize == 0 {
					res.Status = GetMessageWasRemoving
				}
				nextPhyFileStart = s.cl.NextSegmentStart(u.Offset)
				continue
			}
			if filter != nil && !filter.MatchByCommitLog(rec) {
				seg.Release()
				continue
			}
			res.hold(seg)
			res.Messages = append(res.Messages, rec)
			res.QueueOffsets = append(res.QueueOffsets, next-1)
			res.BufferTotalSize += len(rec)
		}
		f.Release()
		if next >= cq.MaxOffset() {
			break
		}
	}
	if len(res.Messages) > 0 {
		res.Status = GetFound
	}
	res.NextBeginOffset = next
	res.SuggestPullingFromSlave = memory > 0 && maxOffsetPy-maxPhyPulling > memory
}

// batchFull is Java's isTheBatchFull, plus the caller's byte limit.
func (s *Store) batchFull(size, maxMsgNums, maxBytes, bufferTotal, messageTotal int, inDisk bool) bool {
	if bufferTotal == 0 || messageTotal == 0 {
		return false
	}
	if messageTotal >= maxMsgNums || bufferTotal+size > maxBytes {
		return true
	}
	if inDisk {
		return bufferTotal+size > s.opts.MaxTransferBytesOnMessageInDisk ||
			messageTotal > s.opts.MaxTransferCountOnMessageInDisk-1
	}
	return bufferTotal+size > s.opts.MaxTransferBytesOnMessageInMemory ||
		messageTotal > s.opts.MaxTransferCountOnMessageInMemory-1
}

// correctOffset is Java's nextOffsetCorrection: a slave keeps the
// consumer's offset unless offsetCheckInSlave.
func (s *Store) correctOffset(old, corrected int64) int64 {
	if s.opts.BrokerRole != RoleSlave || s.opts.OffsetCheckInSlave {
		return corrected
	}
	return old
}
