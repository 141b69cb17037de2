package broker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

func queryOffset(t *testing.T, tb *testBroker, group, topic string, queueID int32) (int64, protocol.ResponseCode) {
	t.Helper()
	ext := protocol.EncodeHeader(nil, &protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: queueID})
	resp := tb.invoke(t, protocol.QueryConsumerOffset, ext, nil)
	if resp.ResponseCode() != protocol.Success {
		return -1, resp.ResponseCode()
	}
	return offsetOf(t, resp), protocol.Success
}

func TestQueryConsumerOffsetYoungQueueQuirk(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	for range 3 {
		tb.mustSend(t, "T", 0, "x")
	}
	tb.waitDispatched(t, "T", 0, 3)

	off, code := queryOffset(t, tb, "newGroup", "T", 0)
	require.Equal(t, protocol.Success, code, "a new group on a young queue starts at 0, as RocketMQ does")
	require.Zero(t, off)

	_, code = queryOffset(t, tb, "newGroup", "T", 1)
	require.Equal(t, protocol.QueryNotFound, code, "an empty queue: the client's ConsumeFromWhere decides")

	ext := protocol.EncodeHeader(nil, &protocol.QueryConsumerOffsetRequestHeader{
		ConsumerGroup: "newGroup", Topic: "T", QueueID: 0, SetZeroIfNotFound: new(bool),
	})
	require.Equal(t, protocol.QueryNotFound, tb.invoke(t, protocol.QueryConsumerOffset, ext, nil).ResponseCode(),
		"setZeroIfNotFound=false turns the quirk off")

	update := protocol.EncodeHeader(nil, &protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: 0, CommitOffset: 2})
	require.Equal(t, protocol.Success, tb.invoke(t, protocol.UpdateConsumerOffset, update, nil).ResponseCode())
	off, code = queryOffset(t, tb, "cg", "T", 0)
	require.Equal(t, protocol.Success, code)
	require.Equal(t, int64(2), off)
}

func TestUpdateConsumerOffsetRefusals(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 2)
	for _, tt := range []struct {
		name string
		h    protocol.UpdateConsumerOffsetRequestHeader
		want protocol.ResponseCode
	}{
		{"unknown topic", protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "Nope", CommitOffset: 1}, protocol.TopicNotExist},
		{"bad group", protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "a@b", Topic: "T", CommitOffset: 1}, protocol.SubscriptionGroupNotExist},
		{"queue out of range", protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: 7, CommitOffset: 1}, protocol.SystemError},
		{"negative offset", protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", CommitOffset: -5}, protocol.SystemError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := tb.invoke(t, protocol.UpdateConsumerOffset, protocol.EncodeHeader(nil, &tt.h), nil)
			require.Equal(t, tt.want, resp.ResponseCode())
			require.NotEmpty(t, resp.Remark)
		})
	}
	require.Empty(t, tb.offsets.All(), "nothing was committed")
}

// TestUpdateConsumerOffsetUnknown: the offset -1 the Go client commits on
// shutdown for queues it never learned an offset for is answered SUCCESS,
// stores nothing, and logs nothing above debug.
func TestUpdateConsumerOffsetUnknown(t *testing.T) {
	logs := &logCapture{}
	tb := startBrokerLog(t, slog.New(logs), nil)
	tb.createTopic(t, "T", 2)
	tb.offsets.Commit("c", "cg", "T", 0, 5)
	mark := logs.len()
	for q := range int32(2) {
		h := protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: q, CommitOffset: -1}
		resp := tb.invoke(t, protocol.UpdateConsumerOffset, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}
	off, ok := tb.offsets.Query("cg", "T", 0)
	require.True(t, ok)
	require.Equal(t, int64(5), off, "the stored offset is kept")
	_, ok = tb.offsets.Query("cg", "T", 1)
	require.False(t, ok, "nothing stored for a queue without an offset")
	for _, r := range logs.since(mark, slog.LevelInfo) {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.String()
			return true
		})
		require.NotContains(t, strings.ToLower(line), "offset", "logged at %s", r.Level)
		require.NotContains(t, line, "conn=", "a request logged at %s", r.Level)
	}
}

func TestQueueOffsetQueries(t *testing.T) {
	tb := startBroker(t, nil)
	before := time.Now().UnixMilli()
	for range 5 {
		tb.mustSend(t, "T", 0, "x")
	}
	tb.waitDispatched(t, "T", 0, 5)

	q := func(h any) protocol.ExtFields { return protocol.EncodeHeader(nil, h) }
	require.Equal(t, int64(5), offsetOf(t, tb.invoke(t, protocol.GetMaxOffset, q(&protocol.GetMaxOffsetRequestHeader{Topic: "T"}), nil)))
	require.Equal(t, int64(0), offsetOf(t, tb.invoke(t, protocol.GetMaxOffset, q(&protocol.GetMaxOffsetRequestHeader{Topic: "T", QueueID: 3}), nil)))
	require.Equal(t, int64(0), offsetOf(t, tb.invoke(t, protocol.GetMinOffset, q(&protocol.TopicQueueRequestHeader{Topic: "T"}), nil)))
	require.Equal(t, int64(0), offsetOf(t, tb.invoke(t, protocol.GetMinOffset, q(&protocol.TopicQueueRequestHeader{Topic: "Nope"}), nil)),
		"0 for a queue that does not exist, as Java")
	require.Equal(t, int64(0), offsetOf(t, tb.invoke(t, protocol.SearchOffsetByTimestamp,
		q(&protocol.SearchOffsetRequestHeader{Topic: "T", Timestamp: before - 1000}), nil)))
	require.Equal(t, int64(5), offsetOf(t, tb.invoke(t, protocol.SearchOffsetByTimestamp,
		q(&protocol.SearchOffsetRequestHeader{Topic: "T", Timestamp: time.Now().UnixMilli() + 60_000}), nil)))

	resp := tb.invoke(t, protocol.GetEarliestMsgStoreTime, q(&protocol.TopicQueueRequestHeader{Topic: "T"}), nil)
	require.Equal(t, protocol.Success, resp.ResponseCode())
	var eh protocol.GetEarliestMsgStoretimeResponseHeader
	require.NoError(t, protocol.DecodeHeader(resp.ExtFields, &eh))
	require.GreaterOrEqual(t, eh.Timestamp, before)
	resp = tb.invoke(t, protocol.GetEarliestMsgStoreTime, q(&protocol.TopicQueueRequestHeader{Topic: "T", QueueID: 2}), nil)
	require.NoError(t, protocol.DecodeHeader(resp.ExtFields, &eh))
	require.Equal(t, int64(-1), eh.Timestamp)

	resp = tb.invoke(t, protocol.GetMaxOffset, protocol.ExtFields{{Key: "topic", Value: "T"}}, nil)
	require.Equal(t, protocol.SystemError, resp.ResponseCode(), "queueId is required")
	require.Contains(t, resp.Remark, "queueId")
}

func TestOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	mod := func(_ *Options, so *store.Options) { so.StorePathRootDir = dir }
	tb := startBroker(t, mod)
	tb.createTopic(t, "T", 2)
	update := protocol.EncodeHeader(nil, &protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: 1, CommitOffset: 42})
	require.Equal(t, protocol.Success, tb.invoke(t, protocol.UpdateConsumerOffset, update, nil).ResponseCode())
	require.NoError(t, tb.Close())

	tb2 := startBroker(t, mod)
	off, code := queryOffset(t, tb2, "cg", "T", 1)
	require.Equal(t, protocol.Success, code)
	require.Equal(t, int64(42), off, "offsets are persisted at Close")
	_, ok := tb2.topics.Get("T")
	require.True(t, ok)
}

// TestCloseKeepsOffsetsCommittedOnTheWayOut: a consumer commits its
// offsets with oneway calls as it shuts down and the broker is stopped at
// once: the commits are on the wire when Close begins, and survive.
func TestCloseKeepsOffsetsCommittedOnTheWayOut(t *testing.T) {
	dir := t.TempDir()
	mod := func(_ *Options, so *store.Options) { so.StorePathRootDir = dir }
	tb := startBroker(t, mod)
	tb.createTopic(t, "T", 8)
	conn, err := tb.rc.Conn(context.Background(), tb.addr)
	require.NoError(t, err)
	for q := range int32(8) {
		ext := protocol.EncodeHeader(nil, &protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: q, CommitOffset: 100 + int64(q)})
		require.NoError(t, conn.InvokeOneway(context.Background(), remoting.NewRequest(protocol.UpdateConsumerOffset, ext, nil)))
	}
	require.NoError(t, tb.Close())

	tb2 := startBroker(t, mod)
	for q := range int32(8) {
		off, code := queryOffset(t, tb2, "cg", "T", q)
		require.Equal(t, protocol.Success, code)
		require.Equal(t, 100+int64(q), off)
	}
}
