package topic

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestValidateTopic(t *testing.T) {
	for _, tc := range []struct {
		topic string
		ok    bool
		msg   string
	}{
		{"TopicTest", true, ""},
		{"a-b_c|d%e09", true, ""},
		{strings.Repeat("t", 127), true, ""},
		{strings.Repeat("t", 128), false, "longer than 127"},
		{"%RETRY%" + strings.Repeat("g", 248), true, ""},
		{"%RETRY%" + strings.Repeat("g", 249), false, "longer than 255"},
		{"%DLQ%" + strings.Repeat("g", 250), true, ""},
		{"", false, "blank"},
		{" ", false, "illegal character"},
		{"a.b", false, "illegal character '.' at 1"},
		{"a/b", false, "illegal"},
		{"tópico", false, "illegal"},
		{"a\x00b", false, "illegal"},
		{"topic\n", false, "illegal"},
	} {
		err := ValidateTopic(tc.topic)
		if tc.ok {
			require.NoError(t, err, tc.topic)
			continue
		}
		require.ErrorIs(t, err, ErrInvalidTopic, tc.topic)
		require.Contains(t, err.Error(), tc.msg, tc.topic)
		require.Less(t, len(err.Error()), 250, "long names are clipped in messages")
	}
}

func TestSystemTopicSets(t *testing.T) {
	for _, s := range []string{"TBW102", "SCHEDULE_TOPIC_XXXX", "BenchmarkTest", "RMQ_SYS_TRANS_HALF_TOPIC",
		"RMQ_SYS_TRACE_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC", "SELF_TEST_TOPIC",
		"OFFSET_MOVED_EVENT", "rmq_sys_wheel_timer", "rmq_sys_anything"} {
		require.True(t, IsSystemTopic(s), s)
	}
	for _, s := range []string{"TopicTest", "%RETRY%g", "%DLQ%g", "RMQ_SYS_X", "DefaultCluster"} {
		require.False(t, IsSystemTopic(s), s)
	}
	for _, s := range []string{"SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC",
		"TRANS_CHECK_MAX_TIME_TOPIC", "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT"} {
		require.True(t, IsNotAllowedSendTopic(s), s)
	}
	for _, s := range []string{"TBW102", "RMQ_SYS_TRACE_TOPIC", "TopicTest", "%RETRY%g", "BenchmarkTest"} {
		require.False(t, IsNotAllowedSendTopic(s), s)
	}
	require.Equal(t, "%RETRY%g", RetryTopic("g"))
	require.Equal(t, "%DLQ%g", DLQTopic("g"))
	require.True(t, IsRetryTopic("%RETRY%g"))
	require.True(t, IsDLQTopic("%DLQ%g"))
	require.False(t, IsRetryTopic("g"))
}

func FuzzDecodeFile(f *testing.F) {
	for _, name := range []string{"java49_topics.json", "java5_topics_odd.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"topicConfigTable":{0:{"perm":-1}},"dataVersion":{"counter":"x"}}`))
	f.Add([]byte(`{"topicConfigTable":{"t":{"attributes":{1:2}}}}`))
	f.Add([]byte(`[[[[[[[[[[`))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, _, err := decodeFile(b, log)
		if err != nil {
			return
		}
		// Whatever loads is valid and round-trips.
		for name, cfg := range topics {
			require.Equal(t, name, cfg.TopicName)
			require.NoError(t, validateConfig(cfg))
		}
		enc, err := encodeFile(&table{topics: topics})
		require.NoError(t, err)
		back, _, err := decodeFile(enc, log)
		require.NoError(t, err)
		require.Len(t, back, len(topics))
		for name, cfg := range topics {
			require.True(t, equalConfig(cfg, back[name]) || (len(cfg.Attributes) == 0 && len(back[name].Attributes) == 0 &&
				equalConfig(withoutAttrs(cfg), withoutAttrs(back[name]))), name)
		}
	})
}

func withoutAttrs(c protocol.TopicConfig) protocol.TopicConfig {
	c.Attributes = nil
	return c
}
