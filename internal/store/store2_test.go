package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/consumequeue"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
)

// Readers hold GetResults across retention and shutdown; the bytes they
// hold stay mapped and correct until they release them.
func TestReadersRaceRetentionAndShutdown(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	o := testOptions(t.TempDir())
	o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, o, Hooks{})
	fill(t, s, "A", 0, 800, 1000) // ~3 segments
	waitDispatched(t, s)

	stop := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := s.GetMessage(context.Background(), "g", "A", 0, off, 32, 0, nil)
				if err != nil { // closed
					return
				}
				if r.Status == GetFound {
					for i, b := range r.Messages {
						rec, err := message.DecodeRecord(b)
						if err != nil || !rec.CheckBodyCRC() || fmt.Sprintf("%06d", r.QueueOffsets[i]) != string(rec.Body[:6]) {
							t.Errorf("damaged message at %d", r.QueueOffsets[i])
						}
					}
					reads.Add(1)
				}
				off = r.NextBeginOffset
				if r.Status == GetOffsetOverflowOne {
					off = 0
				}
				r.Release()
			}
		}()
	}
	require.Eventually(t, func() bool { return reads.Load() > 20 }, 10*time.Second, time.Millisecond)
	mu.Lock()
	now = now.Add(100 * time.Hour)
	mu.Unlock()
	s.CleanNow()
	require.Eventually(t, func() bool { return s.MinOffsetInQueue("A", 0) > 0 }, 10*time.Second, time.Millisecond)
	require.NoError(t, s.Close())
	close(stop)
	wg.Wait()
}

func TestSuggestPullingFromSlaveAndInDiskLimits(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openStore(t, o, Hooks{})
	defer s.Close()
	fill(t, s, "A", 0, 100, 1000)
	waitDispatched(t, s)
	// Pretend the machine has 100 KiB of RAM: 40% is 40 KiB, so the
	// first messages of a 100 KiB backlog count as on disk.
	s.totalMemory = 100 << 10
	r, err := s.GetMessage(context.Background(), "g", "A", 0, 0, 32, 0, nil)
	require.NoError(t, err)
	require.True(t, r.SuggestPullingFromSlave)
	require.Len(t, r.Messages, o.MaxTransferCountOnMessageInDisk, "on-disk transfer limit")
	r.Release()
	r, err = s.GetMessage(context.Background(), "g", "A", 0, 90, 32, 0, nil)
	require.NoError(t, err)
	require.False(t, r.SuggestPullingFromSlave, "the tail is within the ratio")
	require.Len(t, r.Messages, 10)
	r.Release()
	// maxBytes bounds a batch (at least one message is returned).
	r, err = s.GetMessage(context.Background(), "g", "A", 0, 50, 32, 2500, nil)
	require.NoError(t, err)
	require.Len(t, r.Messages, 2)
	r.Release()
}

func TestQueueResident(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	fill(t, s, "A", 0, 50, 1000)
	waitDispatched(t, s)
	res, total, err := s.QueueResident("A", 0, 10)
	require.NoError(t, err)
	require.Greater(t, total, int64(40*1000))
	require.Equal(t, total, res, "just written: all in the page cache")
	_, _, err = s.QueueResident("nope", 0, 0)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestReplicationToSlave(t *testing.T) {
	var a arrivals
	master := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer master.Close()
	so := testOptions(t.TempDir())
	so.BrokerRole = RoleSlave
	slave := openStore(t, so, Hooks{OnMessageArrival: a.hook})
	defer slave.Close()
	for i := range 400 {
		put(t, master, msg("T", int32(i%2), fmt.Sprintf("%04d%s", i, string(make([]byte, 900))), message.PropertyKeys, fmt.Sprint("key", i)))
	}
	// The master's queues are compared below: its dispatch runs behind
	// the acknowledgements, so wait for it as for the slave's.
	waitDispatched(t, master)
	// Ship the log the way HA does: from the slave's end, in chunks.
	for slave.MaxPhyOffset() < master.MaxPhyOffset() {
		r, err := master.CommitLogData(slave.MaxPhyOffset())
		require.NoError(t, err)
		b := r.Bytes[:min(len(r.Bytes), 32<<10)]
		require.NoError(t, slave.AppendToCommitLog(r.Offset, b))
		r.Release()
	}
	waitDispatched(t, slave)
	require.Equal(t, master.MaxOffsetInQueue("T", 1), slave.MaxOffsetInQueue("T", 1))
	require.Equal(t, bodies(t, master, "T", 1, 0), bodies(t, slave, "T", 1, 0))
	require.Len(t, a.list(), 400)
	q, err := slave.QueryMessage("T", "key123", 4, 0, time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	require.Len(t, q.Messages, 1)
	_, err = slave.PutMessage(context.Background(), msg("T", 0, "x"))
	require.ErrorIs(t, err, ErrSlave)
	require.ErrorIs(t, slave.AppendToCommitLog(slave.MaxPhyOffset()+8, []byte{1}), ErrOffsetMismatch)
}

func TestFlushTimeoutStoresButReportsStatus(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	o := testOptions(t.TempDir())
	o.FS = fs
	o.FlushDiskType = SyncFlush
	o.SyncFlushTimeout = 50
	s := openStore(t, o, Hooks{})
	defer s.Close()
	put(t, s, msg("T", 0, "fast"))
	release := make(chan struct{})
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpSync && filepath.Base(filepath.Dir(path)) == "commitlog" {
			<-release
		}
		return nil
	})
	r, err := s.PutMessage(context.Background(), msg("T", 0, "slow disk"))
	require.ErrorIs(t, err, ErrFlushTimeout)
	require.Equal(t, PutFlushDiskTimeout, r.Status)
	require.Equal(t, int64(1), r.QueueOffset, "stored, with its offsets")
	close(release)
	fs.SetRule(nil)
	// Readers see it once the sync completed (SYNC_FLUSH dispatches only
	// durable records).
	require.Eventually(t, func() bool {
		return s.cl.FlushedOffset() >= r.CommitLogOffset+int64(r.WroteBytes)
	}, 10*time.Second, time.Millisecond)
	waitDispatched(t, s)
	require.Equal(t, []string{"fast", "slow disk"}, bodies(t, s, "T", 0, 0))
	require.Equal(t, int64(1), s.Stats().PutMessageFlushTimeouts)
}

func TestWriteErrorRefusesAppendsKeepsReads(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	dir := t.TempDir()
	o := testOptions(dir)
	o.FS = fs
	s := openStore(t, o, Hooks{})
	put(t, s, msg("T", 0, "kept"))
	waitDispatched(t, s)
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpWrite && filepath.Base(filepath.Dir(path)) == "commitlog" {
			return syscall.EIO
		}
		return nil
	})
	r, err := s.PutMessage(context.Background(), msg("T", 0, "lost"))
	require.ErrorIs(t, err, ErrWriteFailed)
	require.Equal(t, PutServiceNotAvailable, r.Status)
	fs.SetRule(nil)
	_, err = s.PutMessage(context.Background(), msg("T", 0, "refused"))
	require.ErrorIs(t, err, ErrWriteFailed, "no writes until restart")
	require.Equal(t, []string{"kept"}, bodies(t, s, "T", 0, 0))
	require.NotEmpty(t, s.Stats().WriteError)
	require.ErrorContains(t, s.Close(), "refused writes", "Close does not claim a clean shutdown")

	s = openStore(t, o, Hooks{})
	defer s.Close()
	put(t, s, msg("T", 0, "after restart"))
	waitDispatched(t, s)
	require.Equal(t, []string{"kept", "after restart"}, bodies(t, s, "T", 0, 0))
}

func TestCorruptRecordCutsLogAndQueues(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	s := openStore(t, o, Hooks{})
	var rs []PutResult
	for i := range 20 {
		rs = append(rs, put(t, s, msg("T", 0, fmt.Sprintf("body-%02d", i))))
	}
	waitDispatched(t, s)
	s.crash()

	f, err := os.OpenFile(filepath.Join(dir, "commitlog", mappedfile.FileName(0)), os.O_RDWR, 0)
	require.NoError(t, err)
	// Damage the body of record 10 ("body-10" starts after the fixed part).
	b := make([]byte, rs[10].WroteBytes)
	_, err = f.ReadAt(b, rs[10].CommitLogOffset)
	require.NoError(t, err)
	rec, err := message.DecodeRecord(b)
	require.NoError(t, err)
	at := rs[10].CommitLogOffset + int64(len(b)-2-len(rec.Properties)-1-len(rec.Topic)-len(rec.Body))
	_, err = f.WriteAt([]byte("X"), at)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = openStore(t, o, Hooks{})
	defer s.Close()
	require.Equal(t, int64(10), s.MaxOffsetInQueue("T", 0), "units past the cut are gone")
	require.Equal(t, rs[10].CommitLogOffset, s.MaxPhyOffset())
	require.Equal(t, int64(10), put(t, s, msg("T", 0, "new-10")).QueueOffset)
	waitDispatched(t, s)
	got := bodies(t, s, "T", 0, 0)
	require.Len(t, got, 11)
	require.Equal(t, "new-10", got[10])
}

func TestIndexFailureDoesNotStallConsumers(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	o := testOptions(t.TempDir())
	o.FS = fs
	o.MaxIndexNum = 8 // a new index file every 7 keys
	s := openStore(t, o, Hooks{})
	defer s.Close()
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpOpen && filepath.Base(filepath.Dir(path)) == "index" {
			return syscall.ENOSPC
		}
		return nil
	})
	for i := range 20 {
		put(t, s, msg("T", 0, fmt.Sprint(i), message.PropertyKeys, fmt.Sprint("k", i)))
	}
	waitDispatched(t, s)
	require.Len(t, bodies(t, s, "T", 0, 0), 20)
	require.Positive(t, s.Stats().IndexErrors)
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	fill(t, s, "A", 0, 100, 100)
	waitDispatched(t, s)
	ctx := context.Background()
	filter := tagFilter{0}
	allocs := testing.AllocsPerRun(200, func() {
		r, err := s.GetMessage(ctx, "g", "A", 0, 10, 32, 0, nil)
		if err != nil || r.Status != GetFound {
			t.Fatal(r.Status, err)
		}
		r.Release()
		r, _ = s.GetMessage(ctx, "g", "A", 0, 10, 32, 0, filter)
		r.Release()
	})
	require.Zero(t, allocs, "GetMessage")

	m := msg("A", 1, "x")
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "PutMessage")
}

// TestRecoveryRewritesDisagreeingUnit: a ConsumeQueue unit that still
// looks valid but disagrees with the commit log (torn by a power loss) is
// rewritten from the log by recovery, so the consumer reads the right
// message instead of a wrong slice of the log.
func TestRecoveryRewritesDisagreeingUnit(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	s := openStore(t, o, Hooks{})
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("body-%02d", i))
		put(t, s, msg("T", 0, want[i]))
	}
	waitDispatched(t, s)
	s.crash()
	// No checkpoint: recovery re-dispatches the whole log.
	require.NoError(t, os.Remove(filepath.Join(dir, "checkpoint")))

	f, err := os.OpenFile(filepath.Join(dir, "consumequeue", "T", "0", mappedfile.FileName(0)), os.O_RDWR, 0)
	require.NoError(t, err)
	// Unit 5 now points at record 6: valid-looking, and wrong.
	u6 := make([]byte, consumequeue.UnitSize)
	_, err = f.ReadAt(u6, 6*consumequeue.UnitSize)
	require.NoError(t, err)
	_, err = f.WriteAt(u6, 5*consumequeue.UnitSize)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = openStore(t, o, Hooks{})
	defer s.Close()
	require.Equal(t, int64(20), s.MaxOffsetInQueue("T", 0))
	require.Equal(t, want, bodies(t, s, "T", 0, 0))
}
