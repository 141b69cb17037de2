package commitlog

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Waiter is told once how an accepted append ended: err is nil when the
// append is durable per the flush mode, ErrFlushTimeout when it is stored
// but the sync did not finish in time, another error when it failed.
// It runs on a commit-log goroutine and must not block.
type Waiter interface {
	AppendDone(r Result, err error)
}

// Result describes the records of one append.
type Result struct {
	Offset         int64 // commit-log offset of the first record
	End            int64 // commit-log offset after the last record
	Size           int   // bytes of all records
	QueueOffset    int64 // queue offset of the first record
	Count          int
	StoreTimestamp int64
}

type pending struct {
	w    Waiter
	res  Result
	wait bool // needs an fdatasync under SyncFlush
	// Under SyncFlush, for wait: when the flush watchdog answers it with
	// ErrFlushTimeout if it is still in the active buffer (the committer
	// is stuck in an fdatasync), and whether it has.
	deadline int64 // monotonic ns
	answered bool
}

// run is a stretch of a write buffer that lands contiguously in one
// segment.
type run struct {
	off          int64 // commit-log offset of data[from]
	from, to     int
	fillsSegment bool // ends with a blank marker: the segment is full after it
}

type wbuf struct {
	data    []byte
	runs    []run
	pending []pending
	lastTs  int64 // store timestamp of the last record
	end     int64 // commit-log offset after the buffer's last byte
	watched int   // pending entries the flush watchdog is done with
}

func (b *wbuf) reset() {
	b.data = b.data[:0]
	b.runs = b.runs[:0]
	clear(b.pending) // drop Waiter references
	b.pending = b.pending[:0]
	b.watched = 0
}

type gwait struct {
	w        Waiter
	res      Result
	deadline int64 // monotonic ns
}

// CommitLog is the log. Create it with Open, recover it with Recover, then
// Start it.
type CommitLog struct {
	opts      Options
	fs        vfs.FS
	logger    *slog.Logger
	segs      *mappedfile.Queue
	now       func() int64
	clockBase time.Time
	// watchNow is the monotonic time of the flush watchdog's last tick,
	// and watchTick its period: Append stamps deadlines from them instead
	// of reading the clock under c.mu.
	watchNow  atomic.Int64
	watchTick int64

	mu       sync.Mutex // the append lock
	space    *sync.Cond // a buffer was swapped out
	active   *wbuf
	reserved int64 // next offset to assign
	offsets  map[string]map[int32]int64
	closed   bool
	broken   error
	started  bool
	stopErr  error

	committed   atomic.Int64
	committedTs atomic.Int64
	flushed     atomic.Int64
	flushedTs   atomic.Int64

	commitCh   chan struct{}
	flushMu    sync.Mutex    // serialises flushTo
	stopCommit chan struct{} // stops the committer
	stop       chan struct{} // stops the flusher and watchdog
	commitWG   sync.WaitGroup
	wg         sync.WaitGroup

	gmu  sync.Mutex
	gq   []gwait
	done []gwait // scratch for completeFlushed

	stats Stats
}

// Stats are running counters.
type Stats struct {
	Appends      atomic.Int64 // append calls accepted
	Messages     atomic.Int64 // records written
	Bytes        atomic.Int64 // record bytes written
	Commits      atomic.Int64 // pwrite batches
	Flushes      atomic.Int64 // fdatasync rounds
	FlushTimeout atomic.Int64 // waiters completed with ErrFlushTimeout
	FlushNanos   atomic.Int64 // time spent in flush rounds
}

// Open opens (or creates) the log in opts.Dir. It does not recover:
// call Recover before Start.
func Open(fs vfs.FS, opts Options, logger *slog.Logger) (*CommitLog, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.WriteBufferSize < opts.MaxMessageSize+message.BlankMarkerSize {
		opts.WriteBufferSize = opts.MaxMessageSize + message.BlankMarkerSize
	}
	segs, err := mappedfile.NewQueue(fs, opts.Dir, opts.SegmentSize,
		mappedfile.CreateOptions{Warm: opts.Warm, ReadOnly: true}, logger)
	if err != nil {
		return nil, err
	}
	if err := segs.Load(); err != nil {
		return nil, err
	}
	c := &CommitLog{
		opts:       opts,
		fs:         fs,
		logger:     logger,
		segs:       segs,
		now:        opts.Now,
		clockBase:  time.Now(),
		watchTick:  int64(min(max(opts.SyncFlushTimeout/4, time.Millisecond), 100*time.Millisecond)),
		offsets:    make(map[string]map[int32]int64),
		commitCh:   make(chan struct{}, 1),
		stopCommit: make(chan struct{}),
		stop:       make(chan struct{}),
	}
	if c.now == nil {
		c.now = func() int64 { return time.Now().UnixMilli() }
	}
	c.space = sync.NewCond(&c.mu)
	c.active = &wbuf{data: make([]byte, 0, opts.WriteBufferSize)}
	return c, nil
}

// Segments returns the segment queue (for recovery, retention and stats).
func (c *CommitLog) Segments() *mappedfile.Queue { return c.segs }

// Options returns the options in use.
func (c *CommitLog) Options() Options { return c.opts }

// Stats returns the running counters.
func (c *CommitLog) Stats() *Stats { return &c.stats }

// Start creates the first segment of an empty log, then starts the
// committer, the flusher and segment preallocation, so that no append
// waits for a file to be created.
func (c *CommitLog) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return nil
	}
	if c.segs.Find(c.reserved) == nil && c.reserved%c.opts.SegmentSize == 0 {
		if _, err := c.segs.EnsureNext(c.reserved); err != nil {
			return c.wrapSegmentErr(err)
		}
	}
	c.started = true
	c.segs.StartPreallocator()
	spare := &wbuf{data: make([]byte, 0, c.opts.WriteBufferSize)}
	c.commitWG.Add(1)
	go c.commitLoop(spare)
	if c.opts.FlushMode == SyncFlush {
		// The committer also syncs (group commit); the watchdog times
		// out waiters while a sync hangs.
		c.watchNow.Store(c.monotonic())
		c.wg.Add(1)
		go c.flushWatchdog()
	} else {
		c.wg.Add(1)
		go c.asyncFlushLoop()
	}
	return nil
}

// Stop stops accepting appends, writes out and flushes everything
// accepted and completes every waiter. The log stays readable until
// Close. Idempotent.
func (c *CommitLog) Stop() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.stopErr
	}
	c.closed = true
	started := c.started
	c.space.Broadcast()
	c.mu.Unlock()
	if started {
		// The committer drains the buffers first, then the flusher stops.
		close(c.stopCommit)
		c.commitWG.Wait()
		close(c.stop)
		c.wg.Wait()
	}
	var err error
	if c.Broken() == nil {
		err = c.flushTo(c.committed.Load())
	}
	if err == nil {
		c.completeFlushed()
	}
	// Anything still queued (a broken log) fails.
	c.failGroupWaiters(ErrClosed)
	c.mu.Lock()
	c.stopErr = err
	c.mu.Unlock()
	return err
}

// Close is Stop, then closes the segments (each is unmapped once its
// readers released it). Idempotent.
func (c *CommitLog) Close() error {
	err := c.Stop()
	c.segs.Close()
	return err
}

// MinOffset returns the offset of the oldest byte still in the log.
func (c *CommitLog) MinOffset() int64 { return c.segs.MinOffset() }

// MaxOffset returns the end of the published (readable) log.
func (c *CommitLog) MaxOffset() int64 { return c.committed.Load() }

// ReservedOffset returns the end of the log including appends not yet
// written out.
func (c *CommitLog) ReservedOffset() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reserved
}

// FlushedOffset returns the end of the durable log.
func (c *CommitLog) FlushedOffset() int64 { return c.flushed.Load() }

// FlushedTimestamp returns the store time of the last durable record.
func (c *CommitLog) FlushedTimestamp() int64 { return c.flushedTs.Load() }

// DispatchableOffset is how far dispatch may read: the published end
// under AsyncFlush, the durable end under SyncFlush.
func (c *CommitLog) DispatchableOffset() int64 {
	if c.opts.FlushMode == SyncFlush {
		return c.flushed.Load()
	}
	return c.committed.Load()
}

// Broken returns the error that broke the log, or nil.
func (c *CommitLog) Broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// SetQueueOffset sets the next queue offset of topic/queueID (recovery).
func (c *CommitLog) SetQueueOffset(topic string, queueID int32, next int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	qs := c.offsets[topic]
	if qs == nil {
		qs = make(map[int32]int64)
		c.offsets[topic] = qs
	}
	qs[queueID] = next
}

// QueueOffset returns the next queue offset of topic/queueID.
func (c *CommitLog) QueueOffset(topic string, queueID int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offsets[topic][queueID]
}

// RemoveTopic forgets the queue offsets of topic.
func (c *CommitLog) RemoveTopic(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.offsets, topic)
}

func (c *CommitLog) monotonic() int64 { return int64(time.Since(c.clockBase)) }

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

func (c *CommitLog) wrapSegmentErr(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}
