package broker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

func TestPullCodeTable(t *testing.T) {
	tests := []struct {
		st                  store.GetStatus
		offset              int64
		slave, checkInSlave bool
		want                protocol.ResponseCode
	}{
		{store.GetFound, 5, false, false, protocol.Success},
		{store.GetNoMatchedMessage, 5, false, false, protocol.PullRetryImmediately},
		{store.GetMessageWasRemoving, 5, false, false, protocol.PullRetryImmediately},
		{store.GetOffsetOverflowOne, 5, false, false, protocol.PullNotFound},
		{store.GetOffsetFoundNull, 5, false, false, protocol.PullNotFound},
		{store.GetNoMatchedLogicQueue, 0, false, false, protocol.PullNotFound},
		{store.GetNoMatchedLogicQueue, 3, false, false, protocol.PullOffsetMoved},
		{store.GetNoMessageInQueue, 0, false, false, protocol.PullNotFound},
		{store.GetNoMessageInQueue, 3, false, false, protocol.PullOffsetMoved},
		{store.GetOffsetTooSmall, 3, false, false, protocol.PullOffsetMoved},
		{store.GetOffsetOverflowBadly, 3, false, false, protocol.PullOffsetMoved},
		{store.GetOffsetTooSmall, 3, true, false, protocol.PullRetryImmediately},
		{store.GetOffsetTooSmall, 3, true, true, protocol.PullOffsetMoved},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, pullCode(tt.st, tt.offset, tt.slave, tt.checkInSlave), "%v offset=%d slave=%v", tt.st, tt.offset, tt.slave)
	}
}

func TestPullStatuses(t *testing.T) {
	tb := startBroker(t, nil)
	for i := range 3 {
		tb.mustSend(t, "T", 0, string(rune('a'+i)))
	}
	tb.waitDispatched(t, "T", 0, 3)

	r := tb.pull(t, pullHeader("cg", "T", 0, 3))
	require.Equal(t, protocol.PullNotFound, r.code, "at the end of the queue")
	require.Equal(t, int64(3), r.hdr.NextBeginOffset)

	r = tb.pull(t, pullHeader("cg", "T", 0, 10))
	require.Equal(t, protocol.PullOffsetMoved, r.code, "far past the end")
	require.Equal(t, int64(0), r.hdr.NextBeginOffset, "Java moves it to the min offset when that is 0")

	r = tb.pull(t, pullHeader("cg", "T", 1, 0))
	require.Equal(t, protocol.PullNotFound, r.code, "an empty queue at offset 0")
	r = tb.pull(t, pullHeader("cg", "T", 1, 5))
	require.Equal(t, protocol.PullOffsetMoved, r.code, "an empty queue past offset 0")
	require.Equal(t, int64(0), r.hdr.NextBeginOffset)

	h := pullHeader("cg", "T", 0, 1)
	h.MaxMsgNums = 1
	r = tb.pull(t, h)
	require.Equal(t, []string{"b"}, bodies(r.msgs))
	require.Equal(t, int64(2), r.hdr.NextBeginOffset)

	r = tb.pull(t, pullHeader("cg", "NoSuchTopic", 0, 0))
	require.Equal(t, protocol.TopicNotExist, r.code)
	r = tb.pull(t, pullHeader("cg", "T", 99, 0))
	require.Equal(t, protocol.SystemError, r.code)
	require.Contains(t, r.resp.Remark, "queueId[99] is illegal")
	r = tb.pull(t, pullHeader("bad group!", "T", 0, 0))
	require.Equal(t, protocol.SubscriptionGroupNotExist, r.code)

	h = pullHeader("cg", "T", 0, 0)
	h.SysFlag = 0 // no subscription in the header, and no heartbeat
	r = tb.pull(t, h)
	require.Equal(t, protocol.SubscriptionNotExist, r.code)

	f := h.AppendExt(nil)
	f.Delete("queueOffset")
	resp := tb.invoke(t, protocol.PullMessage, f, nil)
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "queueOffset")
}

func TestPullTagFilter(t *testing.T) {
	tb := startBroker(t, nil)
	for _, tag := range []string{"TagA", "TagB", "TagC", "TagA"} {
		tb.mustSend(t, "T", 0, tag, message.PropertyTags, tag)
	}
	tb.waitDispatched(t, "T", 0, 4)

	h := pullHeader("cg", "T", 0, 0)
	h.Subscription = "TagA || TagC"
	r := tb.pull(t, h)
	require.Equal(t, protocol.Success, r.code)
	require.Equal(t, []string{"TagA", "TagC", "TagA"}, bodies(r.msgs))
	require.Equal(t, int64(4), r.hdr.NextBeginOffset)

	h.Subscription = "TagZ"
	r = tb.pull(t, h)
	require.Equal(t, protocol.PullRetryImmediately, r.code, "everything filtered out")
	require.Equal(t, int64(4), r.hdr.NextBeginOffset, "the client skips what it does not want")
}

func TestPullSQL92(t *testing.T) {
	tb := startBroker(t, nil)
	for i, region := range []string{"eu", "us", "eu", "eu"} {
		tb.mustSend(t, "T", 0, region+string(rune('0'+i)),
			message.PropertyTags, "red", "region", region, "a", string(rune('0'+i)))
	}
	tb.waitDispatched(t, "T", 0, 4)

	h := pullHeader("cg", "T", 0, 0)
	h.ExpressionType = protocol.ExpressionSQL92
	h.Subscription = "region = 'eu' AND a BETWEEN 1 AND 3 AND TAGS = 'red'"
	r := tb.pull(t, h)
	require.Equal(t, protocol.Success, r.code, r.resp.Remark)
	require.Equal(t, []string{"eu2", "eu3"}, bodies(r.msgs))

	h.Subscription = "region = 'eu' AND"
	r = tb.pull(t, h)
	require.Equal(t, protocol.SubscriptionParseFailed, r.code)
	require.Contains(t, r.resp.Remark, "parse the consumer's subscription failed")
	require.Contains(t, r.resp.Remark, "filter:", "the parser's message is passed on")

	h.ExpressionType = "XPATH"
	h.Subscription = "whatever"
	r = tb.pull(t, h)
	require.Equal(t, protocol.SubscriptionParseFailed, r.code)
}

func TestPullSQL92Disabled(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.EnablePropertyFilter = false })
	tb.mustSend(t, "T", 0, "x")
	h := pullHeader("cg", "T", 0, 0)
	h.ExpressionType = protocol.ExpressionSQL92
	h.Subscription = "a = 1"
	r := tb.pull(t, h)
	require.Equal(t, protocol.SystemError, r.code)
	require.Contains(t, r.resp.Remark, "SQL92")
}

func TestPullCommitsOffset(t *testing.T) {
	tb := startBroker(t, nil)
	tb.mustSend(t, "T", 0, "x")
	h := pullHeader("cg", "T", 0, 0)
	h.SysFlag |= protocol.PullFlagCommitOffset
	h.CommitOffset = 1
	tb.pull(t, h)
	off, ok := tb.offsets.Query("cg", "T", 0)
	require.True(t, ok)
	require.Equal(t, int64(1), off)
}

// asyncPull starts a pull and returns a channel with its answer.
func (tb *testBroker) asyncPull(t *testing.T, h protocol.PullMessageRequestHeader) <-chan *remoting.Command {
	t.Helper()
	ch := make(chan *remoting.Command, 1)
	err := tb.rc.InvokeAsync(context.Background(), tb.addr, remoting.NewRequest(protocol.PullMessage, h.AppendExt(nil), nil),
		func(resp *remoting.Command, err error) {
			if err != nil {
				resp = remoting.NewResponse(&remoting.Command{}, protocol.SystemError, err.Error())
			}
			ch <- resp
		})
	require.NoError(t, err)
	return ch
}

func suspendedPull(group, topic string, queueID int32, offset int64, sub string, timeout time.Duration) protocol.PullMessageRequestHeader {
	h := pullHeader(group, topic, queueID, offset)
	h.SysFlag |= protocol.PullFlagSuspend
	h.Subscription = sub
	h.SuspendTimeoutMillis = timeout.Milliseconds()
	return h
}

func TestLongPollingWakesOnMatchingMessage(t *testing.T) {
	tb := startBroker(t, nil)
	tb.mustSend(t, "T", 0, "old", message.PropertyTags, "TagA")
	tb.waitDispatched(t, "T", 0, 1)

	start := time.Now()
	ch := tb.asyncPull(t, suspendedPull("cg", "T", 0, 1, "TagA", 20*time.Second))
	waitFor(t, "the pull to be held", func() bool { return tb.holds.Len() == 1 })
	// A message the consumer does not want does not wake it...
	tb.mustSend(t, "T", 0, "other", message.PropertyTags, "TagB")
	tb.waitDispatched(t, "T", 0, 2)
	// ...one it wants does.
	tb.mustSend(t, "T", 0, "wanted", message.PropertyTags, "TagA")

	select {
	case resp := <-ch:
		r := decodePull(t, resp)
		require.Equal(t, protocol.Success, r.code, resp.Remark)
		require.Equal(t, []string{"wanted"}, bodies(r.msgs))
		require.Equal(t, int64(3), r.hdr.NextBeginOffset)
		require.Less(t, time.Since(start), 10*time.Second, "woken by the arrival, not by the timeout")
	case <-time.After(15 * time.Second):
		t.Fatal("held pull not woken")
	}
	require.Zero(t, tb.holds.Len())
}

func TestLongPollingTimesOut(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T2", 4)
	start := time.Now()
	ch := tb.asyncPull(t, suspendedPull("cg", "T2", 0, 0, "*", 200*time.Millisecond))
	select {
	case resp := <-ch:
		require.Equal(t, protocol.PullNotFound, resp.ResponseCode())
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "held until its suspend time")
	case <-time.After(15 * time.Second):
		t.Fatal("held pull never answered")
	}
}

func TestShortPollingWhenLongPollingIsOff(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) {
		o.LongPollingEnable = false
		o.ShortPollingTimeMills = 100
	})
	tb.createTopic(t, "T", 4)
	start := time.Now()
	ch := tb.asyncPull(t, suspendedPull("cg", "T", 0, 0, "*", 20*time.Second))
	select {
	case resp := <-ch:
		require.Equal(t, protocol.PullNotFound, resp.ResponseCode())
		require.Less(t, time.Since(start), 10*time.Second, "held shortPollingTimeMills, not the client's 20 s")
	case <-time.After(15 * time.Second):
		t.Fatal("held pull never answered")
	}
}

func TestCloseAnswersHeldPulls(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	ch := tb.asyncPull(t, suspendedPull("cg", "T", 0, 0, "*", time.Minute))
	waitFor(t, "the pull to be held", func() bool { return tb.holds.Len() == 1 })
	require.NoError(t, tb.Close())
	select {
	case resp := <-ch:
		require.Equal(t, protocol.PullNotFound, resp.ResponseCode(), "answered, not dropped")
	case <-time.After(15 * time.Second):
		t.Fatal("held pull not answered at Close")
	}
	require.NoError(t, tb.Close(), "idempotent")
}

// TestHeldPullsPerConnectionAreBounded: a client that holds more pulls
// than maxOwedAnswers gets the extra ones answered at once instead of
// growing the broker's state without bound.
func TestHeldPullsPerConnectionAreBounded(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 1)
	const extra = 5
	chans := make([]<-chan *remoting.Command, 0, maxOwedAnswers+extra)
	for range maxOwedAnswers + extra {
		chans = append(chans, tb.asyncPull(t, suspendedPull("cg", "T", 0, 0, "*", time.Minute)))
	}
	// The extra pulls are answered at once; the others stay held.
	answered := map[int]bool{}
	waitFor(t, "the pulls past the bound to be answered", func() bool {
		for i, ch := range chans {
			select {
			case resp := <-ch:
				require.Equal(t, protocol.PullNotFound, resp.ResponseCode())
				answered[i] = true
			default:
			}
		}
		return len(answered) >= extra
	})
	require.Len(t, answered, extra)
	require.Equal(t, maxOwedAnswers, tb.holds.Len())
	var held []<-chan *remoting.Command
	for i, ch := range chans {
		if !answered[i] {
			held = append(held, ch)
		}
	}
	require.NoError(t, tb.Close())
	for _, ch := range held {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("a held pull was not answered at Close")
		}
	}
}
