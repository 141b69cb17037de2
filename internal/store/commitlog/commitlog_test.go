package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testOptions(dir string, mode FlushMode) Options {
	return Options{
		Dir:                   dir,
		SegmentSize:           64 << 10,
		MaxMessageSize:        8 << 10,
		FlushMode:             mode,
		FlushInterval:         5 * time.Millisecond,
		FlushLeastPages:       0,
		FlushThoroughInterval: 20 * time.Millisecond,
		SyncFlushTimeout:      2 * time.Second,
		WriteBufferSize:       32 << 10,
	}
}

func newMsg(topic string, q int32, body string) *message.Inner {
	return &message.Inner{
		Topic:      topic,
		QueueID:    q,
		Body:       []byte(body),
		Properties: message.AppendProperty(nil, message.PropertyTags, "T"),
		BornHost:   netip.MustParseAddrPort("127.0.0.1:1000"),
		StoreHost:  netip.MustParseAddrPort("127.0.0.1:10911"),
	}
}

// waitResult is a Waiter that records one completion.
type waitResult struct {
	ch chan struct{}
	r  Result
	e  error
}

func newWait() *waitResult { return &waitResult{ch: make(chan struct{})} }

func (w *waitResult) AppendDone(r Result, err error) {
	w.r, w.e = r, err
	close(w.ch)
}

func (w *waitResult) get(t testing.TB) (Result, error) {
	t.Helper()
	select {
	case <-w.ch:
		return w.r, w.e
	case <-time.After(10 * time.Second):
		t.Fatal("append not acknowledged")
		return Result{}, nil
	}
}

func openLog(t testing.TB, fs vfs.FS, opts Options) *CommitLog {
	t.Helper()
	c, err := Open(fs, opts, nil)
	require.NoError(t, err)
	_, err = c.Recover(RecoverOptions{ScanFrom: 0, CheckCRC: true, Truncate: true})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	return c
}

func appendSync(t testing.TB, c *CommitLog, msgs ...*message.Inner) Result {
	t.Helper()
	w := newWait()
	require.NoError(t, c.Append(msgs, true, w))
	r, err := w.get(t)
	require.NoError(t, err)
	return r
}

func readAll(t testing.TB, c *CommitLog) []message.Record {
	t.Helper()
	var out []message.Record
	pos := c.MinOffset()
	for pos < c.MaxOffset() {
		seg, b, ok := c.ReadFrom(pos)
		require.True(t, ok, "read at %d", pos)
		size, magic, _ := message.PeekRecordHeader(b)
		if magic == message.MagicBlank {
			seg.Release()
			pos = c.NextSegmentStart(pos)
			continue
		}
		r, err := message.DecodeRecord(b[:size])
		require.NoError(t, err)
		r.Body = bytes.Clone(r.Body)
		r.Topic = bytes.Clone(r.Topic)
		r.Properties = bytes.Clone(r.Properties)
		out = append(out, r)
		seg.Release()
		pos += int64(size)
	}
	return out
}

func TestAppendReadAcrossSegments(t *testing.T) {
	for _, mode := range []FlushMode{AsyncFlush, SyncFlush} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			dir := t.TempDir()
			c := openLog(t, vfs.Default, testOptions(dir, mode))
			defer c.Close()
			const n = 300 // ~ 300*1.1 KiB: several 64 KiB segments
			for i := range n {
				r := appendSync(t, c, newMsg("TopicA", int32(i%2), fmt.Sprintf("%04d", i)+string(make([]byte, 1000))))
				require.Equal(t, int64(i/2), r.QueueOffset)
				require.Equal(t, 1, r.Count)
			}
			recs := readAll(t, c)
			require.Len(t, recs, n)
			for i, r := range recs {
				require.Equal(t, fmt.Sprintf("%04d", i), string(r.Body[:4]))
				require.True(t, r.CheckBodyCRC())
			}
			require.Greater(t, len(c.Segments().Files()), 4)
			if mode == SyncFlush {
				require.Equal(t, c.MaxOffset(), c.FlushedOffset())
			}
		})
	}
}

func TestBatchGetsConsecutiveQueueOffsets(t *testing.T) {
	c := openLog(t, vfs.Default, testOptions(t.TempDir(), AsyncFlush))
	defer c.Close()
	appendSync(t, c, newMsg("T", 1, "x"))
	batch := []*message.Inner{newMsg("T", 1, "a"), newMsg("T", 1, "b"), newMsg("T", 1, "c")}
	r := appendSync(t, c, batch...)
	require.Equal(t, int64(1), r.QueueOffset)
	require.Equal(t, 3, r.Count)
	for i, m := range batch {
		require.Equal(t, int64(1+i), m.QueueOffset)
	}
	require.Equal(t, int64(4), c.QueueOffset("T", 1))

	err := c.Append([]*message.Inner{newMsg("T", 1, "a"), newMsg("T", 2, "b")}, true, newWait())
	require.ErrorIs(t, err, ErrBadMessage)
}

func TestHalfMessagesDoNotAdvanceQueueOffset(t *testing.T) {
	c := openLog(t, vfs.Default, testOptions(t.TempDir(), AsyncFlush))
	defer c.Close()
	appendSync(t, c, newMsg("T", 0, "a"))
	half := newMsg("T", 0, "half")
	half.SysFlag = message.TransactionPreparedType
	r := appendSync(t, c, half)
	require.Equal(t, int64(0), r.QueueOffset)
	r = appendSync(t, c, newMsg("T", 0, "b"))
	require.Equal(t, int64(1), r.QueueOffset)
}

func TestRejectsBadMessagesWithoutWriting(t *testing.T) {
	c := openLog(t, vfs.Default, testOptions(t.TempDir(), AsyncFlush))
	defer c.Close()
	long := newMsg(string(bytes.Repeat([]byte("t"), 128)), 0, "x")
	bigProps := newMsg("T", 0, "x")
	bigProps.Properties = make([]byte, message.MaxPropertiesLength+1)
	cases := map[string]struct {
		m    *message.Inner
		want error
	}{
		"empty topic":     {newMsg("", 0, "x"), ErrBadMessage},
		"topic 128 bytes": {long, ErrBadMessage},
		"big properties":  {bigProps, ErrBadMessage},
		"body too large":  {newMsg("T", 0, string(make([]byte, 9<<10))), ErrMessageTooLarge},
		"negative queue":  {newMsg("T", -1, "x"), ErrBadMessage},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, c.Append([]*message.Inner{tc.m}, true, newWait()), tc.want)
		})
	}
	require.Equal(t, int64(0), c.ReservedOffset())
}

func TestRecoverCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir, SyncFlush)
	c := openLog(t, vfs.Default, opts)
	var ends []int64
	for i := range 10 {
		ends = append(ends, appendSync(t, c, newMsg("T", 0, fmt.Sprint("m", i))).End)
	}
	require.NoError(t, c.Close())

	// Tear the last record: keep half of it.
	path := filepath.Join(dir, mappedfile.FileName(0))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	half := (ends[9] - ends[8]) / 2
	_, err = f.WriteAt(make([]byte, ends[9]-ends[8]-half), ends[8]+half)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	c2, err := Open(vfs.Default, opts, nil)
	require.NoError(t, err)
	res, err := c2.Recover(RecoverOptions{CheckCRC: true, Truncate: true})
	require.NoError(t, err)
	require.True(t, res.Cut, "a torn record is a cut")
	require.Equal(t, ends[8], res.End)
	require.Equal(t, int64(9), res.Records)
	require.Equal(t, ends[9]-ends[8], res.CutBytes, "the torn record's claimed size")
	require.NoError(t, c2.Start())
	defer c2.Close()
	require.Len(t, readAll(t, c2), 9)
	// Appends continue right after the last good record.
	r := appendSync(t, c2, newMsg("T", 0, "after"))
	require.Equal(t, ends[8], r.Offset)
}

func TestRecoverCutsAtCorruptCRCInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(dir, SyncFlush)
	c := openLog(t, vfs.Default, opts)
	var rs []Result
	for i := range 20 {
		rs = append(rs, appendSync(t, c, newMsg("T", 0, fmt.Sprint("body-", i))))
	}
	require.NoError(t, c.Close())

	// Flip a body byte of record 7.
	path := filepath.Join(dir, mappedfile.FileName(0))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	b := make([]byte, rs[7].Size)
	_, err = f.ReadAt(b, rs[7].Offset)
	require.NoError(t, err)
	r, err := message.DecodeRecord(b)
	require.NoError(t, err)
	bodyAt := rs[7].Offset + int64(len(b)-len(r.Properties)-2-len(r.Topic)-1-len(r.Body))
	_, err = f.WriteAt([]byte{'X'}, bodyAt)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	c2, err := Open(vfs.Default, opts, nil)
	require.NoError(t, err)
	res, err := c2.Recover(RecoverOptions{CheckCRC: true, Truncate: true})
	require.NoError(t, err)
	require.True(t, res.Cut)
	require.Contains(t, res.CutReason, "CRC")
	require.Equal(t, rs[7].Offset, res.End)
	require.Equal(t, rs[19].End-rs[7].Offset, res.CutBytes, "13 intact records after the bad one are discarded")
	require.NoError(t, c2.Start())
	require.Len(t, readAll(t, c2), 7)
	// New appends overwrite the zeroed tail; a later recovery does not
	// resurrect the old records behind them.
	for i := range 3 {
		appendSync(t, c2, newMsg("T", 0, fmt.Sprint("new-", i)))
	}
	require.NoError(t, c2.Close())
	c3, err := Open(vfs.Default, opts, nil)
	require.NoError(t, err)
	res, err = c3.Recover(RecoverOptions{CheckCRC: true, Truncate: true})
	require.NoError(t, err)
	require.False(t, res.Cut)
	require.Equal(t, int64(10), res.Records)
	require.NoError(t, c3.Close())
}

func TestSyncFlushGroupCommit(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	c := openLog(t, fs, testOptions(t.TempDir(), SyncFlush))
	defer c.Close()
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				appendSync(t, c, newMsg("T", int32(w%4), fmt.Sprint(w, "-", i)))
			}
		}()
	}
	wg.Wait()
	syncs := fs.Count(vfs.OpSync)
	require.Less(t, syncs, writers*each, "one fdatasync must cover many appends")
	require.Equal(t, c.MaxOffset(), c.FlushedOffset())
	t.Logf("%d appends, %d fdatasyncs", writers*each, syncs)
}

func TestSyncFlushTimeoutIsAnError(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	opts := testOptions(t.TempDir(), SyncFlush)
	opts.SyncFlushTimeout = 50 * time.Millisecond
	c := openLog(t, fs, opts)
	release := make(chan struct{})
	var once sync.Once
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpSync {
			<-release // a disk that hangs
		}
		return nil
	})
	w := newWait()
	require.NoError(t, c.Append([]*message.Inner{newMsg("T", 0, "x")}, true, w))
	_, err := w.get(t)
	require.ErrorIs(t, err, ErrFlushTimeout)

	// Appends made while the committer is stuck in that fdatasync wait in
	// the active buffer: they are answered on time too, and exactly once
	// (a second answer would close a closed channel) when the disk is back.
	later := []*waitResult{newWait(), newWait()}
	for i, lw := range later {
		require.NoError(t, c.Append([]*message.Inner{newMsg("T", 0, fmt.Sprint("y", i))}, true, lw))
	}
	for _, lw := range later {
		r, err := lw.get(t)
		require.ErrorIs(t, err, ErrFlushTimeout)
		require.Positive(t, r.Offset, "the answer carries where the record is stored")
	}
	require.Equal(t, int64(3), c.Stats().FlushTimeout.Load())
	once.Do(func() { close(release) })
	fs.SetRule(nil)
	require.Eventually(t, func() bool { return c.FlushedOffset() >= later[1].r.End }, 10*time.Second, time.Millisecond,
		"the stored records reach the disk once it is back")
	require.Len(t, readAll(t, c), 3)
	require.NoError(t, c.Close())
}

func TestFlushFailureBreaksLogButReadsWork(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	c := openLog(t, fs, testOptions(t.TempDir(), SyncFlush))
	defer c.Close()
	appendSync(t, c, newMsg("T", 0, "ok"))
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpSync {
			return syscall.EIO
		}
		return nil
	})
	w := newWait()
	require.NoError(t, c.Append([]*message.Inner{newMsg("T", 0, "lost")}, true, w))
	_, err := w.get(t)
	require.ErrorIs(t, err, ErrBroken)
	require.ErrorIs(t, err, syscall.EIO)
	fs.SetRule(nil)
	// Refuses writes until restart...
	require.ErrorIs(t, c.Append([]*message.Inner{newMsg("T", 0, "x")}, true, newWait()), ErrBroken)
	// ...and still serves what it has.
	recs := readAll(t, c)
	require.Equal(t, "ok", string(recs[0].Body))
}

func TestWriteFailureFailsWaiters(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	c := openLog(t, fs, testOptions(t.TempDir(), AsyncFlush))
	defer c.Close()
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpWrite {
			return syscall.EIO
		}
		return nil
	})
	w := newWait()
	require.NoError(t, c.Append([]*message.Inner{newMsg("T", 0, "x")}, true, w))
	_, err := w.get(t)
	require.ErrorIs(t, err, ErrBroken)
	require.Equal(t, int64(0), c.MaxOffset(), "nothing half-written is visible")
}

func TestDiskFullAtRollIsRecoverable(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	opts := testOptions(t.TempDir(), AsyncFlush)
	c := openLog(t, fs, opts)
	defer c.Close()
	appendSync(t, c, newMsg("T", 0, "first"))
	// The preallocator may already hold the next segment; remove any
	// chance of that by failing every allocation from now on and filling
	// two segments.
	full := true
	var mu sync.Mutex
	fs.SetRule(func(op vfs.Op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == vfs.OpAllocate && full {
			return syscall.ENOSPC
		}
		return nil
	})
	var gotFull error
	for i := 0; i < 200 && gotFull == nil; i++ {
		w := newWait()
		err := c.Append([]*message.Inner{newMsg("T", 0, string(make([]byte, 4000)))}, true, w)
		if err != nil {
			gotFull = err
			break
		}
		_, err = w.get(t)
		require.NoError(t, err)
	}
	require.ErrorIs(t, gotFull, ErrDiskFull)
	before := c.ReservedOffset()
	require.Equal(t, before, c.MaxOffset(), "the refused append wrote nothing")
	mu.Lock()
	full = false
	mu.Unlock()
	appendSync(t, c, newMsg("T", 0, "after space returned"))
	recs := readAll(t, c)
	require.Equal(t, "after space returned", string(recs[len(recs)-1].Body))
}

func TestReaderKeepsSegmentMappedUntilRelease(t *testing.T) {
	opts := testOptions(t.TempDir(), AsyncFlush)
	c := openLog(t, vfs.Default, opts)
	r := appendSync(t, c, newMsg("T", 0, "hold me"))
	for range 100 {
		appendSync(t, c, newMsg("T", 0, string(make([]byte, 2000))))
	}
	seg, b, ok := c.Read(r.Offset, r.Size)
	require.True(t, ok)
	first := c.Segments().First()
	require.Equal(t, 1, c.DeleteExpired(time.Now().Add(time.Hour), true, 1, c.MaxOffset()))
	select {
	case <-first.Done():
		t.Fatal("segment unmapped while a reader holds it")
	default:
	}
	rec, err := message.DecodeRecord(b)
	require.NoError(t, err)
	require.Equal(t, "hold me", string(rec.Body))
	seg.Release()
	<-first.Done()
	_, _, ok = c.Read(r.Offset, r.Size)
	require.False(t, ok, "deleted range is gone")
	require.NoError(t, c.Close())
}

func TestAppendRawReplicatesByteForByte(t *testing.T) {
	master := openLog(t, vfs.Default, testOptions(t.TempDir(), AsyncFlush))
	defer master.Close()
	for i := range 150 {
		appendSync(t, master, newMsg("T", 0, fmt.Sprint(i, string(make([]byte, 700)))))
	}
	slave := openLog(t, vfs.Default, testOptions(t.TempDir(), AsyncFlush))
	defer slave.Close()
	pos := int64(0)
	for pos < master.MaxOffset() {
		seg, b, ok := master.ReadFrom(pos)
		require.True(t, ok)
		// Ship in odd-sized chunks that split records.
		for len(b) > 0 {
			n := min(len(b), 3000)
			require.NoError(t, slave.AppendRaw(pos, b[:n]))
			pos += int64(n)
			b = b[n:]
		}
		seg.Release()
	}
	require.Equal(t, master.MaxOffset(), slave.MaxOffset())
	require.Equal(t, readAll(t, master), readAll(t, slave))
	require.ErrorIs(t, slave.AppendRaw(pos+1, []byte{1}), ErrOffsetMismatch)
}

func TestClosedLogRefusesAppends(t *testing.T) {
	c := openLog(t, vfs.Default, testOptions(t.TempDir(), SyncFlush))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	err := c.Append([]*message.Inner{newMsg("T", 0, "x")}, true, newWait())
	require.True(t, errors.Is(err, ErrClosed))
}
