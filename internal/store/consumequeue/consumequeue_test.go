package consumequeue

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, dir string) *ConsumeQueue {
	t.Helper()
	q, err := Open(vfs.Default, dir, "T", 0, 10, nil) // 10 units (200 B) per segment
	require.NoError(t, err)
	require.NoError(t, q.Recover(true))
	return q
}

func unitFor(i int64) Unit { return Unit{Offset: 1000 + i*100, Size: 100, TagsCode: i} }

func TestPutReadRecover(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir)
	for i := range int64(25) {
		wrote, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
		require.True(t, wrote)
	}
	require.Equal(t, int64(25), q.MaxOffset())
	require.Equal(t, int64(1000+25*100), q.MaxPhyOffset())
	f, units, ok := q.Units(8, 100)
	require.True(t, ok)
	require.Len(t, units, 2*UnitSize, "stops at the segment end")
	require.Equal(t, unitFor(8), DecodeUnit(units))
	f.Release()

	// Re-dispatch of an existing offset is skipped.
	wrote, err := q.Put(3, Unit{Offset: 1, Size: 1})
	require.NoError(t, err)
	require.False(t, wrote)
	require.NoError(t, q.Flush())
	q.Close()

	q = open(t, dir)
	defer q.Close()
	require.Equal(t, int64(25), q.MaxOffset())
	require.Equal(t, int64(0), q.MinOffset())
	u, ok := q.Unit(24)
	require.True(t, ok)
	require.Equal(t, unitFor(24), u)
}

func TestRecoverZeroesGarbageAfterTheEnd(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir)
	for i := range int64(8) {
		_, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
	}
	require.NoError(t, q.Flush())
	q.Close()
	// Unit 3 is lost (a hole), units after it survived.
	f, err := os.OpenFile(filepath.Join(dir, mappedfile.FileName(0)), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(make([]byte, UnitSize), 3*UnitSize)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	q = open(t, dir)
	require.Equal(t, int64(3), q.MaxOffset())
	// Writing units 3..4 again must not make 5..7 reappear on recovery.
	for i := int64(3); i < 5; i++ {
		_, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
	}
	require.NoError(t, q.Flush())
	q.Close()
	q = open(t, dir)
	defer q.Close()
	require.Equal(t, int64(5), q.MaxOffset())
}

// TestCleanRecoverReadsOnlyTheWrittenPart: after a clean shutdown a
// queue's mostly empty segment is not paged in (a broker with thousands of
// queues would otherwise read gigabytes of zeros at start-up); after a
// crash the rest of the segment is read, to find stray bytes.
func TestCleanRecoverReadsOnlyTheWrittenPart(t *testing.T) {
	const units = 50_000 // a 1 MB segment
	dir := t.TempDir()
	q, err := Open(vfs.Default, dir, "T", 0, units, nil)
	require.NoError(t, err)
	require.NoError(t, q.Recover(true))
	_, err = q.Put(0, unitFor(0))
	require.NoError(t, err)
	require.NoError(t, q.Flush())
	first := q.segs.First()
	q.Close()
	<-first.Done()

	resident := func(afterCrash bool) int64 {
		t.Helper()
		// Drop the segment's (clean) pages from the page cache.
		f, err := os.Open(filepath.Join(dir, mappedfile.FileName(0)))
		require.NoError(t, err)
		require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
		require.NoError(t, f.Close())

		q, err := Open(vfs.Default, dir, "T", 0, units, nil)
		require.NoError(t, err)
		defer q.Close()
		require.NoError(t, q.Recover(afterCrash))
		require.Equal(t, int64(1), q.MaxOffset())
		seg := q.segs.First()
		require.True(t, seg.Acquire())
		defer seg.Release()
		n, err := seg.Resident(0, seg.Size(), make([]byte, 64))
		require.NoError(t, err)
		return n
	}
	if n := resident(true); n < units*UnitSize/2 {
		t.Skipf("the page cache kept only %d bytes after a full scan: eviction or residency not observable here", n)
	}
	require.LessOrEqual(t, resident(false), int64(64<<10), "a clean recovery reads a page or two, not the segment")
}

func TestTruncateAfterPhy(t *testing.T) {
	q := open(t, t.TempDir())
	defer q.Close()
	for i := range int64(25) {
		_, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
	}
	// The commit log now ends inside record 12.
	require.NoError(t, q.TruncateAfterPhy(1000+12*100+50))
	require.Equal(t, int64(12), q.MaxOffset())
	require.Equal(t, int64(1000+12*100), q.MaxPhyOffset())
	_, err := q.Put(12, unitFor(12))
	require.NoError(t, err)
	require.Equal(t, int64(13), q.MaxOffset())
}

func TestQueueStartingAboveZeroAndGaps(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir)
	_, err := q.Put(23, unitFor(23))
	require.NoError(t, err)
	require.Equal(t, int64(23), q.MinOffset())
	require.Equal(t, int64(24), q.MaxOffset())
	_, ok := q.Unit(5)
	require.False(t, ok, "segments below the start do not exist")
	u, ok := q.Unit(21)
	require.True(t, ok)
	require.True(t, u.Blank())
	// A gap is filled with blanks, keeping offsets aligned.
	_, err = q.Put(26, unitFor(26))
	require.NoError(t, err)
	u, _ = q.Unit(25)
	require.True(t, u.Blank())
	u, _ = q.Unit(26)
	require.Equal(t, unitFor(26), u)
	require.NoError(t, q.Flush())
	q.Close()

	q = open(t, dir)
	defer q.Close()
	require.Equal(t, int64(23), q.MinOffset(), "leading blanks are skipped on recovery")
	require.Equal(t, int64(27), q.MaxOffset())
}

func TestDeleteExpiredAndCorrectMin(t *testing.T) {
	q := open(t, t.TempDir())
	defer q.Close()
	for i := range int64(35) {
		_, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
	}
	// Commit log now starts at record 14.
	require.Equal(t, 1, q.DeleteExpired(1000+14*100))
	require.Equal(t, int64(14), q.MinOffset())
	_, ok := q.Unit(9)
	require.False(t, ok)
	require.Equal(t, 1, q.DeleteExpired(1000+25*100))
	require.Equal(t, int64(25), q.MinOffset())
	require.Equal(t, 1, q.DeleteExpired(1<<40))
	require.Equal(t, 0, q.DeleteExpired(1<<40), "the last segment stays")
	require.Equal(t, int64(35), q.MinOffset(), "every unit points below the log")
	require.Len(t, q.Segments().Files(), 1)
}

func TestOffsetByTime(t *testing.T) {
	q := open(t, t.TempDir())
	defer q.Close()
	for i := range int64(30) {
		_, err := q.Put(i, unitFor(i))
		require.NoError(t, err)
	}
	// Record i was stored at time 10*i.
	storeTime := func(phy int64) (int64, bool) { return (phy - 1000) / 100 * 10, true }
	require.Equal(t, int64(0), q.OffsetByTime(-5, storeTime))
	require.Equal(t, int64(7), q.OffsetByTime(70, storeTime))
	require.Equal(t, int64(8), q.OffsetByTime(71, storeTime))
	require.Equal(t, int64(30), q.OffsetByTime(1000, storeTime))
}

func FuzzDecodeUnit(f *testing.F) {
	b := make([]byte, UnitSize)
	putUnit(b, Unit{Offset: 5, Size: 7, TagsCode: -3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < UnitSize {
			return
		}
		u := DecodeUnit(b)
		out := make([]byte, UnitSize)
		putUnit(out, u)
		require.Equal(t, b[:UnitSize], out)
	})
}
