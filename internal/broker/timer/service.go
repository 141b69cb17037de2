package timer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Topic is where timed messages wait (TimerMessageStore.TIMER_TOPIC).
const Topic = "rmq_sys_wheel_timer"

// Group is the consumer group the service reads the timer topic as
// (store accounting only).
const Group = "CID_RMQ_SYS_TIMER"

// Errors.
var (
	ErrClosed       = errors.New("timer: closed")
	ErrIncompatible = errors.New("timer: checkpoint made with other settings")
)

// Store is what the service needs of the message store (*store.Store,
// with CommitLogFlushedOffset from its Stats).
type Store interface {
	schedule.Putter
	GetMessage(ctx context.Context, group, topic string, queueID int32, offset int64, maxMsgNums, maxBytes int, filter store.MessageFilter) (*store.GetResult, error)
	// MaxOffsetInQueue is looked at first, so that an idle timer topic
	// costs no read (nor a miss in the store's counters).
	MaxOffsetInQueue(topic string, queueID int32) int64
	SelectOneMessageByOffset(commitLogOffset int64) (*store.SelectResult, error)
	// CommitLogFlushedOffset is the commit-log offset below which
	// appends are on disk.
	CommitLogFlushedOffset() int64
}

// Options configure the service. Fields with a RocketMQ key carry its
// meaning; the broker fills them from its options.
type Options struct {
	// Dir holds the log and the checkpoint ({storePathRootDir}/timer).
	Dir string
	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS
	// PrecisionMs is the slot length (timerPrecisionMs).
	PrecisionMs int64
	// WindowSlots is N: entries due further ahead are rolled
	// (timerRollWindowSlot).
	WindowSlots int64
	// LogFileSize is the timer log segment size (mappedFileSizeTimerLog),
	// rounded down to whole entries.
	LogFileSize int64
	// FlushInterval is how often the checkpoint is saved
	// (timerFlushIntervalMs).
	FlushInterval time.Duration
	// PollInterval is how often the timer topic is looked at when idle and
	// no Notify says a message arrived (the broker notifies, and polls
	// every second only as a fallback).
	PollInterval time.Duration
	// RetryInterval is the pause after a failed read, append or delivery.
	RetryInterval time.Duration
	// ReadBatch is how many timer-topic units one read takes.
	ReadBatch int
	// DeliverBatch is how many due messages are appended together.
	DeliverBatch int
}

// DefaultOptions are RocketMQ's where it has them: 1 s slots, a 2-day
// window, 100 MiB log segments, a checkpoint every second.
func DefaultOptions() Options {
	return Options{
		PrecisionMs:   1000,
		WindowSlots:   2 * 24 * 3600,
		LogFileSize:   100 << 20,
		FlushInterval: time.Second,
		PollInterval:  100 * time.Millisecond,
		RetryInterval: time.Second,
		ReadBatch:     32,
		DeliverBatch:  64,
	}
}

// maxWindowSlots bounds the head table (16 bytes per slot, twice).
const maxWindowSlots = 1 << 24

// Validate reports invalid options.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("timer: no directory"))
	}
	if o.PrecisionMs < 1 || o.PrecisionMs > 60_000 {
		errs = append(errs, fmt.Errorf("timer: timerPrecisionMs %d outside 1..60000", o.PrecisionMs))
	}
	if o.WindowSlots < 2 || o.WindowSlots > maxWindowSlots {
		errs = append(errs, fmt.Errorf("timer: timerRollWindowSlot %d outside 2..%d", o.WindowSlots, maxWindowSlots))
	}
	if o.LogFileSize < entrySize {
		errs = append(errs, fmt.Errorf("timer: mappedFileSizeTimerLog %d is smaller than an entry", o.LogFileSize))
	}
	if o.FlushInterval <= 0 || o.PollInterval <= 0 || o.RetryInterval <= 0 || o.ReadBatch <= 0 || o.DeliverBatch <= 0 {
		errs = append(errs, errors.New("timer: intervals and batch sizes must be positive"))
	}
	return errors.Join(errs...)
}

// Stats counts what the service did.
type Stats struct {
	Enqueued  int64 // timer messages linked into the wheel
	Delivered int64 // messages re-put to their real topic
	Rolled    int64 // entries placed again at the end of the window
	Skipped   int64 // messages that could not be delivered (gone, or no REAL_TOPIC)
	Failures  int64 // failed reads, appends and deliveries (each retried)
	Held      int64 // entries in memory waiting for their millisecond
}

// snapshot is a checkpoint candidate with the commit-log end of the
// re-puts it covers.
type snapshot struct {
	ck     checkpoint
	putEnd int64
}

// maxPending bounds the snapshots waiting for the flush.
const maxPending = 64

// maxEnqueueBatches bounds one round of enqueueing, so that a backlog does
// not hold back delivery.
const maxEnqueueBatches = 64

// Service is the timer (package comment). Open, Start, Close.
type Service struct {
	opts  Options
	store Store
	log   *slog.Logger
	ck    *configfile.File
	tlog  *timerLog
	w     *wheel
	hold  holdQueue

	// Owned by the run goroutine (Open and Close run outside it).
	enqueueOffset int64
	dequeueMs     int64 // entries of cur due at or before it are delivered
	putEnd        int64
	pendingRolls  []due // rolled entries whose log append failed
	saved         checkpoint
	last          snapshot // the last snapshot taken
	pending       []snapshot
	lastSave      time.Time
	batch         []due

	enqueued, delivered, rolled, skipped, failures, held atomic.Int64

	// wake holds a token when a message arrived in the timer topic since
	// the loop last looked (Notify).
	wake chan struct{}

	life    sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// Open loads the checkpoint and the log in opts.Dir and rebuilds the
// wheel (package comment, "Recovery"). Start begins the work.
func Open(opts Options, st Store, log *slog.Logger) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	fo := configfile.DefaultOptions()
	fo.FS = fs
	ck, err := configfile.New(filepath.Join(opts.Dir, CheckpointFile), fo, log)
	if err != nil {
		return nil, err
	}
	var c checkpoint
	found, err := ck.Load(func(data []byte) error {
		var err error
		c, err = decodeCheckpoint(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	if found && (c.PrecisionMs != opts.PrecisionMs || c.WindowSlots != opts.WindowSlots) {
		return nil, fmt.Errorf("%w: %s has timerPrecisionMs %d and timerRollWindowSlot %d, the broker %d and %d; "+
			"restore the settings, or remove %s to drop every pending timer",
			ErrIncompatible, ck.Path(), c.PrecisionMs, c.WindowSlots, opts.PrecisionMs, opts.WindowSlots, opts.Dir)
	}
	s := &Service{opts: opts, store: st, log: log, ck: ck, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	now := time.Now().UnixMilli()
	w := newWheel(opts.PrecisionMs, opts.WindowSlots, 0)
	if !found {
		c = checkpoint{DequeueSlot: w.slotOf(now), PrecisionMs: opts.PrecisionMs, WindowSlots: opts.WindowSlots}
		c.DequeueMs = w.start(c.DequeueSlot) - 1
	}
	w.base = c.DequeueSlot
	s.w = w

	tlog, err := openLog(fs, filepath.Join(opts.Dir, "log"), opts.LogFileSize, log)
	if err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	s.tlog = tlog
	bad := 0
	end, err := tlog.recover(c.LogEnd, func(pos int64, e entry) {
		switch {
		case e.slot < c.DequeueSlot:
			// delivered or rolled on: dead
		case !w.live(e.slot):
			bad++
		default:
			w.link(e.slot, pos)
		}
	})
	if err != nil {
		tlog.close()
		return nil, err
	}
	if bad > 0 {
		log.Error("timer log entries outside the wheel were dropped", "count", bad, "dequeueSlot", c.DequeueSlot)
	}
	c.LogEnd = end
	s.enqueueOffset = c.EnqueueOffset
	if found {
		s.saved = c
		s.last = snapshot{ck: c}
	}
	// The checkpoint's slot was being delivered: read it again, skipping
	// what its checkpoint says is done.
	s.dequeueMs = c.DequeueMs
	s.readSlot(true)
	s.held.Store(int64(len(s.hold)))
	log.Info("timer opened", "enqueueOffset", c.EnqueueOffset, "dequeueSlot", c.DequeueSlot,
		"logBytes", end-tlog.minPos(), "fresh", !found)
	return s, nil
}

// Start starts the goroutine.
func (s *Service) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.started {
		s.started = true
		go s.run()
	}
	return nil
}

// Close stops the goroutine, saves the checkpoint and closes the log.
// Idempotent.
func (s *Service) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stop)
	if s.started {
		<-s.done
	}
	var err error
	if s.started {
		err = s.save(true)
	}
	s.tlog.close()
	return err
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{
		Enqueued: s.enqueued.Load(), Delivered: s.delivered.Load(), Rolled: s.rolled.Load(),
		Skipped: s.skipped.Load(), Failures: s.failures.Load(), Held: s.held.Load(),
	}
}

func nowMs() int64 { return time.Now().UnixMilli() }

// Notify tells the service that a message arrived in the timer topic: the
// loop, if it is waiting, enqueues it at once (a timer due before the next
// poll is then held for its millisecond). It never blocks and may be
// called at any time, before Start and after Close included (the broker
// calls it from the store's dispatch).
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (s *Service) run() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	s.lastSave = time.Now()
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		wait, wakeable := s.step()
		if wait <= 0 {
			continue
		}
		// After a failure the loop waits its retry interval, arrivals
		// or not.
		var wake <-chan struct{}
		if wakeable {
			wake = s.wake
		}
		t.Reset(wait)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// step does one round — enqueue what arrived, deliver what is due, save
// the checkpoint when it is time — and returns how long to sleep, and
// whether an arrival should end the sleep.
func (s *Service) step() (time.Duration, bool) {
	more, enqErr := s.enqueue()
	ok := s.placeRolls() && s.dequeue(nowMs())
	s.held.Store(int64(len(s.hold)))
	if since := time.Since(s.lastSave); since >= s.opts.FlushInterval {
		if err := s.save(false); err != nil {
			s.failures.Add(1)
			s.log.Error("cannot save the timer checkpoint", "file", s.ck.Path(), "err", err)
		}
		s.lastSave = time.Now()
	}
	if !ok || enqErr != nil {
		return s.opts.RetryInterval, false
	}
	if more {
		return 0, false
	}
	// Wake for the next held entry (always before the next slot), else
	// for the next slot; at least every poll and save interval.
	next := s.w.start(s.w.base)
	if d, ok := s.hold.next(); ok {
		next = d
	}
	wait := min(s.opts.PollInterval, time.Duration(next-nowMs())*time.Millisecond,
		s.opts.FlushInterval-time.Since(s.lastSave))
	return max(wait, 0), true
}

// enqueue links the timer messages stored since the last round into the
// wheel. more reports that the topic has more right now.
func (s *Service) enqueue() (more bool, err error) {
	for range maxEnqueueBatches {
		progress, err := s.enqueueBatch()
		if err != nil {
			s.failures.Add(1)
			s.log.Warn("timer enqueue stalled; retrying", "offset", s.enqueueOffset, "err", err)
			return false, err
		}
		if !progress {
			return false, nil
		}
	}
	return true, nil
}

func (s *Service) enqueueBatch() (progress bool, err error) {
	off := s.enqueueOffset
	if s.store.MaxOffsetInQueue(Topic, 0) == off {
		return false, nil
	}
	res, err := s.store.GetMessage(context.Background(), Group, Topic, 0, off, s.opts.ReadBatch, 0, nil)
	if err != nil {
		return false, err
	}
	defer res.Release()
	switch res.Status {
	case store.GetFound:
		now := nowMs()
		for i, rec := range res.Messages {
			r, err := message.DecodeRecord(rec)
			if err != nil {
				s.skipped.Add(1)
				s.log.Error("skipping an undecodable timer record", "offset", res.QueueOffsets[i], "err", err)
				s.enqueueOffset = res.QueueOffsets[i] + 1
				continue
			}
			at, ok := deliverMs(r.Properties)
			if !ok {
				s.log.Error("timer message without a valid TIMER_OUT_MS; delivering it now", "offset", res.QueueOffsets[i],
					"msgId", message.PropertyString(r.Properties, message.PropertyUniqClientMessageIDKeyIdx))
				at = now
			}
			if err := s.place(due{deliverMs: at, offset: r.PhysicalOffset, size: r.TotalSize}); err != nil {
				return progress, err
			}
			s.enqueued.Add(1)
			s.enqueueOffset = res.QueueOffsets[i] + 1
			progress = true
		}
		if res.NextBeginOffset > s.enqueueOffset {
			s.enqueueOffset = res.NextBeginOffset // units whose records were gone
		}
		return true, nil
	case store.GetOffsetTooSmall, store.GetOffsetFoundNull, store.GetMessageWasRemoving, store.GetNoMatchedMessage:
		if res.NextBeginOffset > off {
			s.log.Error("timer messages were deleted before they were enqueued", "from", off, "to", res.NextBeginOffset)
			s.enqueueOffset = res.NextBeginOffset
			return true, nil
		}
	case store.GetOffsetOverflowBadly:
		s.log.Error("timer enqueue offset past the end of the timer topic; resetting to the end", "offset", off, "max", res.MaxOffset)
		s.enqueueOffset = res.MaxOffset
		return true, nil
	}
	return false, nil
}

// deliverMs reads TIMER_OUT_MS.
func deliverMs(props []byte) (int64, bool) {
	v, ok := message.PropertyValue(props, message.PropertyTimerOutMS)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// place appends an entry for d and links it; a late one is also held.
func (s *Service) place(d due) error {
	p := s.w.place(d.deliverMs)
	pos, err := s.tlog.append(entry{slot: p.slot, prev: s.w.last(p.slot), deliverMs: d.deliverMs, offset: d.offset, size: d.size})
	if err != nil {
		return err
	}
	s.w.link(p.slot, pos)
	if p.late {
		s.hold.add(d)
	}
	return nil
}

// placeRolls retries rolls whose append failed; it reports whether none
// is left.
func (s *Service) placeRolls() bool {
	for len(s.pendingRolls) > 0 {
		if err := s.place(s.pendingRolls[0]); err != nil {
			s.failures.Add(1)
			s.log.Error("cannot roll timer entries; retrying", "count", len(s.pendingRolls), "err", err)
			return false
		}
		s.pendingRolls = s.pendingRolls[1:]
		s.rolled.Add(1)
	}
	s.pendingRolls = nil
	return true
}

// dequeue delivers what is due at now and reads the slots whose time has
// come. It reports false when a delivery failed (retry later).
func (s *Service) dequeue(now int64) bool {
	for {
		if !s.drain(now) {
			return false
		}
		if !s.w.readable(now) || len(s.pendingRolls) > 0 {
			return true
		}
		s.readSlot(false)
	}
}

// readSlot makes the next slot the one being delivered and takes its
// entries: due ones are held, rolled ones placed again. In recovery (the
// checkpoint's slot, read again at Open) rolled entries and those due at or
// before dequeueMs are skipped: the run before did them.
func (s *Service) readSlot(recovering bool) {
	slot, pos := s.w.advance()
	if !recovering {
		s.dequeueMs = s.w.start(slot) - 1
	}
	if pos < 0 {
		return
	}
	var entries []entry
	prev := int64(math.MaxInt64)
	for pos >= 0 {
		if pos < s.tlog.minPos() {
			if !recovering {
				s.log.Warn("timer slot chain runs into a deleted log segment", "slot", slot, "pos", pos)
			}
			break
		}
		e, err := s.tlog.read(pos)
		if err == nil && (e.slot != slot || pos >= prev) {
			err = fmt.Errorf("%w: entry at %d in slot %d, walking slot %d", ErrCorrupt, pos, e.slot, slot)
		}
		if err != nil {
			s.failures.Add(1)
			s.log.Error("timer slot chain broken; its older entries are lost", "slot", slot, "pos", pos, "err", err)
			break
		}
		entries = append(entries, e)
		prev, pos = pos, e.prev
	}
	// The chain runs newest first; place and hold oldest first.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		d := due{deliverMs: e.deliverMs, offset: e.offset, size: e.size}
		switch {
		case s.w.rolled(slot, e.deliverMs):
			if recovering {
				continue
			}
			if len(s.pendingRolls) > 0 {
				s.pendingRolls = append(s.pendingRolls, d)
				continue
			}
			if err := s.place(d); err != nil {
				s.failures.Add(1)
				s.log.Error("cannot roll a timer entry; retrying", "err", err)
				s.pendingRolls = append(s.pendingRolls, d)
				continue
			}
			s.rolled.Add(1)
		case recovering && e.deliverMs <= s.dequeueMs:
		default:
			s.hold.add(d)
		}
	}
}

// drain delivers every held entry due at now. It reports false when an
// append failed; the failed entries stay held.
func (s *Service) drain(now int64) bool {
	for {
		s.batch = s.hold.popDue(now, s.opts.DeliverBatch, s.batch[:0])
		if len(s.batch) == 0 {
			s.dequeueMs = max(s.dequeueMs, now)
			return true
		}
		if !s.deliver(s.batch) {
			// Entries due from the earliest failed one on are not
			// delivered: the checkpoint must not say they are.
			if d, ok := s.hold.next(); ok {
				s.dequeueMs = min(s.dequeueMs, d-1)
			}
			return false
		}
	}
}

// deliver re-puts a batch of due messages; failed ones are held again.
func (s *Service) deliver(batch []due) bool {
	msgs := make([]*message.Inner, 0, len(batch))
	sent := make([]due, 0, len(batch))
	refs := make([]*store.SelectResult, 0, len(batch))
	defer func() {
		for _, r := range refs {
			r.Release()
		}
	}()
	for _, d := range batch {
		m, ref, err := s.rebuild(d)
		if err != nil {
			s.skipped.Add(1)
			s.log.Error("timer message cannot be delivered; dropped", "offset", d.offset, "deliverMs", d.deliverMs, "err", err)
			continue
		}
		refs = append(refs, ref)
		msgs = append(msgs, m)
		sent = append(sent, d)
	}
	errs, end := schedule.PutAll(context.Background(), s.store, msgs)
	s.putEnd = max(s.putEnd, end)
	ok := true
	for i, err := range errs {
		if err != nil {
			if ok {
				s.failures.Add(1)
				s.log.Warn("cannot deliver timer messages; retrying", "topic", msgs[i].Topic, "err", err)
			}
			ok = false
			s.hold.add(sent[i])
			continue
		}
		s.delivered.Add(1)
	}
	return ok
}

// rebuild reads the timer message at d.offset and returns the message to
// deliver (aliasing the record, which ref holds).
func (s *Service) rebuild(d due) (*message.Inner, *store.SelectResult, error) {
	ref, err := s.store.SelectOneMessageByOffset(d.offset)
	if err != nil {
		return nil, nil, err
	}
	r, err := message.DecodeRecord(ref.Bytes)
	if err == nil && (r.PhysicalOffset != d.offset || string(r.Topic) != Topic) {
		err = fmt.Errorf("%w: the record at %d is %s@%d", ErrCorrupt, d.offset, r.Topic, r.PhysicalOffset)
	}
	var m *message.Inner
	if err == nil {
		m, err = schedule.Restore(&r)
	}
	if err != nil {
		ref.Release()
		return nil, nil, err
	}
	return m, ref, nil
}

// save writes the newest checkpoint whose re-puts are flushed, or at
// close the current one (package comment, "Checkpoint").
func (s *Service) save(final bool) error {
	if len(s.pendingRolls) > 0 {
		return nil // the log lacks rolls the checkpoint would count on
	}
	if err := s.tlog.flush(); err != nil {
		return err
	}
	cur := snapshot{ck: checkpoint{
		EnqueueOffset: s.enqueueOffset, LogEnd: s.tlog.end, DequeueSlot: s.w.cur(), DequeueMs: s.dequeueMs,
		PrecisionMs: s.opts.PrecisionMs, WindowSlots: s.opts.WindowSlots,
	}, putEnd: s.putEnd}
	// Only slots that passed empty since the last snapshot: not worth a
	// save (the restart would step through them again, delivering
	// nothing).
	dirty := cur.putEnd != s.last.putEnd || cur.ck.EnqueueOffset != s.last.ck.EnqueueOffset || cur.ck.LogEnd != s.last.ck.LogEnd
	var pick *snapshot
	if final {
		pick = &cur
	} else {
		if dirty {
			s.pending = append(s.pending, cur)
			s.last = cur
		}
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
	if pick == nil || pick.ck == s.saved {
		return nil
	}
	data, err := encodeCheckpoint(pick.ck)
	if err != nil {
		return err
	}
	if err := s.ck.Save(data); err != nil {
		return err
	}
	s.saved = pick.ck
	if n := s.tlog.deleteBefore(s.saved.DequeueSlot); n > 0 {
		s.log.Debug("timer log segments deleted", "count", n)
	}
	return nil
}
