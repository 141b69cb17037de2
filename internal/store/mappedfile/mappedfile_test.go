package mappedfile

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFileNames(t *testing.T) {
	require.Equal(t, "00000000001073741824", FileName(1<<30))
	off, err := ParseFileName("00000000001073741824")
	require.NoError(t, err)
	require.Equal(t, int64(1<<30), off)
	for _, bad := range []string{"", "123", "0000000000107374182x", "99999999999999999999"} {
		_, err := ParseFileName(bad)
		require.ErrorIs(t, err, ErrBadName, bad)
	}
}

func TestWriteReadFlushAndPositions(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(vfs.Default, dir, 4096, 8192, CreateOptions{}, nil)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, filepath.Join(dir, FileName(4096)), f.Path())
	st, err := os.Stat(f.Path())
	require.NoError(t, err)
	require.Equal(t, int64(8192), st.Size(), "preallocated to full size")

	require.NoError(t, f.Append([]byte("hello")))
	b, err := f.WriteBuf(3)
	require.NoError(t, err)
	copy(b, "abc")
	f.Publish(3)
	require.Equal(t, int64(8), f.Wrote())
	got, err := f.Bytes(0, 8)
	require.NoError(t, err)
	require.Equal(t, "helloabc", string(got))
	flushed, err := f.Flush()
	require.NoError(t, err)
	require.Equal(t, int64(8), flushed)

	_, err = f.WriteBuf(8192)
	require.ErrorIs(t, err, ErrNoRoom)
	_, err = f.Bytes(8000, 500)
	require.ErrorIs(t, err, ErrOutOfFile)
}

func TestReadOnlyMapSeesPwrite(t *testing.T) {
	f, err := Create(vfs.Default, t.TempDir(), 0, 4096, CreateOptions{ReadOnly: true, Warm: true}, nil)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.WriteAt([]byte("via pwrite"), 100))
	f.Publish(110)
	b, err := f.Bytes(100, 10)
	require.NoError(t, err)
	require.Equal(t, "via pwrite", string(b))
}

func TestReferencesDelayUnmap(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(vfs.Default, dir, 0, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	require.NoError(t, f.WriteAt([]byte("old"), 0))
	f.Publish(3)
	require.True(t, f.Acquire())
	require.True(t, f.Acquire())
	f.Destroy()
	require.False(t, f.Acquire(), "no new readers once closing")
	f.Release()
	select {
	case <-f.Done():
		t.Fatal("unmapped with a reader left")
	default:
	}
	b, err := f.Bytes(0, 3)
	require.NoError(t, err)
	require.Equal(t, "old", string(b), "the last reader still reads the mapping")
	_, err = os.Stat(f.Path())
	require.True(t, os.IsNotExist(err), "the name is gone at once")

	// A segment of the same name made meanwhile (a queue deleted and
	// recreated) survives the old one's last reader.
	g, err := Create(vfs.Default, dir, 0, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	defer g.Close()
	f.Release()
	<-f.Done()
	_, err = os.Stat(g.Path())
	require.NoError(t, err, "the new segment stays")
	f.Destroy() // idempotent
}

func TestConcurrentAcquireRelease(t *testing.T) {
	f, err := Create(vfs.Default, t.TempDir(), 0, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if f.Acquire() {
					_ = f.Data()[0] // must never fault
					f.Release()
				}
			}
		}()
	}
	f.Destroy()
	wg.Wait()
	<-f.Done()
}

func TestZeroFrom(t *testing.T) {
	f, err := Create(vfs.Default, t.TempDir(), 0, 3*4096, CreateOptions{}, nil)
	require.NoError(t, err)
	defer f.Close()
	data := make([]byte, 3*4096)
	for i := range data {
		data[i] = 0xAB
	}
	require.NoError(t, f.Append(data))
	require.NoError(t, f.ZeroFrom(100))
	require.Equal(t, int64(100), f.Wrote())
	b, _ := f.Bytes(0, 3*4096)
	require.Equal(t, byte(0xAB), b[99])
	for i := 100; i < len(b); i++ {
		if b[i] != 0 {
			t.Fatalf("byte %d not zeroed", i)
		}
	}
}

func TestResident(t *testing.T) {
	f, err := Create(vfs.Default, t.TempDir(), 0, 64*4096, CreateOptions{}, nil)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Append(make([]byte, 10*4096+5)))
	vec := make([]byte, 3) // forces several mincore chunks
	r, err := f.Resident(0, 10*4096+5, vec)
	require.NoError(t, err)
	require.Equal(t, int64(10*4096+5), r, "just written pages are resident")
	r, err = f.Resident(4096+10, 100, vec)
	require.NoError(t, err)
	require.Equal(t, int64(100), r)
}

func TestQueueLoadChecks(t *testing.T) {
	dir := t.TempDir()
	q, err := NewQueue(vfs.Default, dir, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	for _, off := range []int64{0, 4096, 8192} {
		_, err := q.Create(off)
		require.NoError(t, err)
	}
	_, err = q.Create(4096 * 5)
	require.Error(t, err, "segments must be contiguous")
	q.Close()

	// A leftover temporary file is removed; a stray file is ignored.
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName(12288)+TempSuffix), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644))
	q, err = NewQueue(vfs.Default, dir, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	require.NoError(t, q.Load())
	require.Len(t, q.Files(), 3)
	_, err = os.Stat(filepath.Join(dir, FileName(12288)+TempSuffix))
	require.True(t, os.IsNotExist(err))
	require.Equal(t, int64(4096), q.Find(5000).Start())
	require.Nil(t, q.Find(12288))
	q.Close()

	// A gap is an error.
	require.NoError(t, os.Remove(filepath.Join(dir, FileName(4096))))
	q, err = NewQueue(vfs.Default, dir, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	require.Error(t, q.Load())

	// So is a segment of the wrong size.
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName(4096)), []byte("short"), 0o644))
	q, err = NewQueue(vfs.Default, dir, 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	require.ErrorIs(t, q.Load(), ErrBadSize)
}

func TestPreallocatorPreparesNextSegment(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	q, err := NewQueue(fs, t.TempDir(), 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	defer q.Close()
	_, err = q.Create(0)
	require.NoError(t, err)
	q.StartPreallocator()
	for i := int64(1); i < 20; i++ {
		f, err := q.EnsureNext(i * 4096)
		require.NoError(t, err)
		require.Equal(t, i*4096, f.Start())
	}
	require.Len(t, q.Files(), 20)
	entries, err := os.ReadDir(q.Dir())
	require.NoError(t, err)
	require.LessOrEqual(t, len(entries), 21, "at most one prepared segment ahead")

	// A full disk: creation fails with ENOSPC, then works again.
	fs.SetRule(func(op vfs.Op, path string) error {
		if op == vfs.OpAllocate {
			return syscall.ENOSPC
		}
		return nil
	})
	// The prepared one (if any) is still handed out; the one after fails.
	var failed error
	for i := int64(20); i < 23 && failed == nil; i++ {
		_, failed = q.EnsureNext(i * 4096)
	}
	require.ErrorIs(t, failed, syscall.ENOSPC)
	fs.SetRule(nil)
	last := q.Last().End()
	_, err = q.EnsureNext(last)
	require.NoError(t, err)
}

func TestTruncateFromAndRemoveFirst(t *testing.T) {
	q, err := NewQueue(vfs.Default, t.TempDir(), 4096, CreateOptions{}, nil)
	require.NoError(t, err)
	defer q.Close()
	for i := range int64(5) {
		f, err := q.Create(i * 4096)
		require.NoError(t, err)
		require.NoError(t, f.Append(make([]byte, 4096)))
	}
	require.NoError(t, q.TruncateFrom(2*4096+100))
	require.Len(t, q.Files(), 3)
	require.Equal(t, int64(100), q.Last().Wrote())
	removed := q.RemoveFirst(10)
	require.Len(t, removed, 2, "never the last segment")
	require.Equal(t, int64(2*4096), q.MinOffset())
}
