package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/store/checkpoint"
	"github.com/gorocket/gorocket/internal/store/commitlog"
	"github.com/gorocket/gorocket/internal/store/index"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"golang.org/x/sys/unix"
)

// Errors. Each wraps into the PutStatus the broker answers with (see
// PutStatusOf).
var (
	ErrClosed          = errors.New("store: closed")
	ErrLocked          = errors.New("store: directory is locked by another process")
	ErrDiskFull        = errors.New("store: disk full")
	ErrSlave           = errors.New("store: a slave does not take appends")
	ErrMessageIllegal  = errors.New("store: illegal message")
	ErrMessageTooLarge = errors.New("store: message too large")
	ErrFlushTimeout    = commitlog.ErrFlushTimeout
	ErrWriteFailed     = commitlog.ErrBroken
	ErrOffsetMismatch  = commitlog.ErrOffsetMismatch // AppendToCommitLog not at the log end
)

// Hooks are callbacks the broker passes to Open.
type Hooks struct {
	// OnMessageArrival is called by dispatch after a ConsumeQueue unit is
	// readable, outside every lock readers take. properties aliases
	// mapped memory and is valid only during the call. It must be cheap
	// and must not block (long polling wakes held pulls with it).
	OnMessageArrival func(topic string, queueID int32, logicOffset, tagsCode, storeTimestamp int64, properties []byte)
}

// Store is the message store.
type Store struct {
	opts   Options
	fs     vfs.FS
	logger *slog.Logger
	hooks  Hooks
	now    func() time.Time

	delayLevels []int64
	deleteHours [24]bool
	totalMemory int64

	lockFile *os.File
	cpFile   *checkpoint.File
	cl       *commitlog.CommitLog
	cqs      *cqTable
	idx      *index.Service

	reputFrom  atomic.Int64 // next commit-log offset to dispatch
	reputTs    atomic.Int64 // store time of the last dispatched record
	dispatchCh chan struct{}
	dispatchMu sync.Mutex // serialises dispatch with DeleteTopics' bookkeeping

	diskFull  atomic.Bool
	diskRatio atomic.Int64 // per mille, last measured
	cleanCh   chan struct{}

	mu      sync.Mutex
	started bool
	closed  atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup

	stats storeStats
}

// Open opens (creating if needed) the store in opts.StorePathRootDir,
// recovers it and returns it ready to Start. hooks may be zero.
func Open(opts Options, logger *slog.Logger, hooks Hooks) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "store")
	s := &Store{
		opts:       opts,
		fs:         opts.FS,
		logger:     logger,
		hooks:      hooks,
		now:        opts.Now,
		dispatchCh: make(chan struct{}, 1),
		cleanCh:    make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.delayLevels, _ = ParseDelayLevels(opts.MessageDelayLevel)
	s.deleteHours, _ = parseHours(opts.DeleteWhen)
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		s.totalMemory = int64(si.Totalram) * int64(si.Unit)
	}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	root := s.opts.StorePathRootDir
	if err := s.fs.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	abortPath := filepath.Join(root, "abort")
	_, err := s.fs.Stat(abortPath)
	abnormal := err == nil
	cpFile, cp, err := checkpoint.Open(s.fs, filepath.Join(root, "checkpoint"))
	if err != nil {
		return err
	}
	s.cpFile = cpFile

	clOpts := commitlog.Options{
		Dir:                   s.opts.commitLogDir(),
		SegmentSize:           s.opts.MappedFileSizeCommitLog,
		MaxMessageSize:        s.opts.MaxMessageSize,
		AllowV2:               s.opts.AutoMessageVersionOnTopicLen,
		FlushMode:             commitlog.AsyncFlush,
		FlushInterval:         ms(s.opts.FlushIntervalCommitLog),
		FlushLeastPages:       s.opts.FlushCommitLogLeastPages,
		FlushThoroughInterval: ms(s.opts.FlushCommitLogThoroughInterval),
		SyncFlushTimeout:      ms(int(s.opts.SyncFlushTimeout)),
		GroupCommitLinger:     time.Duration(s.opts.GroupCommitLingerMicros) * time.Microsecond,
		Warm:                  s.opts.WarmMapedFileEnable || s.opts.FlushDiskType == SyncFlush,
		WriteBufferSize:       s.opts.CommitLogWriteBufferSize,
		OnPublish:             s.kickDispatch,
		Now:                   func() int64 { return s.now().UnixMilli() },
	}
	if s.opts.FlushDiskType == SyncFlush {
		clOpts.FlushMode = commitlog.SyncFlush
	}
	if s.cl, err = commitlog.Open(s.fs, clOpts, s.logger.With("component", "commitlog")); err != nil {
		return err
	}
	// Without our checkpoint (a Java store, a torn checkpoint) the last
	// shutdown is not known to be clean either.
	afterCrash := abnormal || !cp.Extended
	if s.cqs, err = loadConsumeQueues(s.fs, filepath.Join(root, "consumequeue"), s.opts.unitsPerConsumeQueueFile(), afterCrash, s.logger); err != nil {
		return err
	}
	if s.idx, err = index.OpenService(s.fs, filepath.Join(root, "index"), s.opts.MaxHashSlotNum, s.opts.MaxIndexNum, s.logger.With("component", "index")); err != nil {
		return err
	}
	if err := s.recover(cp, abnormal); err != nil {
		return err
	}
	// Running from here on: a crash leaves the marker behind.
	f, err := s.fs.OpenFile(abortPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return s.fs.SyncDir(root)
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// lock takes an exclusive flock on {root}/lock, so two processes never
// open one store.
func (s *Store) lock() error {
	f, err := os.OpenFile(filepath.Join(s.opts.StorePathRootDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrLocked, s.opts.StorePathRootDir)
		}
		return err
	}
	s.lockFile = f
	return nil
}

// Start starts the background services: commit-log writer and flusher,
// dispatch, the flush of the logical files with the checkpoint, and
// cleanup. They run until Close.
func (s *Store) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	if err := s.cl.Start(); err != nil {
		return err
	}
	s.started = true
	s.wg.Add(3)
	go s.dispatchLoop()
	go s.flushLogicsLoop()
	go s.cleanLoop()
	s.checkDisk()
	return nil
}

// Close stops appends, flushes the commit log, lets dispatch catch up,
// flushes ConsumeQueues and IndexFiles, writes the checkpoint and removes
// the abort marker. Segments are unmapped once their readers released
// them. Idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	started := s.started
	s.mu.Unlock()

	var errs []error
	if err := s.cl.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("store: flush commit log: %w", err))
	}
	if started {
		close(s.stop)
		s.wg.Wait()
	}
	// Dispatch whatever the stopped services left.
	if err := s.dispatchAvailable(); err != nil {
		errs = append(errs, err)
	}
	clean := len(errs) == 0
	if broken := s.cl.Broken(); broken != nil {
		// Say so: the caller's exit status should not claim a clean
		// shutdown. The abort marker stays, so the next start validates
		// the log as after a crash.
		errs = append(errs, fmt.Errorf("store: the commit log has refused writes since: %w", broken))
		clean = false
	}
	if err := s.flushLogics(true); err != nil {
		errs = append(errs, err)
		clean = false
	}
	s.closeFiles()
	if clean {
		if err := s.fs.Remove(filepath.Join(s.opts.StorePathRootDir, "abort")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		} else if err := s.fs.SyncDir(s.opts.StorePathRootDir); err != nil {
			errs = append(errs, err)
		}
	}
	if s.lockFile != nil {
		s.lockFile.Close() // releases the flock
	}
	return errors.Join(errs...)
}

func (s *Store) closeFiles() {
	if s.cl != nil {
		s.cl.Close()
	}
	if s.cqs != nil {
		s.cqs.closeAll()
	}
	if s.idx != nil {
		s.idx.Close()
	}
	if s.cpFile != nil {
		s.cpFile.Close()
	}
	if s.lockFile != nil && !s.closed.Load() {
		s.lockFile.Close()
	}
}
