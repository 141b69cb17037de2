package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
)

func TestWriteReadAndJavaLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint")
	f, c, err := Open(vfs.Default, path)
	require.NoError(t, err)
	require.Equal(t, Checkpoint{}, c)
	want := Checkpoint{PhysicMsgTimestamp: 1, LogicsMsgTimestamp: 2, IndexMsgTimestamp: 3, Extended: true, LogicsSafeOffset: 4096, CommitLogFlushedOffset: 8192}
	require.NoError(t, f.Write(want))
	require.NoError(t, f.Close())

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, Size)
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 2}, b[8:16], "logicsMsgTimestamp at 8, big-endian")

	f, got, err := Open(vfs.Default, path)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, want, got)

	// A torn extension keeps Java's fields and drops ours.
	b[41] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, got, err = Open(vfs.Default, path)
	require.NoError(t, err)
	require.False(t, got.Extended)
	require.Equal(t, int64(3), got.IndexMsgTimestamp)
}

func FuzzDecode(f *testing.F) {
	b := make([]byte, 64)
	(&Checkpoint{LogicsSafeOffset: 7}).Encode(b)
	f.Add(b)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		if c.Extended {
			out := make([]byte, 64)
			c.Encode(out)
			require.Equal(t, b[:64], out)
		}
	})
}
