package topic

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestCreateInSendMessage(t *testing.T) {
	const rw = protocol.PermRead | protocol.PermWrite
	for _, tc := range []struct {
		name       string
		opts       func(*Options)
		setup      func(*Manager)
		topic      string
		defTopic   string
		clientNums int32
		sysFlag    int32
		want       protocol.TopicConfig
		created    bool
		err        error
	}{
		{
			name: "through TBW102, client asks fewer queues", topic: "New", defTopic: AutoCreateTopicKey, clientNums: 4,
			want:    protocol.TopicConfig{TopicName: "New", ReadQueueNums: 4, WriteQueueNums: 4, Perm: rw, TopicFilterType: protocol.TopicFilterSingleTag},
			created: true,
		},
		{
			name: "capped by TBW102's write queues", topic: "New", defTopic: AutoCreateTopicKey, clientNums: 100, sysFlag: protocol.TopicSysFlagUnit,
			want:    protocol.TopicConfig{TopicName: "New", ReadQueueNums: 8, WriteQueueNums: 8, Perm: rw, TopicFilterType: protocol.TopicFilterSingleTag, TopicSysFlag: protocol.TopicSysFlagUnit},
			created: true,
		},
		{
			name: "client without a queue count gets the broker default", topic: "New", defTopic: AutoCreateTopicKey, clientNums: 0,
			opts:    func(o *Options) { o.DefaultTopicQueueNums = 3 },
			want:    protocol.TopicConfig{TopicName: "New", ReadQueueNums: 3, WriteQueueNums: 3, Perm: rw, TopicFilterType: protocol.TopicFilterSingleTag},
			created: true,
		},
		{
			name: "inherits filter type and perm without INHERIT from a custom default topic", topic: "New", defTopic: "Parent", clientNums: 4,
			setup: func(m *Manager) {
				require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "Parent", ReadQueueNums: 2, WriteQueueNums: 2,
					Perm: protocol.PermRead | protocol.PermInherit, TopicFilterType: protocol.TopicFilterMultiTag}))
			},
			want:    protocol.TopicConfig{TopicName: "New", ReadQueueNums: 2, WriteQueueNums: 2, Perm: protocol.PermRead, TopicFilterType: protocol.TopicFilterMultiTag},
			created: true,
		},
		{
			name: "existing topic is returned as is", topic: "TopicTest", defTopic: AutoCreateTopicKey, clientNums: 4,
			setup: func(m *Manager) {
				require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "TopicTest", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw}))
			},
			want: protocol.TopicConfig{TopicName: "TopicTest", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw, TopicFilterType: protocol.TopicFilterSingleTag},
		},
		{
			name: "existing topic even with auto-create off", topic: "TopicTest", defTopic: AutoCreateTopicKey, clientNums: 4,
			opts: func(o *Options) { o.AutoCreateTopicEnable = false },
			setup: func(m *Manager) {
				require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "TopicTest", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw}))
			},
			want: protocol.TopicConfig{TopicName: "TopicTest", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw, TopicFilterType: protocol.TopicFilterSingleTag},
		},
		{
			name: "auto-create off: no TBW102", topic: "New", defTopic: AutoCreateTopicKey, clientNums: 4,
			opts: func(o *Options) { o.AutoCreateTopicEnable = false },
			err:  ErrDefaultTopicNotFound,
		},
		{
			name: "auto-create off with TBW102 left in topics.json", topic: "New", defTopic: AutoCreateTopicKey, clientNums: 4,
			opts: func(o *Options) { o.AutoCreateTopicEnable = false },
			setup: func(m *Manager) {
				require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: AutoCreateTopicKey, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7}))
			},
			err: ErrAutoCreateDisabled,
		},
		{
			name: "default topic without INHERIT", topic: "New", defTopic: "Plain", clientNums: 4,
			setup: func(m *Manager) {
				require.NoError(t, m.CreateOrUpdate(protocol.TopicConfig{TopicName: "Plain", ReadQueueNums: 8, WriteQueueNums: 8, Perm: rw}))
			},
			err: ErrDefaultTopicNotInheritable,
		},
		{name: "unknown default topic", topic: "New", defTopic: "Nope", clientNums: 4, err: ErrDefaultTopicNotFound},
		{name: "invalid name", topic: "a b", defTopic: AutoCreateTopicKey, clientNums: 4, err: ErrInvalidTopic},
		{name: "empty name", topic: "", defTopic: AutoCreateTopicKey, clientNums: 4, err: ErrInvalidTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			m := open(t, t.TempDir(), opts)
			if tc.setup != nil {
				tc.setup(m)
			}
			var changes atomic.Int32
			m.OnChange(func() { changes.Add(1) })
			before := m.DataVersion()

			got, created, err := m.CreateInSendMessage(tc.topic, tc.defTopic, "10.0.0.9:5555", tc.clientNums, tc.sysFlag)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.False(t, created)
				_, ok := m.Get(tc.topic)
				require.False(t, ok)
				require.Equal(t, before, m.DataVersion())
				require.Zero(t, changes.Load())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.created, created)
			stored, ok := m.Get(tc.topic)
			require.True(t, ok)
			require.Equal(t, tc.want, stored)
			if tc.created {
				require.Equal(t, before.Counter+1, m.DataVersion().Counter)
				require.Equal(t, int32(1), changes.Load(), "listeners told once, after the change")
			} else {
				require.Equal(t, before, m.DataVersion())
				require.Zero(t, changes.Load())
			}
		})
	}
}

func TestCreateInSendMessageRaceCreatesOnce(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	var changes atomic.Int32
	m.OnChange(func() {
		changes.Add(1)
		// Listeners run outside the locks: reading back must not deadlock.
		_, ok := m.Get("Raced")
		require.True(t, ok)
	})
	var created atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			cfg, c, err := m.CreateInSendMessage("Raced", AutoCreateTopicKey, "", 4, 0)
			require.NoError(t, err)
			require.Equal(t, int32(4), cfg.WriteQueueNums)
			if c {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), created.Load())
	require.Equal(t, int32(1), changes.Load())
	require.Equal(t, int64(1), m.DataVersion().Counter)
}

func TestCreateInSendMessageBack(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, testOptions())
	rw := int32(protocol.PermRead | protocol.PermWrite)

	cfg, err := m.CreateInSendMessageBack(RetryTopic("cg"), 1, rw, 0)
	require.NoError(t, err)
	require.Equal(t, protocol.TopicConfig{TopicName: "%RETRY%cg", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw,
		TopicFilterType: protocol.TopicFilterSingleTag}, cfg)
	require.Equal(t, int64(1), m.DataVersion().Counter)

	// Existing: returned unchanged, whatever is asked.
	cfg, err = m.CreateInSendMessageBack(RetryTopic("cg"), 4, protocol.PermRead, 0)
	require.NoError(t, err)
	require.Equal(t, int32(1), cfg.WriteQueueNums)
	require.Equal(t, int64(1), m.DataVersion().Counter)

	// A long group makes a retry topic longer than 127, which is allowed.
	long := RetryTopic(string(make([]byte, 0)) + stringOf('g', 200))
	_, err = m.CreateInSendMessageBack(long, 1, rw, 0)
	require.NoError(t, err)

	_, err = m.CreateInSendMessageBack(DLQTopic("cg"), 0, rw, 0)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = m.CreateInSendMessageBack("%DLQ%c g", 1, rw, 0)
	require.ErrorIs(t, err, ErrInvalidTopic)

	m2 := open(t, dir, testOptions())
	_, ok := m2.Get(long)
	require.True(t, ok)
}

func stringOf(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
