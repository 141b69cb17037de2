package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Group is the consumer group the service reads the schedule topic as
// (store accounting only).
const Group = "CID_RMQ_SYS_SCHEDULE"

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("schedule: closed")

// Store is what the service needs of the message store (*store.Store,
// with CommitLogFlushedOffset from its Stats).
type Store interface {
	Putter
	GetMessage(ctx context.Context, group, topic string, queueID int32, offset int64, maxMsgNums, maxBytes int, filter store.MessageFilter) (*store.GetResult, error)
	// MaxOffsetInQueue is looked at first, so that an idle level costs no
	// read (nor a miss in the store's counters).
	MaxOffsetInQueue(topic string, queueID int32) int64
	// CommitLogFlushedOffset is the commit-log offset below which
	// appends are on disk.
	CommitLogFlushedOffset() int64
}

// Options configure the service.
type Options struct {
	// Levels are the delay levels (messageDelayLevel).
	Levels Levels
	// Dir is the broker's config directory (configfile.Dir).
	Dir string
	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS
	// FlushInterval is how often progress is saved
	// (flushDelayOffsetInterval).
	FlushInterval time.Duration
	// PollInterval is how often an empty level queue is looked at when no
	// Notify says a message arrived (the broker notifies, and polls every
	// second only as a fallback).
	PollInterval time.Duration
	// RetryInterval is the pause after a failed read or append.
	RetryInterval time.Duration
	// BatchSize is how many units one read takes.
	BatchSize int
}

// DefaultOptions are RocketMQ's: save every 10 s, poll every 100 ms,
// retry after 10 s, 32 units per read.
func DefaultOptions() Options {
	return Options{
		FlushInterval: 10 * time.Second,
		PollInterval:  100 * time.Millisecond,
		RetryInterval: 10 * time.Second,
		BatchSize:     32,
	}
}

// Validate reports invalid options.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Levels) == 0 {
		errs = append(errs, errors.New("schedule: no delay levels"))
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("schedule: no config directory"))
	}
	if o.FlushInterval <= 0 || o.PollInterval <= 0 || o.RetryInterval <= 0 || o.BatchSize <= 0 {
		errs = append(errs, fmt.Errorf("schedule: flush interval %v, poll interval %v, retry interval %v and batch size %d must be positive",
			o.FlushInterval, o.PollInterval, o.RetryInterval, o.BatchSize))
	}
	return errors.Join(errs...)
}

// Stats counts what the service did.
type Stats struct {
	Delivered int64 // messages re-put to their real topic
	Skipped   int64 // records that could not be rebuilt, dropped
	Failures  int64 // failed reads and appends (each retried)
}

// snapshot is a candidate for delayOffset.json: the offsets and the
// commit-log end of the re-puts they cover.
type snapshot struct {
	offsets map[int32]int64
	putEnd  int64
}

// maxPending bounds the snapshots waiting for the flush.
const maxPending = 64

// maxSleep bounds a wait for a message not yet due, so that a wall clock
// that jumps forward is noticed within it (timers run on the monotonic
// clock).
const maxSleep = time.Second

// Service delivers delay-level messages (see the package comment).
type Service struct {
	opts  Options
	store Store
	log   *slog.Logger
	file  *configfile.File

	mu      sync.Mutex
	offsets map[int32]int64 // level -> next queue offset to deliver
	putEnd  int64           // commit-log end of the last re-put

	// Owned by the flush loop (and Close after it stopped).
	saved   map[int32]int64
	pending []snapshot

	delivered, skipped, failures atomic.Int64

	// wake holds, per level (index level-1), a token when a message
	// arrived in the level's queue since its loop last looked (Notify).
	wake []chan struct{}

	life    sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New loads delayOffset.json from opts.Dir; Start begins delivery. A
// slave only loads (and answers GET_ALL_DELAY_OFFSET): it never starts.
func New(opts Options, st Store, log *slog.Logger) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fo := configfile.DefaultOptions()
	if opts.FS != nil {
		fo.FS = opts.FS
	}
	f, err := configfile.New(filepath.Join(opts.Dir, OffsetFile), fo, log)
	if err != nil {
		return nil, err
	}
	s := &Service{opts: opts, store: st, log: log, file: f, offsets: map[int32]int64{}, stop: make(chan struct{})}
	s.wake = make([]chan struct{}, opts.Levels.Max())
	for i := range s.wake {
		s.wake[i] = make(chan struct{}, 1)
	}
	if _, err := f.Load(func(data []byte) error {
		t, err := decodeOffsets(data)
		if err == nil {
			s.offsets = t
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.saved = maps.Clone(s.offsets)
	return s, nil
}

// Start starts one delivery loop per level and the periodic save.
func (s *Service) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	s.started = true
	for level := int32(1); level <= s.opts.Levels.Max(); level++ {
		s.wg.Add(1)
		go s.runLevel(level)
	}
	s.wg.Add(1)
	go s.flushLoop()
	s.log.Info("delay levels started", "levels", len(s.opts.Levels), "offsets", s.Offsets())
	return nil
}

// Close stops the loops and saves the progress. Idempotent.
func (s *Service) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	s.wg.Wait()
	if !s.started {
		return nil
	}
	return s.persist(true)
}

// Offsets returns the next schedule queue offset of each level that has
// made progress.
func (s *Service) Offsets() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.offsets)
}

// Encode returns the offsets as delayOffset.json holds them
// (GET_ALL_DELAY_OFFSET).
func (s *Service) Encode() ([]byte, error) { return encodeOffsets(s.Offsets()) }

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Skipped: s.skipped.Load(), Failures: s.failures.Load()}
}

func (s *Service) offset(level int32) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offsets[level]
}

func (s *Service) advance(level int32, next, putEnd int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next != s.offsets[level] {
		s.offsets[level] = next
	}
	s.putEnd = max(s.putEnd, putEnd)
}

// Notify tells the service that a message arrived in queue queueID of the
// schedule topic: the level's loop, if it is waiting for its empty queue
// to fill, looks at once. It never blocks and may be called at any time,
// before Start and after Close included (the broker calls it from the
// store's dispatch).
func (s *Service) Notify(queueID int32) {
	if queueID < 0 || int(queueID) >= len(s.wake) {
		return
	}
	select {
	case s.wake[queueID] <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// sleep waits d, or until Close, or, when wake is not nil, until a
// message arrives; it reports whether to go on.
func (s *Service) sleep(t *time.Timer, d time.Duration, wake <-chan struct{}) bool {
	t.Reset(d)
	select {
	case <-s.stop:
		t.Stop()
		return false
	case <-t.C:
		return true
	case <-wake:
		t.Stop()
		return true
	}
}

func (s *Service) runLevel(level int32) {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	off := s.offset(level)
	wake := s.wake[QueueID(level)]
	var f dueFilter
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		next, wait := s.deliverLevel(level, off, &f)
		if next != off {
			off = next
		}
		// Only an idle level waits for arrivals: a level waiting for its
		// head to come due would gain nothing from a later message, and
		// one waiting after a failure must not retry sooner.
		var w <-chan struct{}
		if wait == idleWait {
			wait, w = s.opts.PollInterval, wake
		}
		if wait > 0 && !s.sleep(t, wait, w) {
			return
		}
	}
}

// idleWait is what deliverLevel returns for a level with nothing to read:
// wait for an arrival, or PollInterval.
const idleWait = -1

// deliverLevel delivers what is due of one level from off. It returns the
// next offset and how long to wait before looking again (0: at once;
// idleWait: until a message arrives).
func (s *Service) deliverLevel(level int32, off int64, f *dueFilter) (int64, time.Duration) {
	qid := QueueID(level)
	if max := s.store.MaxOffsetInQueue(Topic, qid); max == off {
		return off, idleWait
	}
	f.tags = f.tags[:0]
	res, err := s.store.GetMessage(context.Background(), Group, Topic, qid, off, s.opts.BatchSize, 0, f)
	if err != nil {
		s.failures.Add(1)
		s.log.Warn("cannot read the schedule queue", "level", level, "offset", off, "err", err)
		return off, s.opts.RetryInterval
	}
	defer res.Release()
	switch res.Status {
	case store.GetFound:
		return s.deliverFound(level, off, res, f)
	case store.GetOffsetTooSmall, store.GetOffsetFoundNull, store.GetMessageWasRemoving, store.GetNoMatchedMessage:
		// Records or units were deleted under us: go on after them.
		if res.NextBeginOffset > off {
			if res.Status == store.GetOffsetTooSmall {
				s.log.Error("delayed messages were deleted before their time", "level", level, "from", off, "to", res.NextBeginOffset)
			}
			s.advance(level, res.NextBeginOffset, 0)
			return res.NextBeginOffset, 0
		}
	case store.GetOffsetOverflowBadly:
		s.log.Error("schedule offset past the end of its queue; resetting to the end", "level", level, "offset", off, "max", res.MaxOffset)
		s.advance(level, res.MaxOffset, 0)
		return res.MaxOffset, 0
	}
	return off, idleWait
}

func (s *Service) deliverFound(level int32, off int64, res *store.GetResult, f *dueFilter) (int64, time.Duration) {
	now := time.Now().UnixMilli()
	delay := s.opts.Levels.Delay(level)
	// Each examined unit in order: the message to put, or why it is
	// skipped; and the queue offset after it.
	type item struct {
		m    *message.Inner
		skip error
		next int64
	}
	items := make([]item, 0, len(res.Messages))
	msgs := make([]*message.Inner, 0, len(res.Messages))
	wait := time.Duration(0)
	for i, rec := range res.Messages {
		next := res.QueueOffsets[i] + 1
		r, err := message.DecodeRecord(rec)
		if err != nil {
			items = append(items, item{skip: err, next: next})
			continue
		}
		at := r.StoreTimestamp + delay
		if len(f.tags) == len(res.Messages) {
			at = f.tags[i]
		}
		if at > now+delay {
			at = now // the clock went back (correctDeliverTimestamp)
		}
		if at > now {
			wait = min(time.Duration(at-now)*time.Millisecond, maxSleep)
			break
		}
		m, err := Restore(&r)
		if err != nil {
			items = append(items, item{skip: fmt.Errorf("message %s: %w",
				message.PropertyString(r.Properties, message.PropertyUniqClientMessageIDKeyIdx), err), next: next})
			continue
		}
		items = append(items, item{m: m, next: next})
		msgs = append(msgs, m)
	}
	errs, end := PutAll(context.Background(), s.store, msgs)
	next := off
	for _, it := range items {
		switch {
		case it.skip != nil:
			s.skipped.Add(1)
			s.log.Error("skipping a delayed message that cannot be delivered", "level", level, "offset", it.next-1, "err", it.skip)
		case errs[0] != nil:
			s.failures.Add(1)
			s.log.Warn("cannot deliver a delayed message; retrying", "level", level, "topic", it.m.Topic, "err", errs[0])
			s.advance(level, next, end)
			return next, s.opts.RetryInterval
		default:
			s.delivered.Add(1)
			errs = errs[1:]
		}
		next = it.next
	}
	if wait == 0 && res.NextBeginOffset > next {
		next = res.NextBeginOffset // units whose records were gone
	}
	s.advance(level, next, end)
	return next, wait
}

// dueFilter records the tagsCode (the delivery time) of each unit the
// store returns, in order.
type dueFilter struct {
	pending int64
	tags    []int64
}

func (f *dueFilter) MatchByConsumeQueue(tagsCode int64) bool {
	f.pending = tagsCode
	return true
}

func (f *dueFilter) MatchByCommitLog([]byte) bool {
	f.tags = append(f.tags, f.pending)
	return true
}

func (s *Service) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if err := s.persist(false); err != nil {
			s.log.Error("cannot save the delay offsets", "file", s.file.Path(), "err", err)
		}
	}
}

// persist saves the newest snapshot whose re-puts are flushed, or at
// close the current offsets (see the package comment).
func (s *Service) persist(final bool) error {
	s.mu.Lock()
	cur := snapshot{offsets: maps.Clone(s.offsets), putEnd: s.putEnd}
	s.mu.Unlock()
	var pick *snapshot
	if final {
		pick = &cur
	} else {
		s.pending = append(s.pending, cur)
		flushed := s.store.CommitLogFlushedOffset()
		for i := len(s.pending) - 1; i >= 0; i-- {
			if s.pending[i].putEnd <= flushed {
				pick = &s.pending[i]
				s.pending = s.pending[i+1:]
				break
			}
		}
		if len(s.pending) > maxPending {
			s.pending = s.pending[len(s.pending)-maxPending:]
		}
	}
	if pick == nil || maps.Equal(pick.offsets, s.saved) {
		return nil
	}
	data, err := encodeOffsets(pick.offsets)
	if err != nil {
		return err
	}
	if err := s.file.Save(data); err != nil {
		return err
	}
	s.saved = pick.offsets
	return nil
}
