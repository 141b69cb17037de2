package index

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/vfs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func record(topic string, phy, ts int64, uniq string, keys string) *message.Record {
	props := message.AppendProperty(nil, message.PropertyUniqClientMessageIDKeyIdx, uniq)
	if keys != "" {
		props = message.AppendProperty(props, message.PropertyKeys, keys)
	}
	m := &message.Inner{Topic: topic, Properties: props, CommitLogOffset: phy, StoreTimestamp: ts,
		BornHost: netip.MustParseAddrPort("1.1.1.1:1"), StoreHost: netip.MustParseAddrPort("2.2.2.2:2")}
	size, _ := m.RecordSize()
	b := make([]byte, size)
	if _, err := message.EncodeRecord(b, m); err != nil {
		panic(err)
	}
	r, err := message.DecodeRecord(b)
	if err != nil {
		panic(err)
	}
	return &r
}

func TestBuildAndQuery(t *testing.T) {
	s, err := OpenService(vfs.Default, t.TempDir(), 64, 1000, nil)
	require.NoError(t, err)
	defer s.Close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range 100 {
		keys := fmt.Sprintf("order-%d  shared", i%10) // double space: empty token skipped
		require.NoError(t, s.BuildIndex(record("T", int64(i*200), base+int64(i)*1000, fmt.Sprintf("U%03d", i), keys)))
	}
	offs, lastTs, lastPhy := s.Query("T", "U042", 10, 0, base+1e9)
	require.Equal(t, []int64{42 * 200}, offs)
	require.Equal(t, base+99*1000, lastTs)
	require.Equal(t, int64(99*200), lastPhy)

	offs, _, _ = s.Query("T", "order-3", 100, 0, base+1e9)
	require.Len(t, offs, 10)
	require.Equal(t, int64(93*200), offs[0], "newest first")

	offs, _, _ = s.Query("T", "shared", 5, 0, base+1e9)
	require.Len(t, offs, 5, "maxNum bounds the answer")

	// Time range: messages 10..19 only.
	offs, _, _ = s.Query("T", "shared", 100, base+10*1000, base+19*1000)
	require.Len(t, offs, 10)

	// Another topic's key does not match.
	offs, _, _ = s.Query("Other", "U042", 10, 0, base+1e9)
	require.Empty(t, offs)
}

func TestRollsToNewFileWhenFullAndReopens(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenService(vfs.Default, dir, 16, 20, nil)
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, s.BuildIndex(record("T", int64(i*1000), 1000+int64(i), fmt.Sprint("K", i), "")))
	}
	require.Len(t, s.Files(), 3)
	require.NoError(t, s.Flush())
	s.Close()

	s, err = OpenService(vfs.Default, dir, 16, 20, nil)
	require.NoError(t, err)
	defer s.Close()
	require.Len(t, s.Files(), 3)
	for _, i := range []int{0, 25, 49} {
		offs, _, _ := s.Query("T", fmt.Sprint("K", i), 10, 0, 1e12)
		require.Equal(t, []int64{int64(i * 1000)}, offs, "K%d", i)
	}
	// Re-dispatch after reopening does not duplicate entries.
	require.NoError(t, s.BuildIndex(record("T", 49*1000, 1049, "K49", "")))
	offs, _, _ := s.Query("T", "K49", 10, 0, 1e12)
	require.Len(t, offs, 1)

	// Truncate: records from 40 on are indexed again after a cut.
	s.Truncate(40 * 1000)
	require.NoError(t, s.BuildIndex(record("T", 40*1000, 1040, "K40b", "")))
	offs, _, _ = s.Query("T", "K40b", 10, 0, 1e12)
	require.Equal(t, []int64{40000}, offs)

	require.Equal(t, 2, s.DeleteExpired(45*1000))
	require.Len(t, s.Files(), 1)
}

func TestHeaderLayoutIsJavas(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenService(vfs.Default, dir, 8, 8, nil)
	require.NoError(t, err)
	require.NoError(t, s.BuildIndex(record("T", 777, 5000, "A", "")))
	require.NoError(t, s.BuildIndex(record("T", 888, 7500, "B", "")))
	path := s.Files()[0].Path()
	s.Close()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, 40+8*4+8*20)
	be := binary.BigEndian
	require.Equal(t, uint64(5000), be.Uint64(b[0:]))
	require.Equal(t, uint64(7500), be.Uint64(b[8:]))
	require.Equal(t, uint64(777), be.Uint64(b[16:]))
	require.Equal(t, uint64(888), be.Uint64(b[24:]))
	require.Equal(t, uint32(3), be.Uint32(b[36:]), "indexCount starts at 1")
	hashA := KeyHash(message.JavaHashCode("T#A"))
	slot := 40 + int(hashA%8)*4
	require.Equal(t, uint32(1), be.Uint32(b[slot:]))
	entry := 40 + 8*4 + 1*20
	require.Equal(t, uint32(hashA), be.Uint32(b[entry:]))
	require.Equal(t, uint64(777), be.Uint64(b[entry+4:]))
	require.Equal(t, uint32(0), be.Uint32(b[entry+12:]))
	entry2 := 40 + 8*4 + 2*20
	require.Equal(t, uint32(2), be.Uint32(b[entry2+12:]), "seconds since begin")
	require.Len(t, filepath.Base(path), 17)
}

func TestKeyHash(t *testing.T) {
	require.Equal(t, int32(0), KeyHash(-2147483648))
	require.Equal(t, int32(5), KeyHash(-5))
	require.Equal(t, int32(5), KeyHash(5))
}

func FuzzSelectEntries(f *testing.F) {
	f.Add([]byte{}, int32(3), int64(0), int64(100))
	b := make([]byte, 40+4*4+4*20)
	binary.BigEndian.PutUint32(b[36:], 3)
	binary.BigEndian.PutUint32(b[40+3*4:], 2)
	binary.BigEndian.PutUint32(b[40+16+2*20+16:], 2) // self loop
	f.Add(b, int32(3), int64(0), int64(100))
	f.Fuzz(func(t *testing.T, data []byte, keyHash int32, begin, end int64) {
		if len(data) < HeaderSize {
			return
		}
		h := DecodeHeader(data)
		out := selectEntries(data, h, 4, nil, keyHash, 100, begin, end)
		if len(out) > 100 {
			t.Fatal("maxNum exceeded")
		}
	})
}
