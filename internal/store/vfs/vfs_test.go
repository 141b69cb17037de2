package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOSFileOperations(t *testing.T) {
	dir := t.TempDir()
	f, err := Default.OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	require.NoError(t, f.Allocate(0, 1<<16))
	st, err := f.Stat()
	require.NoError(t, err)
	require.Equal(t, int64(1<<16), st.Size())
	_, err = f.WriteAt([]byte("abcdef"), 10)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	m, err := f.Map(1<<16, false)
	require.NoError(t, err)
	require.Equal(t, "abcdef", string(m[10:16]))
	require.NoError(t, f.ZeroRange(12, 100))
	require.Equal(t, "ab\x00\x00\x00\x00", string(m[10:16]), "the mapping sees the zeroed range")
	require.NoError(t, Unmap(m))
	require.NoError(t, f.Close())
	require.NoError(t, Default.SyncDir(dir))

	u, err := Default.DiskUsage(filepath.Join(dir, "not", "yet", "created"))
	require.NoError(t, err)
	require.Greater(t, u.Total, uint64(0))
	require.True(t, u.UsedRatio() > 0 && u.UsedRatio() < 1)
}

func TestFaultFSInjectsByOperation(t *testing.T) {
	fs := NewFaultFS(Default)
	dir := t.TempDir()
	f, err := fs.OpenFile(filepath.Join(dir, "seg"), os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer f.Close()
	fs.SetRule(func(op Op, path string) error {
		switch op {
		case OpSync:
			return syscall.EIO
		case OpAllocate:
			return ErrNoSpace
		}
		return nil
	})
	err = f.Sync()
	require.ErrorIs(t, err, syscall.EIO)
	err = f.Allocate(0, 10)
	require.ErrorIs(t, err, syscall.ENOSPC)
	var pe *os.PathError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, "allocate", pe.Op)
	_, err = f.WriteAt([]byte("x"), 0)
	require.NoError(t, err, "other operations go through")
	require.Equal(t, 1, fs.Count(OpSync))
	fs.SetRule(nil)
	require.NoError(t, f.Sync())

	fs.SetUsage(func(string) (Usage, error) { return Usage{Total: 200, Free: 20}, nil })
	u, err := fs.DiskUsage(dir)
	require.NoError(t, err)
	require.InDelta(t, 0.9, u.UsedRatio(), 1e-9)
	require.Zero(t, Usage{}.UsedRatio())
}
