package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// sendBackReq builds CONSUMER_SEND_MSG_BACK as the Go client does.
func sendBackReq(group string, offset int64, delayLevel int32, maxTimes int32, originTopic string) protocol.ExtFields {
	return protocol.ExtFields{
		{Key: "group", Value: group},
		{Key: "offset", Value: strconv.FormatInt(offset, 10)},
		{Key: "delayLevel", Value: strconv.Itoa(int(delayLevel))},
		{Key: "originMsgId", Value: "X"},
		{Key: "originTopic", Value: originTopic},
		{Key: "unitMode", Value: "false"},
		{Key: "maxReconsumeTimes", Value: strconv.Itoa(int(maxTimes))},
	}
}

func (tb *testBroker) sendBack(t *testing.T, ext protocol.ExtFields) *remoting.Command {
	t.Helper()
	return tb.invoke(t, protocol.ConsumerSendMsgBack, ext, nil)
}

// original sends one message to topic and returns it as stored.
func (tb *testBroker) original(t *testing.T, topic string) *message.MessageExt {
	t.Helper()
	tb.createTopic(t, topic, 1)
	tb.mustSend(t, topic, 0, "body", "TAGS", "tg", "KEYS", "k", "UNIQ_KEY", "UNIQ-1", "user", "prop")
	got := waitQueue(t, tb.store, topic, 0, 1)
	return got[len(got)-1]
}

// TestSendBackRetriesThroughTheScheduleTopic: a failed message comes back
// on %RETRY%<group> after the delay of its level, counted once more, with
// its original topic in RETRY_TOPIC, its first id in ORIGIN_MESSAGE_ID and
// everything else kept; delayLevel 0 means 3 + reconsume times.
func TestSendBackRetriesThroughTheScheduleTopic(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	orig := tb.original(t, "Orders")

	resp := tb.sendBack(t, sendBackReq("G1", orig.CommitLogOffset, 1, 16, "Orders"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	cfg, ok := tb.topics.Get("%RETRY%G1")
	require.True(t, ok, "the retry topic is created")
	require.Equal(t, int32(1), cfg.WriteQueueNums)
	require.Equal(t, int32(protocol.PermRead|protocol.PermWrite), cfg.Perm)

	retried := waitQueue(t, tb.store, "%RETRY%G1", 0, 1)[0]
	require.Equal(t, int32(1), retried.ReconsumeTimes)
	require.Equal(t, "Orders", retried.Property("RETRY_TOPIC"))
	require.Equal(t, orig.OffsetMsgID, retried.Property("ORIGIN_MESSAGE_ID"))
	require.Equal(t, "UNIQ-1", retried.MsgID)
	require.Equal(t, "body", string(retried.Body))
	require.Equal(t, "tg", retried.Tags())
	require.Equal(t, []string{"k"}, retried.Keys())
	require.Equal(t, "prop", retried.Property("user"))
	require.Equal(t, orig.BornTimestamp, retried.BornTimestamp)
	require.GreaterOrEqual(t, retried.StoreTimestamp, orig.StoreTimestamp+1000)

	// A second failure with delayLevel 0: level 3 + 1 = 4, and the
	// origin stays the first message's.
	resp = tb.sendBack(t, sendBackReq("G1", retried.CommitLogOffset, 0, 16, "Orders"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	held := waitQueue(t, tb.store, schedule.Topic, 3, 1)[0]
	require.Equal(t, "4", held.Property("DELAY"))
	require.Equal(t, "%RETRY%G1", held.Property("REAL_TOPIC"))
	again := waitQueue(t, tb.store, "%RETRY%G1", 0, 2)[1]
	require.Equal(t, int32(2), again.ReconsumeTimes)
	require.Equal(t, orig.OffsetMsgID, again.Property("ORIGIN_MESSAGE_ID"))
	require.Equal(t, "Orders", again.Property("RETRY_TOPIC"))
	require.Equal(t, int64(2), tb.ScheduleStats().SendBacks)
}

// TestSendBackToTheDeadLetterQueue: past the maximum reconsume times (the
// header's, else the group's 16) or with delayLevel < 0 the message goes
// to %DLQ%<group>: one readable and writable queue, at once.
func TestSendBackToTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	orig := tb.original(t, "Pay")
	resp := tb.sendBack(t, sendBackReq("G2", orig.CommitLogOffset, 1, 1, "Pay"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	retried := waitQueue(t, tb.store, "%RETRY%G2", 0, 1)[0]

	resp = tb.sendBack(t, sendBackReq("G2", retried.CommitLogOffset, 0, 1, "Pay"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	dead := waitQueue(t, tb.store, "%DLQ%G2", 0, 1)[0]
	require.Equal(t, int32(2), dead.ReconsumeTimes)
	require.Equal(t, "Pay", dead.Property("RETRY_TOPIC"))
	require.Equal(t, "body", string(dead.Body))
	require.Empty(t, dead.Property("DELAY"))
	cfg, ok := tb.topics.Get("%DLQ%G2")
	require.True(t, ok)
	require.Equal(t, int32(1), cfg.ReadQueueNums)
	require.Equal(t, int32(protocol.PermRead|protocol.PermWrite), cfg.Perm, "dead letters can be read and resent")

	// The client asks for the DLQ (an orderly consumer past its retries).
	resp = tb.sendBack(t, sendBackReq("G2", orig.CommitLogOffset, -1, 16, "Pay"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	waitQueue(t, tb.store, "%DLQ%G2", 0, 2)

	// Without maxReconsumeTimes in the header the group's 16 applies.
	ext := sendBackReq("G2", retried.CommitLogOffset, 1, 0, "Pay")[:6]
	resp = tb.sendBack(t, ext)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	waitQueue(t, tb.store, "%RETRY%G2", 0, 2)
	require.Equal(t, int64(2), tb.ScheduleStats().DeadLetters)
}

// TestSendBackBadInput: a send-back for a message that does not exist,
// for an invalid group or with a malformed header is refused with a
// clear error, and creates neither the group nor its topics.
func TestSendBackBadInput(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	orig := tb.original(t, "Bad")
	for _, off := range []int64{orig.CommitLogOffset + 1, 1 << 40, -5} {
		resp := tb.sendBack(t, sendBackReq("Ghost", off, 0, 16, "Bad"))
		require.Equal(t, protocol.SystemError, resp.ResponseCode(), "offset %d", off)
		require.Contains(t, resp.Remark, "look message by offset failed, "+strconv.FormatInt(off, 10))
	}
	_, ok := tb.groups.Get("Ghost")
	require.False(t, ok, "no group created")
	_, ok = tb.topics.Get("%RETRY%Ghost")
	require.False(t, ok, "no retry topic created")

	resp := tb.sendBack(t, sendBackReq("bad group!", orig.CommitLogOffset, 0, 16, "Bad"))
	require.Equal(t, protocol.SubscriptionGroupNotExist, resp.ResponseCode())

	resp = tb.sendBack(t, protocol.ExtFields{{Key: "group", Value: "G"}, {Key: "offset", Value: "x"}})
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "offset")
	require.Equal(t, []string{"Bad"}, tb.store.Topics(), "nothing stored besides the original")
}

// TestDirectSendToRetryTopic: a producer's send to %RETRY%<group> (Java
// clients fall back to it) goes to the DLQ when its reconsume times exceed
// the group's maximum, or when the group consumes orderly and holds live
// locks; otherwise it stays a retry.
func TestDirectSendToRetryTopic(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	send := func(reconsume int32) {
		h := sendHeader("%RETRY%G3", 0, props("UNIQ_KEY", "U"+strconv.Itoa(int(reconsume)), "DELAY", "1"))
		h.ReconsumeTimes = reconsume
		resp := tb.send(t, h, "retry")
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}
	send(16)
	waitQueue(t, tb.store, "%RETRY%G3", 0, 1) // delayed by its level
	send(17)
	dead := waitQueue(t, tb.store, "%DLQ%G3", 0, 1)[0]
	require.Equal(t, "U17", dead.MsgID)
	require.Empty(t, dead.Property("DELAY"))

	// A group holding a live orderly lock: straight to the DLQ.
	locks := tb.orderLocks()
	require.NotNil(t, locks)
	mq := protocol.MessageQueue{Topic: "T", BrokerName: tb.opts.BrokerName, QueueID: 0}
	require.Len(t, locks.TryLockBatch("G3", []protocol.MessageQueue{mq}, "client-1", time.Now()), 1)
	send(0)
	waitQueue(t, tb.store, "%DLQ%G3", 0, 2)
	require.Equal(t, int64(1), tb.store.MaxOffsetInQueue("%RETRY%G3", 0))
}

// TestDirectSendToRetryTopicHeaderMaximum: the maximum a direct send to
// %RETRY%<group> is held to is the header's maxReconsumeTimes, as Java's
// consumer sends it when it falls back to sending the retry itself; only
// without one (or with a negative one) is it the group's retryMaxTimes.
func TestDirectSendToRetryTopicHeaderMaximum(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	send := func(body string, reconsume int32, maxTimes *int32) {
		h := sendHeader("%RETRY%G4", 0, props("UNIQ_KEY", body))
		h.ReconsumeTimes = reconsume
		h.HasMaxReconsumeTimes = maxTimes != nil
		if maxTimes != nil {
			h.MaxReconsumeTimes = *maxTimes
		}
		resp := tb.send(t, h, body)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}
	three, none := int32(3), int32(-1)
	send("beyond-header-max", 4, &three) // the group allows 16: the header's 3 wins
	send("within-header-max", 3, &three)
	send("no-header-max", 4, nil)         // the group's 16
	send("negative-header-max", 4, &none) // likewise

	dead := waitQueue(t, tb.store, "%DLQ%G4", 0, 1)
	require.Equal(t, []string{"beyond-header-max"}, bodies(dead))
	retried := waitQueue(t, tb.store, "%RETRY%G4", 0, 3)
	require.Equal(t, []string{"within-header-max", "no-header-max", "negative-header-max"}, bodies(retried))
	require.Equal(t, int64(1), tb.store.MaxOffsetInQueue("%DLQ%G4", 0))
}
