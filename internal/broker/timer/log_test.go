package timer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/store/vfs"
)

func TestEntryEncoding(t *testing.T) {
	e := entry{slot: 1_700_000_000, prev: -1, deliverMs: 1_700_000_000_123, offset: 1 << 40, size: 300}
	var b [entrySize]byte
	e.encode(b[:])
	got, err := decodeEntry(b[:])
	require.NoError(t, err)
	require.Equal(t, e, got)

	for i := range entrySize {
		c := b
		c[i] ^= 0x10
		_, err := decodeEntry(c[:])
		require.ErrorIs(t, err, ErrCorrupt, "byte %d flipped", i)
	}
	_, err = decodeEntry(make([]byte, entrySize))
	require.ErrorIs(t, err, ErrCorrupt, "zeros are not an entry")
	_, err = decodeEntry(b[:39])
	require.ErrorIs(t, err, ErrCorrupt)
	for _, bad := range []entry{{prev: -2, size: 1}, {prev: -1, offset: -1, size: 1}, {prev: -1, size: 0}} {
		bad.encode(b[:])
		_, err := decodeEntry(b[:])
		require.ErrorIs(t, err, ErrCorrupt, "%+v", bad)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	var b [entrySize]byte
	(&entry{slot: 5, prev: -1, deliverMs: 5000, offset: 9, size: 100}).encode(b[:])
	f.Add(b[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			return
		}
		var out [entrySize]byte
		e.encode(out[:])
		require.Equal(t, data[:entrySize], out[:])
	})
}

func openTestLog(t *testing.T, dir string, entriesPerFile int64) *timerLog {
	t.Helper()
	l, err := openLog(vfs.Default, dir, entriesPerFile*entrySize+7, nil)
	require.NoError(t, err)
	t.Cleanup(l.close)
	return l
}

func TestLogAppendReadRecoverAndDelete(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, 4)
	_, err := l.recover(0, func(int64, entry) { t.Fatal("empty log has entries") })
	require.NoError(t, err)
	for i := range int64(10) {
		pos, err := l.append(entry{slot: i / 3, prev: -1, deliverMs: i * 1000, offset: i, size: 1})
		require.NoError(t, err)
		require.Equal(t, i*entrySize, pos)
	}
	e, err := l.read(5 * entrySize)
	require.NoError(t, err)
	require.Equal(t, int64(5), e.offset)
	require.NoError(t, l.flush())
	require.Len(t, l.q.Files(), 3)
	l.close()

	// Reopen and keep only what a checkpoint at entry 7 covers.
	l = openTestLog(t, dir, 4)
	var seen []int64
	end, err := l.recover(7*entrySize, func(pos int64, e entry) { seen = append(seen, e.offset) })
	require.NoError(t, err)
	require.Equal(t, int64(7*entrySize), end)
	require.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6}, seen)
	_, err = l.read(8 * entrySize)
	require.Error(t, err, "entries after the checkpoint are cut")
	pos, err := l.append(entry{slot: 9, prev: -1, deliverMs: 1, offset: 70, size: 1})
	require.NoError(t, err)
	require.Equal(t, int64(7*entrySize), pos)

	// Segments whose entries all link slots before 2 go (never the last).
	require.Equal(t, 1, l.deleteBefore(2), "segment 0 holds slots 0 and 1")
	require.Equal(t, int64(4*entrySize), l.minPos())
	require.Equal(t, 0, l.deleteBefore(2), "segment 1 holds slot 2")
	require.Equal(t, 0, l.deleteBefore(100), "the last segment stays")
	_, err = l.read(0)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestLogRecoverStopsAtABadEntry(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, 100)
	_, err := l.recover(0, func(int64, entry) {})
	require.NoError(t, err)
	for i := range int64(5) {
		_, err := l.append(entry{slot: 1, prev: max(-1, (i-1)*entrySize), deliverMs: 1000, offset: i, size: 1})
		require.NoError(t, err)
	}
	require.NoError(t, l.flush())
	l.close()
	// Damage entry 3 on disk.
	name := filepath.Join(dir, "00000000000000000000")
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xFF}, 3*entrySize+20)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	l = openTestLog(t, dir, 100)
	n := 0
	end, err := l.recover(5*entrySize, func(int64, entry) { n++ })
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, int64(3*entrySize), end)
	pos, err := l.append(entry{slot: 1, prev: -1, deliverMs: 1, offset: 1, size: 1})
	require.NoError(t, err)
	require.Equal(t, int64(3*entrySize), pos, "appends go on where the good entries end")
}

func TestLogRecoverBeyondTheFilesStartsEmpty(t *testing.T) {
	l := openTestLog(t, t.TempDir(), 10)
	end, err := l.recover(400, func(int64, entry) { t.Fatal("no entries") })
	require.NoError(t, err)
	require.Equal(t, int64(0), end)
	pos, err := l.append(entry{slot: 1, prev: -1, deliverMs: 1, offset: 1, size: 1})
	require.NoError(t, err)
	require.Equal(t, int64(0), pos)
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add([]byte(`{"enqueueOffset":3,"logEnd":80,"dequeueSlot":5,"dequeueMs":5100,"precisionMs":1000,"windowSlots":8}`))
	f.Add([]byte(`{"logEnd":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCheckpoint(data)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, c.EnqueueOffset, int64(0))
		require.Zero(t, c.LogEnd%entrySize)
		require.Positive(t, c.PrecisionMs)
		out, err := encodeCheckpoint(c)
		require.NoError(t, err)
		back, err := decodeCheckpoint(out)
		require.NoError(t, err)
		require.Equal(t, c, back)
	})
}
