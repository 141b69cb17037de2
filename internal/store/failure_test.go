package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/checkpoint"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
)

// Failure paths of the store's background services: each test injects a
// file-system fault with vfs.FaultFS, checks what a user of the store
// sees while it lasts (acknowledgements, reads, stats, log lines) and
// what survives once it is gone.

// logRecorder is a slog handler that keeps every record as one line
// ("LEVEL message key=value ...").
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

type recHandler struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (h recHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recHandler) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.r.mu.Lock()
	h.r.lines = append(h.r.lines, b.String())
	h.r.mu.Unlock()
	return nil
}

func (h recHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recHandler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h recHandler) WithGroup(string) slog.Handler { return h }

func (r *logRecorder) logger() *slog.Logger { return slog.New(recHandler{r: r}) }

// has reports whether a line at level contains every one of parts.
func (r *logRecorder) has(level slog.Level, parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, l := range r.lines {
		if !strings.HasPrefix(l, level.String()+" ") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		return true
	}
	return false
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

func openStoreLogged(t testing.TB, o Options, hooks Hooks, logs *logRecorder) *Store {
	t.Helper()
	s, err := Open(o, logs.logger(), hooks)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	return s
}

// injector fails the operations match selects with err, counting them.
type injector struct {
	fs   *vfs.FaultFS
	hits atomic.Int64
}

func newInjector(o *Options) *injector {
	in := &injector{fs: vfs.NewFaultFS(vfs.Default)}
	o.FS = in.fs
	return in
}

func (in *injector) fail(err error, match func(op vfs.Op, path string) bool) {
	in.hits.Store(0)
	in.fs.SetRule(func(op vfs.Op, path string) error {
		if match(op, path) {
			in.hits.Add(1)
			return err
		}
		return nil
	})
}

func (in *injector) clear() { in.fs.SetRule(nil) }

// isSegmentIn reports whether path is a file of the store directory dir.
// (A segment's descriptor keeps the ".tmp" name it was prepared under.)
func isSegmentIn(path, dir string) bool {
	return filepath.Base(filepath.Dir(path)) == dir
}

func isConsumeQueueFile(path string) bool {
	return strings.Contains(path, string(filepath.Separator)+"consumequeue"+string(filepath.Separator))
}

// diskCheckpoint reads the checkpoint file as recovery would; a file not
// written yet reads as the zero Checkpoint.
func diskCheckpoint(dir string) checkpoint.Checkpoint {
	b, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
	cp, _ := checkpoint.Decode(b)
	return cp
}

func abortMarkerExists(t testing.TB, dir string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, "abort"))
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	return true
}

// TestAsyncFlushFailureRefusesAppendsUntilRestart: under ASYNC_FLUSH an
// append is acknowledged once its bytes are in the page cache, before the
// background fdatasync. When that fdatasync fails the page cache can no
// longer be trusted to reach the disk (a retried fdatasync may succeed
// without writing what the failed one lost), so the commit log refuses
// appends until restart, as the package documentation says: the error is
// logged and shown in Stats, appends fail fast with SERVICE_NOT_AVAILABLE
// instead of hanging, reads keep working, and after a restart every
// acknowledged message is there and flushing resumes.
func TestAsyncFlushFailureRefusesAppendsUntilRestart(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.FlushDiskType = AsyncFlush
	o.FlushCommitLogLeastPages = 0 // flush every 10 ms whatever is dirty
	in := newInjector(&o)
	var logs logRecorder
	s := openStoreLogged(t, o, Hooks{}, &logs)
	defer func() { s.Close() }()

	acked := []string{"before-0", "before-1"}
	for _, b := range acked {
		put(t, s, msg("T", 0, b))
	}
	require.Eventually(t, func() bool {
		st := s.Stats()
		return st.CommitLogFlushedOffset == st.CommitLogMaxOffset
	}, 10*time.Second, time.Millisecond, "the flusher runs")

	in.fail(syscall.EIO, func(op vfs.Op, path string) bool { return op == vfs.OpSync && isSegmentIn(path, "commitlog") })
	// Appends racing with the failing flush: each is answered exactly
	// once, acknowledged (in the page cache) or refused.
	const n = 50
	var (
		mu      sync.Mutex
		results = make([]error, n)
		done    atomic.Int64
	)
	for i := range n {
		s.PutMessageAsync(context.Background(), msg("T", 0, fmt.Sprint("during-", i)), func(r PutResult, err error) {
			mu.Lock()
			results[i] = err
			mu.Unlock()
			done.Add(1)
		})
	}
	require.Eventually(t, func() bool { return done.Load() == n }, 10*time.Second, time.Millisecond, "every append is answered")
	require.Eventually(t, func() bool { return s.Stats().WriteError != "" }, 10*time.Second, time.Millisecond, "the failed flush breaks the log")
	mu.Lock()
	for i, err := range results {
		if err == nil {
			acked = append(acked, fmt.Sprint("during-", i))
		} else {
			require.ErrorIs(t, err, ErrWriteFailed)
		}
	}
	mu.Unlock()
	require.Positive(t, in.hits.Load())
	require.True(t, logs.has(slog.LevelError, "commit log refuses writes until restart", "flush", "input/output error"), logs.String())
	st := s.Stats()
	require.Contains(t, st.WriteError, "input/output error")
	require.Less(t, st.CommitLogFlushedOffset, st.CommitLogMaxOffset, "what the failed flush covered is not reported durable")

	// Refused at once, even with the fault gone (until restart).
	in.clear()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.PutMessage(ctx, msg("T", 0, "refused"))
	require.ErrorIs(t, err, ErrWriteFailed)
	require.Equal(t, PutServiceNotAvailable, r.Status)
	require.Positive(t, s.Stats().PutMessageFailedTimes)

	// Consumers still read every acknowledged message.
	waitDispatched(t, s)
	require.Equal(t, acked, bodies(t, s, "T", 0, 0))

	// Shutdown does not hang; the store is not clean (the commit log was
	// not flushed), so Close says so and the next start validates the log
	// as after a crash.
	require.ErrorContains(t, s.Close(), "refused writes")
	require.True(t, abortMarkerExists(t, dir))

	s = openStoreLogged(t, o, Hooks{}, &logs)
	require.Equal(t, acked, bodies(t, s, "T", 0, 0), "every acknowledged message survives")
	put(t, s, msg("T", 0, "after restart"))
	require.Eventually(t, func() bool {
		st := s.Stats()
		return st.CommitLogFlushedOffset == st.CommitLogMaxOffset && st.WriteError == ""
	}, 10*time.Second, time.Millisecond, "flushing resumes after the restart")
	waitDispatched(t, s)
	require.Equal(t, append(acked, "after restart"), bodies(t, s, "T", 0, 0))
}

// TestCheckpointFailureKeepsServing: a checkpoint that cannot be written
// or synced is logged and retried; appends and reads go on. If the fault
// is gone by shutdown the store closes cleanly; if not, Close reports it
// and leaves the abort marker, and the next start recovers as after a
// crash. Either way every acknowledged message is there after reopening.
func TestCheckpointFailureKeepsServing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		op            vfs.Op
		faultAtClose  bool
		wantCleanStop bool
	}{
		{"write", vfs.OpWrite, false, true},
		{"sync", vfs.OpSync, false, true},
		{"write until close", vfs.OpWrite, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			o.FlushConsumeQueueLeastPages = 0 // every round flushes and checkpoints
			o.FlushCommitLogLeastPages = 0
			in := newInjector(&o)
			var logs logRecorder
			s := openStoreLogged(t, o, Hooks{}, &logs)
			defer func() { s.Close() }()

			var want []string
			for i := range 5 {
				want = append(want, fmt.Sprint("before-", i))
				put(t, s, msg("T", 0, want[i], message.PropertyKeys, want[i]))
			}
			in.fail(syscall.EIO, func(op vfs.Op, path string) bool {
				return op == tc.op && filepath.Base(path) == "checkpoint"
			})
			for i := range 5 {
				want = append(want, fmt.Sprint("during-", i))
				put(t, s, msg("T", 0, want[5+i], message.PropertyKeys, want[5+i]))
			}
			require.Eventually(t, func() bool { return in.hits.Load() >= 2 }, 10*time.Second, time.Millisecond, "the checkpoint is retried")
			require.True(t, logs.has(slog.LevelError, "checkpoint", "input/output error"), logs.String())
			waitDispatched(t, s)
			require.Equal(t, want, bodies(t, s, "T", 0, 0), "consumers read on")
			q, err := s.QueryMessage("T", "during-3", 1, 0, time.Now().Add(time.Hour).UnixMilli())
			require.NoError(t, err)
			require.Len(t, q.Messages, 1, "key queries work")

			if !tc.faultAtClose {
				in.clear()
			}
			err = s.Close()
			in.clear()
			if tc.wantCleanStop {
				require.NoError(t, err)
				require.False(t, abortMarkerExists(t, dir), "clean shutdown")
				cp := diskCheckpoint(dir)
				require.True(t, cp.Extended)
				require.Equal(t, s.MaxPhyOffset(), cp.LogicsSafeOffset, "the final checkpoint covers the whole log")
			} else {
				require.ErrorContains(t, err, "checkpoint")
				require.True(t, abortMarkerExists(t, dir), "an unclean shutdown is marked as such")
			}

			s = openStoreLogged(t, o, Hooks{}, &logs)
			require.Equal(t, want, bodies(t, s, "T", 0, 0), "every acknowledged message survives")
			require.Equal(t, int64(len(want)), put(t, s, msg("T", 0, "next")).QueueOffset)
		})
	}
}

// TestLogicsFlushFailureHoldsSafeOffset: when ConsumeQueue or IndexFile
// flushes fail, consumers and key queries still see every message (the
// units and entries are in the page cache), the failure is logged and
// retried, and the checkpoint's logics safe offset (where recovery starts
// rebuilding after a crash) stays where everything below it is durable.
// It stays there after the fault is gone too (a failed fdatasync may have
// dropped pages a later one cannot bring back), until a restart rebuilds
// the queues and index past it from the commit log.
func TestLogicsFlushFailureHoldsSafeOffset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(path string) bool
	}{
		{"consumequeue", isConsumeQueueFile},
		{"index", func(path string) bool { return isSegmentIn(path, "index") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			o.FlushConsumeQueueLeastPages = 0
			o.FlushCommitLogLeastPages = 0
			in := newInjector(&o)
			var logs logRecorder
			var a arrivals
			s := openStoreLogged(t, o, Hooks{OnMessageArrival: a.hook}, &logs)
			defer func() { s.Close() }()

			var want []string
			for i := range 5 {
				want = append(want, fmt.Sprint("m", i))
				put(t, s, msg("T", 0, want[i], message.PropertyKeys, want[i]))
			}
			require.Eventually(t, func() bool {
				cp := diskCheckpoint(dir)
				return cp.Extended && cp.LogicsSafeOffset == s.MaxPhyOffset()
			}, 10*time.Second, time.Millisecond, "the checkpoint follows the log")
			safe := s.MaxPhyOffset()

			in.fail(syscall.EIO, func(op vfs.Op, path string) bool { return op == vfs.OpSync && tc.match(path) })
			for i := 5; i < 10; i++ {
				want = append(want, fmt.Sprint("m", i))
				put(t, s, msg("T", 0, want[i], message.PropertyKeys, want[i]))
			}
			waitDispatched(t, s)
			in.hits.Store(0) // count flush rounds that saw every new unit
			require.Eventually(t, func() bool { return in.hits.Load() >= 2 }, 10*time.Second, time.Millisecond, "the flush is retried")
			require.True(t, logs.has(slog.LevelError, "flushing consume queues, index or checkpoint failed", "input/output error"), logs.String())
			require.True(t, logs.has(slog.LevelError, "safe point stays at its last value until restart"), logs.String())

			cp := diskCheckpoint(dir)
			require.True(t, cp.Extended)
			require.Equal(t, safe, cp.LogicsSafeOffset, "the safe offset does not pass what is not durable")
			require.Less(t, cp.LogicsSafeOffset, s.MaxPhyOffset())

			require.Equal(t, want, bodies(t, s, "T", 0, 0), "consumers read on")
			require.Len(t, a.list(), 10)
			q, err := s.QueryMessage("T", "m8", 1, 0, time.Now().Add(time.Hour).UnixMilli())
			require.NoError(t, err)
			require.Len(t, q.Messages, 1, "key queries work")

			in.clear()
			want = append(want, "after")
			put(t, s, msg("T", 0, "after", message.PropertyKeys, "after"))
			require.Eventually(t, func() bool {
				return diskCheckpoint(dir).CommitLogFlushedOffset == s.MaxPhyOffset()
			}, 10*time.Second, time.Millisecond, "flush rounds succeed again")
			require.Equal(t, safe, diskCheckpoint(dir).LogicsSafeOffset, "the safe offset holds until restart")
			require.NoError(t, s.Close())
			s = openStoreLogged(t, o, Hooks{}, &logs)
			require.Equal(t, want, bodies(t, s, "T", 0, 0))
			require.Eventually(t, func() bool {
				cp := diskCheckpoint(dir)
				return cp.Extended && cp.LogicsSafeOffset == s.MaxPhyOffset()
			}, 10*time.Second, time.Millisecond, "after the restart's rebuild the checkpoint follows the log again")
		})
	}
}

// TestConsumeQueueSegmentFailureCatchesUp: when dispatch needs a new
// ConsumeQueue segment and the disk is full, dispatch stops at that
// record (it never skips a unit), says so in the log and in Stats, and
// retries by itself: once space is back the queue catches up with no
// gap, and consumers read every message in order. Appends go on
// meanwhile: the commit log is not affected.
func TestConsumeQueueSegmentFailureCatchesUp(t *testing.T) {
	o := testOptions(t.TempDir()) // 100 units per ConsumeQueue segment
	in := newInjector(&o)
	var logs logRecorder
	var a arrivals
	s := openStoreLogged(t, o, Hooks{OnMessageArrival: a.hook}, &logs)
	defer s.Close()

	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("m%03d", i))
		put(t, s, msg("T", 0, want[i]))
	}
	waitDispatched(t, s)
	require.Equal(t, int64(100), s.MaxOffsetInQueue("T", 0), "the first segment is full")

	in.fail(syscall.ENOSPC, func(op vfs.Op, path string) bool { return op == vfs.OpAllocate && isConsumeQueueFile(path) })
	for i := 100; i < 120; i++ {
		want = append(want, fmt.Sprintf("m%03d", i))
		r := put(t, s, msg("T", 0, want[i]))
		require.Equal(t, int64(i), r.QueueOffset)
	}
	require.Eventually(t, func() bool {
		return logs.has(slog.LevelError, "dispatch stalled", "no space left on device")
	}, 10*time.Second, time.Millisecond, logs.String())
	st := s.Stats()
	require.Positive(t, st.DispatchBehindBytes)
	require.Contains(t, st.DispatchError, "no space left on device")
	require.Equal(t, int64(100), s.MaxOffsetInQueue("T", 0))
	require.Equal(t, want[:100], bodies(t, s, "T", 0, 0), "what was dispatched stays readable")

	in.clear() // no new append kicks dispatch: it must retry on its own
	require.Eventually(t, func() bool { return s.MaxOffsetInQueue("T", 0) == 120 }, 10*time.Second, time.Millisecond)
	waitDispatched(t, s)
	require.Equal(t, want, bodies(t, s, "T", 0, 0), "no gap, in order")
	st = s.Stats()
	require.Zero(t, st.DispatchBehindBytes)
	require.Empty(t, st.DispatchError)
	require.True(t, logs.has(slog.LevelInfo, "dispatch resumed"), logs.String())
	got := a.list()
	require.Len(t, got, 120, "every unit announced once")
	for i, g := range got {
		require.Equal(t, int64(i), g.offset)
	}
}

// TestSlaveAppendFailureIsLogged: a slave's AppendToCommitLog that fails
// to write (or, under SYNC_FLUSH, to sync) returns ErrWriteFailed, logs
// why the commit log now refuses writes, shows it in Stats, and refuses
// further appends until restart; after a restart replication resumes
// from the slave's end.
func TestSlaveAppendFailureIsLogged(t *testing.T) {
	master := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer master.Close()
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprint("m", i))
		put(t, master, msg("T", 0, want[i]))
	}
	// ship copies the master's log to slave from the slave's end.
	ship := func(slave *Store) error {
		for slave.MaxPhyOffset() < master.MaxPhyOffset() {
			r, err := master.CommitLogData(slave.MaxPhyOffset())
			require.NoError(t, err)
			err = slave.AppendToCommitLog(r.Offset, r.Bytes)
			r.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, tc := range []struct {
		name  string
		flush string
		op    vfs.Op
	}{
		{"write", AsyncFlush, vfs.OpWrite},
		{"sync", SyncFlush, vfs.OpSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.BrokerRole = RoleSlave
			o.FlushDiskType = tc.flush
			in := newInjector(&o)
			var logs logRecorder
			slave := openStoreLogged(t, o, Hooks{}, &logs)
			defer func() { slave.Close() }()

			in.fail(syscall.EIO, func(op vfs.Op, path string) bool { return op == tc.op && isSegmentIn(path, "commitlog") })
			err := ship(slave)
			require.ErrorIs(t, err, ErrWriteFailed)
			require.ErrorIs(t, err, syscall.EIO)
			require.True(t, logs.has(slog.LevelError, "commit log refuses writes until restart", "input/output error"), logs.String())
			require.Contains(t, slave.Stats().WriteError, "input/output error")
			in.clear()
			require.ErrorIs(t, slave.AppendToCommitLog(slave.MaxPhyOffset(), nil), ErrWriteFailed, "refused until restart")

			slave.Close()
			slave = openStoreLogged(t, o, Hooks{}, &logs)
			require.NoError(t, ship(slave))
			waitDispatched(t, slave)
			require.Equal(t, want, bodies(t, slave, "T", 0, 0))
		})
	}
}
