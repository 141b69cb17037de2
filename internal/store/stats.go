package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/store/checkpoint"
)

type storeStats struct {
	putFailed      atomic.Int64
	getFound       atomic.Int64
	getMiss        atomic.Int64
	getTransferred atomic.Int64

	lastCleanMinPhy atomic.Int64
	indexErrors     atomic.Int64
	lastIndexErrLog atomic.Int64
	dispatchErr     atomic.Pointer[string] // why dispatch is stuck; nil when it is not

	mu           sync.Mutex // flushLogics
	lastThorough time.Time
	checkpoint   checkpoint.Checkpoint
	// logicsSyncFailed: a ConsumeQueue or IndexFile sync failed since
	// start. The safe point stays where it was (see flushLogics).
	logicsSyncFailed bool
}

// Stats is a snapshot of the store's counters and positions.
type Stats struct {
	PutMessageTimesTotal    int64 // records appended
	PutMessageSizeTotal     int64 // record bytes appended
	PutMessageFailedTimes   int64 // appends refused or failed
	PutMessageFlushTimeouts int64 // SYNC_FLUSH appends answered FLUSH_DISK_TIMEOUT
	GetMessageTimesFound    int64
	GetMessageTimesMiss     int64
	GetMessageTransferred   int64 // records returned by GetMessage

	CommitLogMinOffset     int64
	CommitLogMaxOffset     int64 // published
	CommitLogFlushedOffset int64
	DispatchedOffset       int64
	DispatchBehindBytes    int64
	CommitLogWrites        int64 // pwrite batches
	CommitLogFlushes       int64 // fdatasync rounds
	CommitLogFlushTime     time.Duration
	ConsumeQueues          int
	IndexErrors            int64 // records dispatch could not index
	DiskUsedRatio          float64
	DiskFull               bool
	WriteError             string // why the commit log refuses writes, if it does
	DispatchError          string // why dispatch is stuck, if it is (it retries)
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	cs := s.cl.Stats()
	st := Stats{
		PutMessageTimesTotal:    cs.Messages.Load(),
		PutMessageSizeTotal:     cs.Bytes.Load(),
		PutMessageFailedTimes:   s.stats.putFailed.Load(),
		PutMessageFlushTimeouts: cs.FlushTimeout.Load(),
		GetMessageTimesFound:    s.stats.getFound.Load(),
		GetMessageTimesMiss:     s.stats.getMiss.Load(),
		GetMessageTransferred:   s.stats.getTransferred.Load(),
		CommitLogMinOffset:      s.cl.MinOffset(),
		CommitLogMaxOffset:      s.cl.MaxOffset(),
		CommitLogFlushedOffset:  s.cl.FlushedOffset(),
		DispatchedOffset:        s.reputFrom.Load(),
		CommitLogWrites:         cs.Commits.Load(),
		CommitLogFlushes:        cs.Flushes.Load(),
		CommitLogFlushTime:      time.Duration(cs.FlushNanos.Load()),
		ConsumeQueues:           len(s.cqs.all()),
		IndexErrors:             s.stats.indexErrors.Load(),
		DiskUsedRatio:           float64(s.diskRatio.Load()) / 1000,
		DiskFull:                s.diskFull.Load(),
	}
	st.DispatchBehindBytes = max(0, st.CommitLogMaxOffset-st.DispatchedOffset)
	if err := s.cl.Broken(); err != nil {
		st.WriteError = err.Error()
	}
	if e := s.stats.dispatchErr.Load(); e != nil {
		st.DispatchError = *e
	}
	return st
}
