package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
)

func TestPutGetStatuses(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	ctx := context.Background()

	r, err := s.GetMessage(ctx, "g", "T", 0, 0, 32, 0, nil)
	require.NoError(t, err)
	require.Equal(t, GetNoMatchedLogicQueue, r.Status)
	r.Release()

	for i := range 5 {
		res := put(t, s, msg("T", 0, fmt.Sprint("m", i)))
		require.Equal(t, int64(i), res.QueueOffset)
	}
	waitDispatched(t, s)
	require.Equal(t, int64(0), s.MinOffsetInQueue("T", 0))
	require.Equal(t, int64(5), s.MaxOffsetInQueue("T", 0))
	require.Equal(t, int64(-1), s.MinOffsetInQueue("T", 9))
	require.Equal(t, int64(5), s.AssignedOffsetInQueue("T", 0))

	r, err = s.GetMessage(ctx, "g", "T", 0, 1, 2, 0, nil)
	require.NoError(t, err)
	require.Equal(t, GetFound, r.Status)
	require.Len(t, r.Messages, 2)
	require.Equal(t, []int64{1, 2}, r.QueueOffsets)
	require.Equal(t, int64(3), r.NextBeginOffset)
	require.Equal(t, int64(5), r.MaxOffset)
	rec, err := message.DecodeRecord(r.Messages[0])
	require.NoError(t, err)
	require.Equal(t, "m1", string(rec.Body))
	require.Equal(t, int64(1), rec.QueueOffset)
	r.Release()

	for _, tc := range []struct {
		offset int64
		status GetStatus
		next   int64
	}{
		{5, GetOffsetOverflowOne, 5},
		{9, GetOffsetOverflowBadly, 0}, // min is 0: back to it
	} {
		r, err := s.GetMessage(ctx, "g", "T", 0, tc.offset, 32, 0, nil)
		require.NoError(t, err)
		require.Equal(t, tc.status, r.Status, "offset %d", tc.offset)
		require.Equal(t, tc.next, r.NextBeginOffset, "offset %d", tc.offset)
		r.Release()
	}
	require.Equal(t, []string{"m0", "m1", "m2", "m3", "m4"}, bodies(t, s, "T", 0, 0))
}

type tagFilter struct{ code int64 }

func (f tagFilter) MatchByConsumeQueue(tagsCode int64) bool { return tagsCode == f.code }
func (f tagFilter) MatchByCommitLog([]byte) bool            { return true }

func TestTagFilterAndHook(t *testing.T) {
	var a arrivals
	s := openStore(t, testOptions(t.TempDir()), Hooks{OnMessageArrival: a.hook})
	defer s.Close()
	for i := range 10 {
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		put(t, s, msg("T", 1, fmt.Sprint(i), message.PropertyTags, tag))
	}
	waitDispatched(t, s)
	r, err := s.GetMessage(context.Background(), "g", "T", 1, 0, 32, 0, tagFilter{message.TagsHashCode("TagB")})
	require.NoError(t, err)
	require.Equal(t, GetFound, r.Status)
	require.Equal(t, []int64{1, 3, 5, 7, 9}, r.QueueOffsets)
	require.Equal(t, int64(10), r.NextBeginOffset)
	r.Release()

	r, err = s.GetMessage(context.Background(), "g", "T", 1, 0, 32, 0, tagFilter{42})
	require.NoError(t, err)
	require.Equal(t, GetNoMatchedMessage, r.Status)
	require.Equal(t, int64(10), r.NextBeginOffset, "filtered units are consumed")
	r.Release()

	got := a.list()
	require.Len(t, got, 10)
	require.Equal(t, arrival{"T", 1, 9, message.TagsHashCode("TagB"), "TAGS\x01TagB\x02"}, got[9])
}

func TestRestartKeepsMessagesAndOffsets(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	s := openStore(t, o, Hooks{})
	fill(t, s, "A", 0, 300, 900) // several segments
	fill(t, s, "B", 3, 10, 10)
	require.NoError(t, s.Close())
	_, err := os.Stat(filepath.Join(dir, "abort"))
	require.True(t, os.IsNotExist(err), "clean shutdown removes the abort marker")

	s = openStore(t, o, Hooks{})
	defer s.Close()
	require.Equal(t, int64(300), s.MaxOffsetInQueue("A", 0))
	require.Equal(t, int64(10), s.MaxOffsetInQueue("B", 3))
	got := bodies(t, s, "A", 0, 0)
	require.Len(t, got, 300)
	require.Equal(t, "000299-", got[299][:7])
	// Queue offsets continue.
	require.Equal(t, int64(10), put(t, s, msg("B", 3, "next")).QueueOffset)
}

func TestCrashRecoveryRebuildsConsumeQueues(t *testing.T) {
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(dir)
			o.FlushDiskType = mode
			o.FlushIntervalConsumeQueue = 60_000 // never before the crash
			s := openStore(t, o, Hooks{})
			fill(t, s, "A", 0, 200, 1000)
			waitDispatched(t, s)
			s.crash()
			_, err := os.Stat(filepath.Join(dir, "abort"))
			require.NoError(t, err)

			// Lose the consume queue entirely: recovery must rebuild it.
			require.NoError(t, os.RemoveAll(filepath.Join(dir, "consumequeue")))
			s = openStore(t, o, Hooks{})
			defer s.Close()
			require.Equal(t, int64(200), s.MaxOffsetInQueue("A", 0))
			got := bodies(t, s, "A", 0, 0)
			require.Len(t, got, 200)
			require.Equal(t, int64(200), put(t, s, msg("A", 0, "after")).QueueOffset)
		})
	}
}

func TestStoreLockRefusesSecondOpen(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openStore(t, o, Hooks{})
	defer s.Close()
	_, err := Open(o, nil, Hooks{})
	require.ErrorIs(t, err, ErrLocked)
}

func TestBadMessagesAreRefused(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	ctx := context.Background()
	long := msg(string(make([]byte, 128)), 0, "x")
	for i := range long.Topic {
		_ = i
	}
	long.Topic = fmt.Sprintf("%0128d", 0)
	props := msg("T", 0, "x")
	props.Properties = make([]byte, 32768)
	cases := map[string]struct {
		m      *message.Inner
		status PutStatus
		err    error
	}{
		"empty topic":     {msg("", 0, "x"), PutMessageIllegal, ErrMessageIllegal},
		"topic 128 bytes": {long, PutMessageIllegal, ErrMessageIllegal},
		"path in topic":   {msg("../etc", 0, "x"), PutMessageIllegal, ErrMessageIllegal},
		"properties":      {props, PutPropertiesSizeExceeded, ErrMessageIllegal},
		"too large":       {msg("T", 0, string(make([]byte, 65<<10))), PutMessageIllegal, ErrMessageTooLarge},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := s.PutMessage(ctx, tc.m)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, tc.status, r.Status)
		})
	}
	require.Equal(t, int64(0), s.MaxPhyOffset(), "nothing written")
}

func TestScheduleTopicTagsCodeIsDeliveryTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	o := testOptions(t.TempDir())
	o.Now = func() time.Time { return now }
	var a arrivals
	s := openStore(t, o, Hooks{OnMessageArrival: a.hook})
	defer s.Close()
	put(t, s, msg(ScheduleTopic, 2, "lvl3", message.PropertyDelayTimeLevel, "3", message.PropertyTags, "x"))
	put(t, s, msg(ScheduleTopic, 17, "lvl99", message.PropertyDelayTimeLevel, "99"))
	put(t, s, msg(ScheduleTopic, 0, "timer", message.PropertyTimerDeliverMS, "1234567"))
	put(t, s, msg("Normal", 0, "n", message.PropertyDelayTimeLevel, "3", message.PropertyTags, "x"))
	waitDispatched(t, s)
	got := a.list()
	require.Equal(t, now.UnixMilli()+10_000, got[0].tagsCode, "level 3 is 10s")
	require.Equal(t, now.UnixMilli()+2*3600_000, got[1].tagsCode, "clamped to the highest level (2h)")
	require.Equal(t, int64(1234567), got[2].tagsCode)
	require.Equal(t, message.TagsHashCode("x"), got[3].tagsCode)

	// Recovery's re-dispatch computes the same codes.
	dir := o.StorePathRootDir
	s.crash()
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "consumequeue")))
	s2 := openStore(t, o, Hooks{})
	defer s2.Close()
	cq := s2.cqs.get(ScheduleTopic, 2)
	require.NotNil(t, cq)
	u, ok := cq.Unit(0)
	require.True(t, ok)
	require.Equal(t, now.UnixMilli()+10_000, u.TagsCode)
}

func TestHalfMessagesAreNotConsumable(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	half := msg("T", 0, "half", message.PropertyUniqClientMessageIDKeyIdx, "U1")
	half.SysFlag = message.TransactionPreparedType
	r := put(t, s, half)
	require.Equal(t, int64(0), r.QueueOffset)
	put(t, s, msg("T", 0, "normal"))
	waitDispatched(t, s)
	require.Equal(t, []string{"normal"}, bodies(t, s, "T", 0, 0))
	// Still findable by key and offset (transaction checks need it).
	q, err := s.QueryMessage("T", "U1", 10, 0, time.Now().Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	require.Len(t, q.Messages, 1)
	m, err := s.LookMessageByOffset(r.CommitLogOffset)
	require.NoError(t, err)
	require.Equal(t, "half", string(m.Body))
}

func TestQueryMessageByKeys(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	for i := range 20 {
		put(t, s, msg("T", 0, fmt.Sprint(i), message.PropertyKeys, fmt.Sprintf("order%d all", i%3),
			message.PropertyUniqClientMessageIDKeyIdx, fmt.Sprintf("UNIQ%02d", i)))
	}
	put(t, s, msg("Other", 0, "o", message.PropertyKeys, "order1"))
	waitDispatched(t, s)
	end := time.Now().Add(time.Hour).UnixMilli()
	q, err := s.QueryMessage("T", "order1", 100, 0, end)
	require.NoError(t, err)
	require.Len(t, q.Messages, 7)
	q, err = s.QueryMessage("T", "UNIQ07", 100, 0, end)
	require.NoError(t, err)
	require.Len(t, q.Messages, 1)
	ext, err := message.DecodeMessageExt(q.Messages[0])
	require.NoError(t, err)
	require.Equal(t, "7", string(ext.Body))
	require.Equal(t, "UNIQ07", ext.MsgID)
	q, err = s.QueryMessage("T", "all", 5, 0, end)
	require.NoError(t, err)
	require.Len(t, q.Messages, 5)
}

func TestOffsetByTimeAndTimestamps(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	o := testOptions(t.TempDir())
	o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, o, Hooks{})
	defer s.Close()
	for i := range 10 {
		mu.Lock()
		now = time.Date(2026, 1, 1, 0, 0, i*10, 0, time.UTC)
		mu.Unlock()
		put(t, s, msg("T", 0, fmt.Sprint(i)))
	}
	waitDispatched(t, s)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	require.Equal(t, int64(3), s.OffsetInQueueByTime("T", 0, base+25_000))
	require.Equal(t, int64(0), s.OffsetInQueueByTime("T", 0, 0))
	require.Equal(t, int64(10), s.OffsetInQueueByTime("T", 0, base+1e9))
	ts, err := s.EarliestMessageTime("T", 0)
	require.NoError(t, err)
	require.Equal(t, base, ts)
	ts, err = s.MessageStoreTimestamp("T", 0, 4)
	require.NoError(t, err)
	require.Equal(t, base+40_000, ts)
}

func TestDeleteTopics(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, testOptions(dir), Hooks{})
	defer s.Close()
	put(t, s, msg("Gone", 0, "a"))
	put(t, s, msg("Gone", 1, "b"))
	put(t, s, msg("Kept", 0, "c"))
	waitDispatched(t, s)
	require.Equal(t, 2, s.DeleteTopics([]string{"Gone"}))
	require.Equal(t, []string{"Kept"}, s.Topics())
	_, err := os.Stat(filepath.Join(dir, "consumequeue", "Gone"))
	require.True(t, os.IsNotExist(err))
	// A new message recreates it from offset 0.
	require.Equal(t, int64(0), put(t, s, msg("Gone", 0, "again")).QueueOffset)
	waitDispatched(t, s)
	require.Equal(t, []string{"again"}, bodies(t, s, "Gone", 0, 0))
}

func TestRetentionMovesMinOffsets(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	o := testOptions(t.TempDir())
	o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, o, Hooks{})
	defer s.Close()
	fill(t, s, "A", 0, 600, 1000) // ~2.4 segments of 256 KiB
	waitDispatched(t, s)
	minBefore := s.MinPhyOffset()

	mu.Lock()
	now = now.Add(73 * time.Hour)
	mu.Unlock()
	s.CleanNow()
	require.Eventually(t, func() bool { return s.MinPhyOffset() > minBefore && s.MinOffsetInQueue("A", 0) > 0 }, 10*time.Second, 5*time.Millisecond)
	minQ := s.MinOffsetInQueue("A", 0)
	r, err := s.GetMessage(context.Background(), "g", "A", 0, 0, 32, 0, nil)
	require.NoError(t, err)
	require.Equal(t, GetOffsetTooSmall, r.Status)
	require.Equal(t, minQ, r.NextBeginOffset, "readers of a deleted range are sent to the new minimum")
	r.Release()
	got := bodies(t, s, "A", 0, minQ)
	require.Equal(t, int(600-minQ), len(got))
}

func TestDiskFullRefusesAppendsAndRecovers(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	o := testOptions(t.TempDir())
	o.FS = fs
	s := openStore(t, o, Hooks{})
	defer s.Close()
	put(t, s, msg("T", 0, "before"))
	fs.SetUsage(func(string) (vfs.Usage, error) { return vfs.Usage{Total: 100, Free: 5}, nil })
	s.CleanNow()
	require.Eventually(t, func() bool { return s.Stats().DiskFull }, 5*time.Second, time.Millisecond)
	r, err := s.PutMessage(context.Background(), msg("T", 0, "refused"))
	require.ErrorIs(t, err, ErrDiskFull)
	require.Equal(t, PutServiceNotAvailable, r.Status)
	waitDispatched(t, s)
	require.Equal(t, []string{"before"}, bodies(t, s, "T", 0, 0), "reads keep working")

	fs.SetUsage(nil)
	s.CleanNow()
	require.Eventually(t, func() bool { return !s.Stats().DiskFull }, 5*time.Second, time.Millisecond)
	put(t, s, msg("T", 0, "after"))
	waitDispatched(t, s)
	require.Equal(t, []string{"before", "after"}, bodies(t, s, "T", 0, 0))
}

func TestPutMessageAsyncUnderSyncFlush(t *testing.T) {
	o := testOptions(t.TempDir())
	o.FlushDiskType = SyncFlush
	s := openStore(t, o, Hooks{})
	defer s.Close()
	const n = 500
	var wg sync.WaitGroup
	wg.Add(n)
	results := make([]PutResult, n)
	for i := range n {
		s.PutMessageAsync(context.Background(), msg("T", 0, fmt.Sprint(i)), func(r PutResult, err error) {
			require.NoError(t, err)
			results[i] = r
			wg.Done()
		})
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, int64(i), r.QueueOffset)
		require.LessOrEqual(t, r.CommitLogOffset+int64(r.WroteBytes), s.cl.FlushedOffset(), "acknowledged only once durable")
	}
	st := s.Stats()
	require.Less(t, st.CommitLogFlushes, int64(n), "group commit")
}

func TestBatchPut(t *testing.T) {
	s := openStore(t, testOptions(t.TempDir()), Hooks{})
	defer s.Close()
	put(t, s, msg("T", 0, "first"))
	batch := []*message.Inner{msg("T", 0, "b0"), msg("T", 0, "b1"), msg("T", 0, "b2")}
	r, err := s.PutMessages(context.Background(), batch)
	require.NoError(t, err)
	require.Equal(t, 3, r.MsgCount)
	require.Equal(t, int64(1), r.QueueOffset)
	for i, m := range batch {
		require.Equal(t, int64(1+i), m.QueueOffset)
	}
	require.Equal(t, r.CommitLogOffset, batch[0].CommitLogOffset)
	for i := 1; i < len(batch); i++ {
		size, _ := batch[i-1].RecordSize()
		require.Equal(t, batch[i-1].CommitLogOffset+int64(size), batch[i].CommitLogOffset, "records are contiguous")
	}
	waitDispatched(t, s)
	require.Equal(t, []string{"first", "b0", "b1", "b2"}, bodies(t, s, "T", 0, 0))
}
