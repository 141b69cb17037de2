package topic

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

var testNow = time.UnixMilli(1_800_000_000_000)

func testOptions() Options {
	o := DefaultOptions()
	o.Now = func() time.Time { return testNow }
	return o
}

func open(t *testing.T, dir string, opts Options) *Manager {
	t.Helper()
	m, err := Open(dir, opts, nil)
	require.NoError(t, err)
	return m
}

func TestOpenCreatesSystemTopics(t *testing.T) {
	opts := testOptions()
	opts.ClusterName, opts.BrokerName = "c1", "b1"
	m := open(t, t.TempDir(), opts)

	const rw, x = protocol.PermRead | protocol.PermWrite, protocol.PermInherit
	for _, want := range []struct {
		name   string
		queues int32
		perm   int32
	}{
		{"SELF_TEST_TOPIC", 1, rw},
		{"TBW102", 8, rw | x},
		{"BenchmarkTest", 1024, rw},
		{"c1", 16, rw | x},
		{"b1", 1, rw | x},
		{"OFFSET_MOVED_EVENT", 1, rw},
		{"SCHEDULE_TOPIC_XXXX", 18, rw},
		{"RMQ_SYS_TRACE_TOPIC", 1, rw},
		{"c1_REPLY_TOPIC", 1, rw},
		{"RMQ_SYS_TRANS_HALF_TOPIC", 1, rw},
		{"RMQ_SYS_TRANS_OP_HALF_TOPIC", 1, rw},
	} {
		cfg, ok := m.Get(want.name)
		require.True(t, ok, want.name)
		require.Equal(t, want.queues, cfg.ReadQueueNums, want.name)
		require.Equal(t, want.queues, cfg.WriteQueueNums, want.name)
		require.Equal(t, want.perm, cfg.Perm, want.name)
		require.Equal(t, protocol.TopicFilterSingleTag, cfg.TopicFilterType, want.name)
		require.True(t, m.IsSystemTopic(want.name), want.name)
	}
	require.Len(t, m.Topics(), 11)
	require.Equal(t, protocol.DataVersion{Timestamp: testNow.UnixMilli()}, m.DataVersion())

	// Nothing is written until something changes (as Java).
	_, err := os.Stat(filepath.Join(m.file.Path()))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestOpenWithoutAutoCreateOrClusterTopics(t *testing.T) {
	opts := testOptions()
	opts.AutoCreateTopicEnable = false
	opts.ClusterTopicEnable = false
	opts.BrokerTopicEnable = false
	opts.TraceTopicName = "MyTrace"
	m := open(t, t.TempDir(), opts)
	_, ok := m.Get(AutoCreateTopicKey)
	require.False(t, ok, "TBW102 only with autoCreateTopicEnable")
	cfg, _ := m.Get("DefaultCluster")
	require.Equal(t, int32(protocol.PermInherit), cfg.Perm)
	cfg, _ = m.Get("broker-a")
	require.Equal(t, int32(protocol.PermInherit), cfg.Perm)
	_, ok = m.Get("MyTrace")
	require.True(t, ok, "the trace topic exists from the start")
	require.True(t, m.IsSystemTopic("MyTrace"))
}

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, configfile.TopicsFile), b, 0o644))
	return dir
}

func TestOpenReadsJavaFastjsonFile(t *testing.T) {
	dir := copyFixture(t, "java49_topics.json")
	m := open(t, dir, testOptions())

	require.Equal(t, protocol.DataVersion{Timestamp: 1700000000123, Counter: 5}, m.DataVersion())
	cfg, ok := m.Get("TopicTest")
	require.True(t, ok)
	require.Equal(t, protocol.TopicConfig{TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6,
		TopicFilterType: protocol.TopicFilterSingleTag}, cfg)
	cfg, _ = m.Get("OrderTopic")
	require.True(t, cfg.Order)
	require.Equal(t, protocol.TopicFilterMultiTag, cfg.TopicFilterType)
	cfg, _ = m.Get("%RETRY%please_rename_unique_group_name_4")
	require.Equal(t, int32(1), cfg.WriteQueueNums)
	cfg, _ = m.Get("ReadOnly")
	require.Equal(t, int32(protocol.PermRead), cfg.Perm)
	// System topics the file lacks are still there.
	_, ok = m.Get(TransHalfTopic)
	require.True(t, ok)

	// A change writes a file the next Open (and Java) reads back alike.
	require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "New", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 6}))
	before, version := m.Snapshot()
	require.Equal(t, int64(6), version.Counter)
	m2 := open(t, dir, testOptions())
	after, version2 := m2.Snapshot()
	require.Equal(t, before, after)
	require.Equal(t, version, version2)
	// The old file is the backup.
	bak, err := os.ReadFile(filepath.Join(dir, configfile.TopicsFile+configfile.BakSuffix))
	require.NoError(t, err)
	require.Contains(t, string(bak), `"counter":5`)
}

func TestOpenSkipsBadEntries(t *testing.T) {
	dir := copyFixture(t, "java5_topics_odd.json")
	var logs bytes.Buffer
	m, err := Open(dir, testOptions(), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)

	cfg, ok := m.Get("FifoTopic")
	require.True(t, ok)
	require.Equal(t, map[string]string{"message.type": "FIFO"}, cfg.Attributes)

	// Missing fields take Java's defaults.
	cfg, ok = m.Get("Sparse")
	require.True(t, ok)
	require.Equal(t, protocol.TopicConfig{TopicName: "Sparse", ReadQueueNums: 16, WriteQueueNums: 2, Perm: 6,
		TopicFilterType: protocol.TopicFilterSingleTag}, cfg)
	// The key wins over a differing topicName.
	cfg, ok = m.Get("Renamed")
	require.True(t, ok)
	require.Equal(t, "Renamed", cfg.TopicName)
	_, ok = m.Get("Other")
	require.False(t, ok)

	for _, bad := range []string{"bad topic", "Huge", "NotAnObject", "Nothing"} {
		_, ok := m.Get(bad)
		require.False(t, ok, bad)
	}
	for _, want := range []string{"Huge", "NotAnObject", "Nothing", "bad topic"} {
		require.Contains(t, logs.String(), want)
	}
	require.Equal(t, int64(12), m.DataVersion().Counter)
}

func TestOpenCorruptFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, configfile.TopicsFile)
	for _, content := range []string{
		`{"topicConfigTable":{"a":{"topicName":"a"}`, // truncated
		`{"topicConfigTable":5}`,                     // wrong shape
		`{"offsetTable":{}}`,                         // another table
		"\xef\xbb\xbf\x00garbage",
	} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		_, err := Open(dir, testOptions(), nil)
		require.ErrorIs(t, err, configfile.ErrCorrupt, content)
		require.Contains(t, err.Error(), path)
	}
	// With a good backup the broker starts on it.
	require.NoError(t, os.WriteFile(path+configfile.BakSuffix, []byte(`{"topicConfigTable":{"FromBak":{}},"dataVersion":{"counter":2}}`), 0o644))
	m := open(t, dir, testOptions())
	_, ok := m.Get("FromBak")
	require.True(t, ok)
}

func TestCreateOrUpdateAndDelete(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, testOptions())
	var changes atomic.Int32
	m.OnChange(func() { changes.Add(1) })

	cfg := protocol.TopicConfig{TopicName: "T", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, Attributes: map[string]string{"k": "v"}}
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.Equal(t, int32(1), changes.Load())
	require.Equal(t, int64(1), m.DataVersion().Counter)
	got, ok := m.Get("T")
	require.True(t, ok)
	require.Equal(t, protocol.TopicFilterSingleTag, got.TopicFilterType, "empty filter type means SINGLE_TAG")

	// The same configuration again changes nothing.
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.Equal(t, int32(1), changes.Load())
	require.Equal(t, int64(1), m.DataVersion().Counter)

	// Callers cannot change the table through returned maps.
	got.Attributes["k"] = "changed"
	cfg.Attributes["k"] = "changed too"
	again, _ := m.Get("T")
	require.Equal(t, "v", again.Attributes["k"])

	cfg.ReadQueueNums = 8
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.Equal(t, int32(2), changes.Load())

	require.ErrorIs(t, m.Delete("missing"), ErrNotFound)
	require.Equal(t, int32(2), changes.Load())
	require.NoError(t, m.Delete("T"))
	require.Equal(t, int32(3), changes.Load())
	require.Equal(t, int64(3), m.DataVersion().Counter)

	m2 := open(t, dir, testOptions())
	_, ok = m2.Get("T")
	require.False(t, ok, "the delete was persisted")
	require.Equal(t, int64(3), m2.DataVersion().Counter)
}

func TestCreateOrUpdateRejectsInvalidConfigs(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	ok := protocol.TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}
	for _, tc := range []struct {
		name string
		edit func(*protocol.TopicConfig)
		want error
	}{
		{"empty name", func(c *protocol.TopicConfig) { c.TopicName = "" }, ErrInvalidTopic},
		{"bad char", func(c *protocol.TopicConfig) { c.TopicName = "a/b" }, ErrInvalidTopic},
		{"negative read", func(c *protocol.TopicConfig) { c.ReadQueueNums = -1 }, ErrInvalidConfig},
		{"huge write", func(c *protocol.TopicConfig) { c.WriteQueueNums = MaxQueueNums + 1 }, ErrInvalidConfig},
		{"perm bits", func(c *protocol.TopicConfig) { c.Perm = 16 }, ErrInvalidConfig},
		{"filter type", func(c *protocol.TopicConfig) { c.TopicFilterType = "SQL" }, ErrInvalidConfig},
	} {
		cfg := ok
		tc.edit(&cfg)
		require.ErrorIs(t, m.CreateOrUpdate(cfg), tc.want, tc.name)
	}
	require.Equal(t, int64(0), m.DataVersion().Counter)
}

func TestFailedSaveChangesNothing(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	opts := testOptions()
	opts.FS = ffs
	dir := t.TempDir()
	m := open(t, dir, opts)
	require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "Kept", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}))
	var changes atomic.Int32
	m.OnChange(func() { changes.Add(1) })

	ffs.SetRule(func(op vfs.Op, _ string) error {
		if op == vfs.OpSync {
			return vfs.ErrNoSpace
		}
		return nil
	})
	err := m.CreateOrUpdate(protocol.TopicConfig{TopicName: "Lost", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	require.ErrorIs(t, err, ErrPersist)
	require.ErrorIs(t, err, vfs.ErrNoSpace)
	_, _, err = m.CreateInSendMessage("Lost2", AutoCreateTopicKey, "1.2.3.4:5", 4, 0)
	require.ErrorIs(t, err, ErrPersist)
	require.Error(t, m.Delete("Kept"))
	require.Error(t, m.SetBrokerPermission(protocol.PermRead))

	for _, name := range []string{"Lost", "Lost2"} {
		_, ok := m.Get(name)
		require.False(t, ok, name)
	}
	_, ok := m.Get("Kept")
	require.True(t, ok)
	require.Equal(t, int64(1), m.DataVersion().Counter)
	require.Equal(t, int32(protocol.PermRead|protocol.PermWrite), m.BrokerPermission())
	require.Zero(t, changes.Load())

	ffs.SetRule(nil)
	m2 := open(t, dir, opts)
	require.Equal(t, m.Topics(), m2.Topics())
}

func TestRegistrationWrapperAppliesBrokerPermission(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	var changes atomic.Int32
	m.OnChange(func() { changes.Add(1) })

	w := m.RegistrationWrapper()
	require.Equal(t, int32(7), w.TopicConfigTable[AutoCreateTopicKey].Perm)

	require.NoError(t, m.SetBrokerPermission(protocol.PermRead)) // wipe write permission
	require.Equal(t, int32(1), changes.Load())
	w = m.RegistrationWrapper()
	require.Equal(t, int64(1), w.DataVersion.Counter, "NameServers reload topics only when the version moves")
	for name, cfg := range w.TopicConfigTable {
		require.Zero(t, cfg.Perm&protocol.PermWrite, name)
	}
	// The table itself keeps its permissions.
	cfg, _ := m.Get(AutoCreateTopicKey)
	require.Equal(t, int32(7), cfg.Perm)

	require.NoError(t, m.SetBrokerPermission(protocol.PermRead), "no change")
	require.Equal(t, int32(1), changes.Load())
	require.ErrorIs(t, m.SetBrokerPermission(32), ErrInvalidConfig)
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m.Get("TopicA")
				m.Snapshot()
				m.RegistrationWrapper()
			}
		})
	}
	var writers sync.WaitGroup
	for i := range 4 {
		writers.Go(func() {
			for j := range 10 {
				name := string(rune('A'+i)) + string(rune('a'+j))
				_, _, err := m.CreateInSendMessage("Topic"+name, AutoCreateTopicKey, "", 4, 0)
				require.NoError(t, err)
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	require.Equal(t, int64(40), m.DataVersion().Counter)
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	for _, edit := range []func(*Options){
		func(o *Options) { o.BrokerName = "" },
		func(o *Options) { o.ClusterName = "a b" },
		func(o *Options) { o.DefaultTopicQueueNums = 0 },
		func(o *Options) { o.BrokerPermission = 64 },
		func(o *Options) { o.TraceTopicName = "" },
		func(o *Options) { o.ClusterName = string(bytes.Repeat([]byte("c"), 120)) },
	} {
		o := DefaultOptions()
		edit(&o)
		err := o.Validate()
		require.Error(t, err)
		_, err = Open(t.TempDir(), o, nil)
		require.Error(t, err)
	}
	require.True(t, errors.Is(ValidateTopic(""), ErrInvalidTopic))
}
