package broker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// twoPhases sends n messages to each queue of topic, then n more, and
// returns a time between the phases' store times.
func (tb *testBroker) twoPhases(t *testing.T, topic string, queues int32, n int) time.Time {
	t.Helper()
	tb.createTopic(t, topic, queues)
	for q := range queues {
		for i := range n {
			tb.mustSend(t, topic, q, "old-"+strconv.Itoa(i))
		}
	}
	last := time.Now().UnixMilli()
	waitFor(t, "the clock to move", func() bool { return time.Now().UnixMilli() > last })
	mid := time.Now()
	for q := range queues {
		for i := range n {
			tb.mustSend(t, topic, q, "new-"+strconv.Itoa(i))
		}
		tb.waitDispatched(t, topic, q, int64(2*n))
	}
	return mid
}

func (tb *testBroker) resetOffset(t *testing.T, h protocol.ResetOffsetRequestHeader) (*remoting.Command, map[int32]int64) {
	t.Helper()
	resp := tb.invoke(t, protocol.InvokeBrokerToResetOffset, protocol.EncodeHeader(nil, &h), nil)
	if resp.ResponseCode() != protocol.Success {
		return resp, nil
	}
	var body protocol.ResetOffsetBody
	require.NoError(t, protocol.DecodeBody(resp.Body, &body))
	out := map[int32]int64{}
	for mq, off := range body.OffsetTable {
		require.Equal(t, h.Topic, mq.Topic)
		require.Equal(t, tb.opts.BrokerName, mq.BrokerName)
		out[mq.QueueID] = off
	}
	return resp, out
}

// TestResetOffsetOfflineGroup: the broker rewrites the stored offsets of a
// group that is not online: back to a time, forward only when forced.
func TestResetOffsetOfflineGroup(t *testing.T) {
	tb := startBroker(t, nil)
	mid := tb.twoPhases(t, "T", 2, 5)
	tb.offsets.Commit("test", "g", "T", 0, 8)
	tb.offsets.Commit("test", "g", "T", 1, 2)

	stored := func() map[int32]int64 { return tb.offsets.QueueOffsets("g", "T") }
	_, table := tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", Timestamp: mid.UnixMilli()})
	require.Equal(t, map[int32]int64{0: 5, 1: 2}, table, "back to the first message at mid; queue 1 was behind it already")
	require.Equal(t, table, stored())

	_, table = tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", Timestamp: mid.UnixMilli(), IsForce: true})
	require.Equal(t, map[int32]int64{0: 5, 1: 5}, table, "forced: forward too")
	require.Equal(t, table, stored())

	_, table = tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", Timestamp: 0, IsForce: true})
	require.Equal(t, map[int32]int64{0: 0, 1: 0}, table, "to the beginning")
	_, table = tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", Timestamp: -1, IsForce: true})
	require.Equal(t, map[int32]int64{0: 10, 1: 10}, table, "-1: to the end")

	off := int64(99)
	_, table = tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", QueueID: 1, Offset: &off})
	require.Equal(t, map[int32]int64{1: 10}, table, "5.x: one queue, clamped to its range")
	off = 3
	tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "g", QueueID: 0, Offset: &off})
	require.Equal(t, map[int32]int64{0: 3, 1: 10}, stored())

	for name, h := range map[string]protocol.ResetOffsetRequestHeader{
		"no such topic":          {Topic: "Nope", Group: "g", Timestamp: 0},
		"group without offsets":  {Topic: "T", Group: "stranger", Timestamp: 0},
		"invalid group":          {Topic: "T", Group: "g g", Timestamp: 0},
		"queue out of range (5)": {Topic: "T", Group: "g", QueueID: 2, Offset: &off},
	} {
		resp, _ := tb.resetOffset(t, h)
		require.Equal(t, protocol.SystemError, resp.ResponseCode(), name)
		require.Contains(t, resp.Remark, "[reset-offset]", name)
	}
	resp := tb.invoke(t, protocol.InvokeBrokerToResetOffset, protocol.ExtFields{{Key: "topic", Value: "T"}}, nil)
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "bad request header")
	require.Equal(t, map[int32]int64{0: 3, 1: 10}, stored(), "refusals change nothing")
}

// adminConsumer is a raw consumer that answers what the broker asks on an
// admin's behalf, as the Go client does.
type adminConsumer struct {
	*consumerClient
	resets chan *remoting.Command
	asked  chan *remoting.Command
}

func newAdminConsumer(t *testing.T, tb *testBroker, id, group string, answer func(*remoting.Command) *remoting.Command) *adminConsumer {
	t.Helper()
	ac := &adminConsumer{consumerClient: newConsumerClient(t, id), resets: make(chan *remoting.Command, 4), asked: make(chan *remoting.Command, 4)}
	ac.rc.Register(protocol.ResetConsumerClientOffset, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			ac.resets <- req
			return nil, nil
		}))
	for _, code := range []protocol.RequestCode{protocol.GetConsumerStatusFromClient, protocol.GetConsumerRunningInfo, protocol.ConsumeMessageDirectly} {
		ac.rc.Register(code, remoting.Spawn, remoting.ProcessorFunc(
			func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
				ac.asked <- req
				return answer(req), nil
			}))
	}
	resp := ac.heartbeat(t, tb.addr, heartbeat(id, group, protocol.Clustering, tagSub("T")))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	return ac
}

func receive(t *testing.T, ch chan *remoting.Command) *remoting.Command {
	t.Helper()
	select {
	case req := <-ch:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received")
		return nil
	}
}

// TestResetOffsetLiveGroup: every member of an online group is told the
// new offsets, in the form the Go client parses; the stored offsets change
// too.
func TestResetOffsetLiveGroup(t *testing.T) {
	tb := startBroker(t, nil)
	mid := tb.twoPhases(t, "T", 2, 5)
	tb.offsets.Commit("test", "live", "T", 0, 10)
	tb.offsets.Commit("test", "live", "T", 1, 10)
	ok := func(req *remoting.Command) *remoting.Command { return remoting.NewResponse(req, protocol.Success, "") }
	members := []*adminConsumer{
		newAdminConsumer(t, tb, "10.0.0.1@a", "live", ok),
		newAdminConsumer(t, tb, "10.0.0.2@b", "live", ok),
	}
	_, table := tb.resetOffset(t, protocol.ResetOffsetRequestHeader{Topic: "T", Group: "live", Timestamp: mid.UnixMilli()})
	require.Equal(t, map[int32]int64{0: 5, 1: 5}, table)
	require.Equal(t, table, tb.offsets.QueueOffsets("live", "T"))

	for _, m := range members {
		req := receive(t, m.resets)
		require.True(t, req.IsOneway())
		require.Equal(t, "T", req.ExtFields.Value("topic"))
		require.Equal(t, "live", req.ExtFields.Value("group"))
		require.Equal(t, strconv.FormatInt(mid.UnixMilli(), 10), req.ExtFields.Value("timestamp"))
		require.Equal(t, `{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:5,{"brokerName":"broker-a","queueId":1,"topic":"T"}:5}}`,
			string(req.Body), "fastjson's form, split by the Go client on ',{' and '}:'")
	}
}

// TestConsumerStatusAndRelays: a group's members are asked for their
// status, running info and to consume a message directly, and the admin
// gets their answers.
func TestConsumerStatusAndRelays(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 2)
	sent := tb.mustSend(t, "T", 1, "direct", message.PropertyKeys, "k")
	answer := func(req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, protocol.Success, "")
		switch req.RequestCode() {
		case protocol.GetConsumerStatusFromClient: // as the Go client writes it
			resp.Body = []byte(`{"messageQueueTable":{{"topic":"T","brokerName":"broker-a","queueId":0}:7,{"topic":"T","brokerName":"broker-a","queueId":1}:9}}`)
		case protocol.GetConsumerRunningInfo:
			resp.Body = []byte(`{"properties":{"consumeOrderly":"false"},"statusTable":{},"subscriptionSet":[],"mqTable":{},"jstack":""}`)
		case protocol.ConsumeMessageDirectly:
			resp.Body = []byte(`{"order":false,"autoCommit":true,"consumeResult":0,"remark":"","spentTimeMills":1}`)
		}
		return resp
	}
	a := newAdminConsumer(t, tb, "10.0.0.1@a", "g", answer)
	newAdminConsumer(t, tb, "10.0.0.2@b", "g", answer)

	t.Run("status", func(t *testing.T) {
		resp := tb.invoke(t, protocol.InvokeBrokerToGetConsumerStatus,
			protocol.EncodeHeader(nil, &protocol.GetConsumerStatusRequestHeader{Topic: "T", Group: "g"}), nil)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		var body protocol.GetConsumerStatusBody
		require.NoError(t, protocol.DecodeBody(resp.Body, &body))
		require.Len(t, body.ConsumerTable, 2)
		q1 := protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}
		require.Equal(t, int64(9), body.ConsumerTable["10.0.0.2@b"][q1])

		resp = tb.invoke(t, protocol.InvokeBrokerToGetConsumerStatus,
			protocol.EncodeHeader(nil, &protocol.GetConsumerStatusRequestHeader{Topic: "T", Group: "g", ClientAddr: "10.0.0.1@a"}), nil)
		var one protocol.GetConsumerStatusBody
		require.NoError(t, protocol.DecodeBody(resp.Body, &one))
		require.Len(t, one.ConsumerTable, 1, "only the client asked for")

		resp = tb.invoke(t, protocol.InvokeBrokerToGetConsumerStatus,
			protocol.EncodeHeader(nil, &protocol.GetConsumerStatusRequestHeader{Topic: "T", Group: "nobody"}), nil)
		require.Equal(t, protocol.SystemError, resp.ResponseCode())
		require.Contains(t, resp.Remark, "No Any Consumer online")
	})
	for len(a.asked) > 0 {
		<-a.asked
	}

	t.Run("running info", func(t *testing.T) {
		h := protocol.GetConsumerRunningInfoRequestHeader{ConsumerGroup: "g", ClientID: "10.0.0.1@a", JstackEnable: true}
		resp := tb.invoke(t, protocol.GetConsumerRunningInfo, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		var info protocol.ConsumerRunningInfo
		require.NoError(t, protocol.DecodeBody(resp.Body, &info))
		require.Equal(t, "false", info.Properties["consumeOrderly"])
		asked := receive(t, a.asked)
		require.Equal(t, "true", asked.ExtFields.Value("jstackEnable"), "the request is relayed as is")

		h.ClientID = "10.0.0.9@gone"
		resp = tb.invoke(t, protocol.GetConsumerRunningInfo, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.SystemError, resp.ResponseCode())
		require.Contains(t, resp.Remark, "not online")
	})

	t.Run("consume directly", func(t *testing.T) {
		h := protocol.ConsumeMessageDirectlyResultRequestHeader{ConsumerGroup: "g", ClientID: "10.0.0.1@a", MsgID: sent.MsgID}
		resp := tb.invoke(t, protocol.ConsumeMessageDirectly, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		require.Contains(t, string(resp.Body), `"consumeResult":0`)
		asked := receive(t, a.asked)
		require.Equal(t, "broker-a", asked.ExtFields.Value("brokerName"))
		m, err := message.DecodeMessageExt(asked.Body)
		require.NoError(t, err)
		require.Equal(t, "direct", string(m.Body))
		require.Equal(t, int32(1), m.QueueID)

		h.MsgID = "not-an-offset-id"
		resp = tb.invoke(t, protocol.ConsumeMessageDirectly, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.SystemError, resp.ResponseCode())
		h.MsgID = message.OffsetMsgID(m.StoreHost, m.CommitLogOffset+1)
		resp = tb.invoke(t, protocol.ConsumeMessageDirectly, protocol.EncodeHeader(nil, &h), nil)
		require.Equal(t, protocol.SystemError, resp.ResponseCode())
		require.Contains(t, resp.Remark, "no message")
	})
}

// featureFuzzCodes are the codes of issue 4's order, reply and consumer
// management features.
var featureFuzzCodes = []protocol.RequestCode{
	protocol.LockBatchMQ, protocol.UnlockBatchMQ, protocol.SendReplyMessage, protocol.SendReplyMessageV2,
	protocol.InvokeBrokerToResetOffset, protocol.InvokeBrokerToGetConsumerStatus,
	protocol.GetConsumerRunningInfo, protocol.ConsumeMessageDirectly,
}

// FuzzFeatureRequests sends arbitrary headers and bodies under those
// codes, from a client that is a consumer of group g and a producer:
// every request is answered, no processor panics, and the broker keeps
// serving.
func FuzzFeatureRequests(f *testing.F) {
	tb := startBroker(f, nil)
	tb.createTopic(f, "Fuzz", 2)
	sent := tb.mustSend(f, "Fuzz", 0, "m")
	body, err := protocol.EncodeBody(&protocol.HeartbeatData{ClientID: "fuzz@1",
		ProducerDataSet: []protocol.ProducerData{{GroupName: "pg"}},
		ConsumerDataSet: []protocol.ConsumerData{{GroupName: "g", MessageModel: protocol.Clustering,
			SubscriptionDataSet: []protocol.SubscriptionData{{Topic: "Fuzz", SubString: "*", ExpressionType: protocol.ExpressionTag}}}}})
	require.NoError(f, err)
	require.Equal(f, protocol.Success, tb.invoke(f, protocol.HeartBeat, nil, body).ResponseCode())

	lock := `{"consumerGroup":"g","clientId":"fuzz@1","mqSet":[{"topic":"Fuzz","brokerName":"broker-a","queueId":0}]}`
	reply := sendHeader("DefaultCluster_REPLY_TOPIC", 0, props(message.PropertyMessageType, "reply",
		message.PropertyMessageReplyToClient, "fuzz@1", message.PropertyCorrelationID, "c"))
	f.Add(uint8(0), "", []byte(lock))
	f.Add(uint8(1), "", []byte(lock))
	f.Add(uint8(2), extString(reply.AppendExt(nil)), []byte("r"))
	f.Add(uint8(3), extString(reply.AppendExtV2(nil)), []byte("r"))
	f.Add(uint8(4), "topic=Fuzz\ngroup=g\ntimestamp=0\nisForce=true", []byte(nil))
	f.Add(uint8(4), "topic=Fuzz\ngroup=g\ntimestamp=0\nisForce=false\nqueueId=1\noffset=-5", []byte(nil))
	f.Add(uint8(5), "topic=Fuzz\ngroup=g", []byte(nil))
	f.Add(uint8(6), "consumerGroup=g\nclientId=fuzz@1", []byte(nil))
	f.Add(uint8(7), "consumerGroup=g\nclientId=fuzz@1\nmsgId="+sent.MsgID, []byte(nil))

	f.Fuzz(func(t *testing.T, code uint8, ext string, body []byte) {
		c := featureFuzzCodes[int(code)%len(featureFuzzCodes)]
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := tb.rc.InvokeSync(ctx, tb.addr, remoting.NewRequest(c, parseExt(ext), body))
		if err != nil {
			t.Fatalf("%v: no answer: %v", c, err)
		}
		if strings.Contains(resp.Remark, "panicked") {
			t.Fatalf("%v: processor panicked: %s", c, resp.Remark)
		}
		if r := tb.send(t, sendHeader("Good", 0, ""), "good"); r.ResponseCode() != protocol.Success {
			t.Fatalf("a good send failed after %v: %v %s", c, r.ResponseCode(), r.Remark)
		}
	})
}
