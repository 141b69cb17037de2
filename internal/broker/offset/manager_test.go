package offset

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, dir string, opts Options) *Manager {
	t.Helper()
	m, err := Open(dir, opts, nil)
	require.NoError(t, err)
	return m
}

func fixtureDir(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, configfile.ConsumerOffsetFile), b, 0o644))
	return dir
}

func TestReadsJavaFastjsonFile(t *testing.T) {
	dir := fixtureDir(t, "java49_consumerOffset.json")
	m := open(t, dir, DefaultOptions())

	off, ok := m.Query("please_rename_unique_group_name_4", "TopicTest", 2)
	require.True(t, ok)
	require.Equal(t, int64(251), off)
	_, ok = m.Query("please_rename_unique_group_name_4", "TopicTest", 4)
	require.False(t, ok)
	require.Equal(t, map[int32]int64{0: 12, 1: 7}, m.QueueOffsets("other_group", "TopicTest"))
	require.Equal(t, []string{"%RETRY%please_rename_unique_group_name_4", "TopicTest"},
		m.TopicsOfGroup("please_rename_unique_group_name_4"))
	require.Equal(t, []string{"other_group", "please_rename_unique_group_name_4"}, m.GroupsOfTopic("TopicTest"))

	// Written back, it reads the same (here and, quoted keys being what
	// fastjson accepts, in Java).
	m.Commit("10.0.0.9:1234", "other_group", "TopicTest", 1, 8)
	before := m.All()
	require.NoError(t, m.Close())
	m2 := open(t, dir, DefaultOptions())
	require.Equal(t, before, m2.All())
	raw, err := os.ReadFile(filepath.Join(dir, configfile.ConsumerOffsetFile))
	require.NoError(t, err)
	var back protocol.ConsumerOffsetSerializeWrapper
	require.NoError(t, protocol.UnmarshalLenient(raw, &back))
	require.Equal(t, before, back.OffsetTable)
}

func TestSkipsBadEntries(t *testing.T) {
	dir := fixtureDir(t, "java5_consumerOffset_odd.json")
	var logs bytes.Buffer
	m, err := Open(dir, DefaultOptions(), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Equal(t, map[string]map[int32]int64{"TopicTest@cg": {0: 5, 1: 6}}, m.All())
	require.Equal(t, int64(9), m.DataVersion().Counter)
	for _, k := range []string{"nogroup", "@g", "t@", "a@b@c", "queueId=-1", "offset=-3"} {
		require.Contains(t, logs.String(), k)
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, configfile.ConsumerOffsetFile)
	for _, content := range []string{`{"offsetTable":{"t@g":{0:1`, `{"offsetTable":{"t@g":{"x":1}}}`, `{"topicConfigTable":{}}`, `[1,2]`} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		_, err := Open(dir, DefaultOptions(), nil)
		require.ErrorIs(t, err, configfile.ErrCorrupt, content)
		require.Contains(t, err.Error(), path)
	}
}

func TestCommitQueryAndAdminOperations(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMilli(1_800_000_000_000)
	opts := DefaultOptions()
	opts.Now = func() time.Time { return now }
	m := open(t, dir, opts)

	_, ok := m.Query("g", "t", 0)
	require.False(t, ok)
	require.Nil(t, m.QueueOffsets("g", "t"))

	m.Commit("c", "g", "t", 0, 10)
	m.Commit("c", "g", "t", 1, 20)
	m.Commit("c", "g", "t", 0, 5) // backwards is allowed (the client rewound)
	m.Commit("c", "g2", "t", 0, 1)
	m.Commit("c", "g", "t2", 3, 30)
	off, ok := m.Query("g", "t", 0)
	require.True(t, ok)
	require.Equal(t, int64(5), off)
	require.Equal(t, int64(0), m.DataVersion().Counter, "commits do not bump the version")

	// Garbage is ignored.
	for _, c := range []struct {
		group, topic string
		q            int32
		off          int64
	}{{"", "t", 0, 1}, {"g", "", 0, 1}, {"g@x", "t", 0, 1}, {"g", "t@x", 0, 1}, {"g", "t", -1, 1}, {"g", "t", 0, -1}} {
		m.Commit("c", c.group, c.topic, c.q, c.off)
		m.ResetOffset(c.group, c.topic, c.q, c.off)
	}
	require.Equal(t, map[string]map[int32]int64{
		"t@g": {0: 5, 1: 20}, "t@g2": {0: 1}, "t2@g": {3: 30},
	}, m.All())

	m.ResetOffset("g", "t", 1, 2)
	require.Equal(t, map[int32]int64{0: 5, 1: 2}, m.QueueOffsets("g", "t"))
	require.Equal(t, protocol.DataVersion{Timestamp: now.UnixMilli(), Counter: 1}, m.DataVersion())

	m.CloneOffset("g", "g3", "t")
	require.Equal(t, map[int32]int64{0: 5, 1: 2}, m.QueueOffsets("g3", "t"))
	m.Commit("c", "g3", "t", 0, 99)
	require.Equal(t, int64(5), must(m.Query("g", "t", 0)), "a clone is a copy")
	m.CloneOffset("nobody", "g4", "t")
	require.Nil(t, m.QueueOffsets("g4", "t"))

	// Returned maps are copies.
	q := m.QueueOffsets("g", "t")
	q[0] = 1000
	require.Equal(t, int64(5), must(m.Query("g", "t", 0)))

	m.DeleteTopic("t2")
	require.Equal(t, []string{"t"}, m.TopicsOfGroup("g"))
	m.DeleteGroup("g")
	require.Equal(t, []string{"g2", "g3"}, m.GroupsOfTopic("t"))
	require.Empty(t, m.TopicsOfGroup("g"))
	require.Equal(t, int64(4), m.DataVersion().Counter)

	require.NoError(t, m.Persist())
	m2 := open(t, dir, opts)
	require.Equal(t, m.All(), m2.All())
	require.Equal(t, m.DataVersion(), m2.DataVersion())
}

func must(v int64, ok bool) int64 {
	if !ok {
		return -1
	}
	return v
}

func TestPersistWritesOnlyChanges(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	opts := DefaultOptions()
	opts.FS = ffs
	dir := t.TempDir()
	m := open(t, dir, opts)

	require.NoError(t, m.Persist())
	require.Zero(t, ffs.Count(vfs.OpSync), "nothing to save yet")

	m.Commit("c", "g", "t", 0, 1)
	require.NoError(t, m.Persist())
	syncs := ffs.Count(vfs.OpSync)
	require.Positive(t, syncs)
	require.NoError(t, m.Persist())
	require.Equal(t, syncs, ffs.Count(vfs.OpSync), "unchanged: no write")

	// A failed save is retried by the next Persist.
	m.Commit("c", "g", "t", 0, 2)
	ffs.SetRule(func(op vfs.Op, _ string) error {
		if op == vfs.OpSync {
			return vfs.ErrNoSpace
		}
		return nil
	})
	require.ErrorIs(t, m.Persist(), vfs.ErrNoSpace)
	ffs.SetRule(nil)
	require.NoError(t, m.Persist())
	require.NoError(t, m.Close())

	m2 := open(t, dir, DefaultOptions())
	require.Equal(t, int64(2), must(m2.Query("g", "t", 0)))
}

func TestBackgroundFlushAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		m := open(t, dir, DefaultOptions())
		require.NoError(t, m.Start(context.Background()))
		require.NoError(t, m.Start(context.Background()), "idempotent")

		m.Commit("c", "g", "t", 0, 42)
		time.Sleep(4900 * time.Millisecond)
		synctest.Wait()
		fresh := open(t, dir, DefaultOptions())
		_, ok := fresh.Query("g", "t", 0)
		require.False(t, ok, "not yet: the interval has not passed")

		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		fresh = open(t, dir, DefaultOptions())
		require.Equal(t, int64(42), must(fresh.Query("g", "t", 0)), "saved within one interval")

		m.Commit("c", "g", "t", 0, 43)
		require.NoError(t, m.Close())
		require.NoError(t, m.Close(), "idempotent")
		require.ErrorIs(t, m.Start(context.Background()), ErrClosed)
		fresh = open(t, dir, DefaultOptions())
		require.Equal(t, int64(43), must(fresh.Query("g", "t", 0)), "Close saves the last commits")
	})
}

func TestConcurrentCommitsAndPersist(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, DefaultOptions())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			group := fmt.Sprint("g", w)
			for i := range 2000 {
				m.Commit("c", group, "t", int32(i%4), int64(i))
				m.Query(group, "t", int32(i%4))
				if i%500 == 0 {
					m.TopicsOfGroup(group)
					m.All()
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			require.NoError(t, m.Persist())
		}
	})
	wg.Wait()
	require.NoError(t, m.Close())
	m2 := open(t, dir, DefaultOptions())
	for w := range 4 {
		require.Equal(t, map[int32]int64{0: 1996, 1: 1997, 2: 1998, 3: 1999}, m2.QueueOffsets(fmt.Sprint("g", w), "t"))
	}
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	o.FlushConsumerOffsetInterval = 0
	require.Error(t, o.Validate())
	_, err := Open(t.TempDir(), o, nil)
	require.Error(t, err)
}

func FuzzDecodeFile(f *testing.F) {
	for _, name := range []string{"java49_consumerOffset.json", "java5_consumerOffset_odd.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"offsetTable":{"t@g":{2147483648:1}}}`))
	f.Add([]byte(`{"offsetTable":{"t@g":{0:9223372036854775808}}}`))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte) {
		table, _, err := decodeFile(b, log)
		if err != nil {
			return
		}
		for k, e := range table {
			require.True(t, validName(k.topic) && validName(k.group))
			for q, off := range e.offsets {
				require.True(t, q >= 0 && off >= 0)
			}
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	m, err := Open(b.TempDir(), DefaultOptions(), nil)
	require.NoError(b, err)
	groups := make([]string, 64)
	for i := range groups {
		groups[i] = fmt.Sprint("group-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Commit("10.0.0.1:1234", groups[i%len(groups)], "TopicTest", int32(i%8), int64(i))
			i++
		}
	})
}

func BenchmarkPersist10kQueues(b *testing.B) {
	m, err := Open(b.TempDir(), DefaultOptions(), nil)
	require.NoError(b, err)
	for g := range 100 {
		for tpc := range 10 {
			for q := range 10 {
				m.Commit("c", fmt.Sprint("group-", g), fmt.Sprint("topic-", tpc), int32(q), int64(q*1000))
			}
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Commit("c", "group-0", "topic-0", 0, int64(i))
		if err := m.Persist(); err != nil {
			b.Fatal(err)
		}
	}
}
