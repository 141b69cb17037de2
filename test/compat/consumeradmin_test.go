package compat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/protocol"
)

// Consumer management against a group of official-client consumers: what
// mqadmin consumerProgress, resetOffsetByTime, consumerStatus,
// consumerConnection and consumeMessage ask the broker. The official Go
// client has no admin calls for these; gorocket's client sends them.

// invoke sends an admin request to the broker and requires an answer.
func (c *cluster) invoke(t *testing.T, admin *client.Admin, code protocol.RequestCode, h any, body []byte) *client.Response {
	t.Helper()
	resp, err := admin.Invoke(context.Background(), c.s.BrokerAddr(), client.RequestCode(code), protocol.EncodeHeader(nil, h).Map(), body)
	require.NoError(t, err)
	return resp
}

// sendPhases sends n messages, waits for the clock to move and sends n
// more; it returns a time between the two phases' store times.
func sendPhases(t *testing.T, c *cluster, topic string, n int) time.Time {
	t.Helper()
	p := c.producer()
	sendN(t, p, topic, "old", n, "")
	last := time.Now().UnixMilli()
	eventually(t, time.Second, func() error {
		if time.Now().UnixMilli() <= last {
			return errors.New("the clock did not move")
		}
		return nil
	})
	mid := time.Now()
	sendN(t, p, topic, "new", n, "")
	return mid
}

// times returns how often each body prefix was delivered in total.
func (s *sink) times(prefix string) (distinct, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for b, n := range s.count {
		if strings.HasPrefix(b, prefix) {
			distinct++
			total += n
		}
	}
	return distinct, total
}

// TestConsumeProgressAndLiveReset: GET_CONSUME_STATS reports a live
// group's progress per queue as mqadmin consumerProgress shows it; its
// members answer status, running-info and consume-directly requests
// through the broker; and a reset to a time makes the group consume again
// from there (the official client applies RESET_CONSUMER_CLIENT_OFFSET
// after a fixed 10 s pause of its own, push_consumer.go ResetOffset).
func TestConsumeProgressAndLiveReset(t *testing.T) {
	t.Parallel() // mostly waiting for the client
	c := startCluster(t)
	const topic, group, n = "Progress", "CG_Progress", 20
	mid := sendPhases(t, c, topic, n)
	s := newSink()
	c.pushConsumer(group, topic, "*", s)
	s.waitDistinct(t, 2*n, 30*time.Second)
	admin := c.admin()
	ctx := context.Background()

	t.Run("consume stats", func(t *testing.T) {
		var stats client.ConsumeStats
		eventually(t, 30*time.Second, func() error { // the client commits every 5 s
			var err error
			if stats, err = admin.ConsumeStats(ctx, group, topic); err != nil {
				return err
			}
			if lag := stats.Lag(); lag != 0 {
				return fmt.Errorf("lag %d", lag)
			}
			return nil
		})
		require.Len(t, stats.Queues, 4)
		var total int64
		for q, qs := range stats.Queues {
			require.Equal(t, qs.BrokerOffset, qs.ConsumerOffset, "queue %v", q)
			total += qs.BrokerOffset
			if qs.BrokerOffset > 0 {
				require.WithinDuration(t, time.Now(), qs.LastTimestamp, time.Minute, "store time of the last consumed message")
			}
		}
		require.Equal(t, int64(2*n), total)
		require.Positive(t, stats.ConsumeTPS, "messages the group got per second over the last minute")

		// 5.x mqadmin shows pullOffset - consumerOffset as in flight.
		resp := c.invoke(t, admin, protocol.GetConsumeStats, &protocol.GetConsumeStatsRequestHeader{ConsumerGroup: group, Topic: topic}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		var raw protocol.ConsumeStats
		require.NoError(t, protocol.DecodeBody(resp.Body, &raw))
		for q, w := range raw.OffsetTable {
			require.Equal(t, w.BrokerOffset, w.PullOffset, "queue %v: the client pulled everything", q)
		}
	})

	var clientID string
	t.Run("connections and status", func(t *testing.T) {
		resp := c.invoke(t, admin, protocol.GetConsumerConnectionList, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: group}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		var cc protocol.ConsumerConnection
		require.NoError(t, protocol.DecodeBody(resp.Body, &cc))
		require.Len(t, cc.ConnectionSet, 1)
		clientID = cc.ConnectionSet[0].ClientID

		resp = c.invoke(t, admin, protocol.InvokeBrokerToGetConsumerStatus, &protocol.GetConsumerStatusRequestHeader{Topic: topic, Group: group}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		var status protocol.GetConsumerStatusBody
		require.NoError(t, protocol.DecodeBody(resp.Body, &status))
		var total int64
		for mq, off := range status.ConsumerTable[clientID] {
			require.Equal(t, topic, mq.Topic)
			total += off
		}
		require.Equal(t, int64(2*n), total, "the client's own offsets")
	})

	t.Run("running info", func(t *testing.T) {
		// The request reaches the client and its answer comes back as it
		// is. The v2.1.2 client cannot encode its own running info while a
		// subscription has no consume statistics yet — always the case for
		// its %RETRY% topic — because the averages are NaN, which
		// encoding/json refuses: it then answers SUCCESS with no body and
		// the marshal error as remark (internal/client.go, model.go).
		resp := c.invoke(t, admin, protocol.GetConsumerRunningInfo,
			&protocol.GetConsumerRunningInfoRequestHeader{ConsumerGroup: group, ClientID: clientID}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		if len(resp.Body) == 0 {
			require.Contains(t, resp.Remark, "json marshal error: json: unsupported value: NaN")
			t.Logf("the client's answer, relayed: SUCCESS, no body, remark %q", resp.Remark)
			return
		}
		var info protocol.ConsumerRunningInfo
		require.NoError(t, protocol.DecodeBody(resp.Body, &info), "body %q", resp.Body)
		require.Equal(t, "false", info.Properties["PROP_CONSUMEORDERLY"], "%v", info.Properties)
		require.Len(t, info.MQTable, 4)
	})

	t.Run("consume directly", func(t *testing.T) {
		m := s.snapshot()[0]
		before := s.total()
		resp := c.invoke(t, admin, protocol.ConsumeMessageDirectly,
			&protocol.ConsumeMessageDirectlyResultRequestHeader{ConsumerGroup: group, ClientID: clientID, MsgID: m.OffsetMsgId}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		require.Contains(t, string(resp.Body), `"consumeResult":0`, "CR_SUCCESS")
		require.Equal(t, before+1, s.total(), "the listener consumed it once more")
	})

	t.Run("reset to a time", func(t *testing.T) {
		_, oldBefore := s.times("old-")
		resp := c.invoke(t, admin, protocol.InvokeBrokerToResetOffset,
			&protocol.ResetOffsetRequestHeader{Topic: topic, Group: group, Timestamp: mid.UnixMilli()}, nil)
		require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
		var table protocol.ResetOffsetBody
		require.NoError(t, protocol.DecodeBody(resp.Body, &table))
		var sum int64
		for _, off := range table.OffsetTable {
			sum += off
		}
		require.Equal(t, int64(n), sum, "each queue goes back to its first new message")

		eventually(t, 40*time.Second, func() error {
			if d, total := s.times("new-"); total < 2*d {
				return fmt.Errorf("%d of %d new messages consumed again", total-d, d)
			}
			return nil
		})
		quiet(t, 500*time.Millisecond, 10*time.Second, s.total)
		_, oldAfter := s.times("old-")
		require.Equal(t, oldBefore, oldAfter, "nothing before the time again")
	})
}

// TestOfflineReset: the stored offsets of a group with no member online
// are rewritten by the broker; the next member starts from them.
func TestOfflineReset(t *testing.T) {
	c := startCluster(t)
	const topic, group, n = "OfflineReset", "CG_OfflineReset", 10
	mid := sendPhases(t, c, topic, n)
	s := newSink()
	pc := c.pushConsumer(group, topic, "*", s)
	s.waitDistinct(t, 2*n, 30*time.Second)
	require.NoError(t, pc.Shutdown()) // commits its offsets, oneway
	admin := c.admin()
	eventually(t, 10*time.Second, func() error {
		stats, err := admin.ConsumeStats(context.Background(), group, topic)
		if err == nil && stats.Lag() > 0 {
			err = fmt.Errorf("lag %d", stats.Lag())
		}
		return err
	})

	resp := c.invoke(t, admin, protocol.InvokeBrokerToResetOffset,
		&protocol.ResetOffsetRequestHeader{Topic: topic, Group: group, Timestamp: mid.UnixMilli()}, nil)
	require.Equal(t, client.CodeSuccess, resp.Code, resp.Remark)
	stats, err := admin.ConsumeStats(context.Background(), group, topic)
	require.NoError(t, err)
	require.Equal(t, int64(n), stats.Lag(), "the new messages are to be consumed again")

	again := newSink()
	c.pushConsumer(group, topic, "*", again)
	again.waitDistinct(t, n, 30*time.Second)
	quiet(t, 500*time.Millisecond, 10*time.Second, again.total)
	for _, b := range again.bodies() {
		require.True(t, strings.HasPrefix(b, "new-"), "%s consumed again", b)
	}

	resp = c.invoke(t, admin, protocol.InvokeBrokerToResetOffset,
		&protocol.ResetOffsetRequestHeader{Topic: topic, Group: "CG_Never", Timestamp: 0}, nil)
	require.Equal(t, client.CodeSystemError, resp.Code, "a group that never consumed here")
	require.Contains(t, resp.Remark, "no offsets")
}
