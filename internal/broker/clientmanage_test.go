package broker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// consumerClient is a raw client that heartbeats like the Go client and
// records NOTIFY_CONSUMER_IDS_CHANGED pushes.
type consumerClient struct {
	rc      *remoting.Client
	id      string
	notices chan string
}

func newConsumerClient(t *testing.T, id string) *consumerClient {
	t.Helper()
	cc := &consumerClient{rc: newClient(t), id: id, notices: make(chan string, 16)}
	cc.rc.Register(protocol.NotifyConsumerIDsChanged, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			require.True(t, req.IsOneway(), "pushed oneway, as Java does")
			cc.notices <- req.ExtFields.Value("consumerGroup")
			return nil, nil
		}))
	return cc
}

func heartbeat(clientID, group, model string, subs ...protocol.SubscriptionData) protocol.HeartbeatData {
	return protocol.HeartbeatData{
		ClientID:        clientID,
		ProducerDataSet: []protocol.ProducerData{{GroupName: "pg"}},
		ConsumerDataSet: []protocol.ConsumerData{{
			GroupName: group, ConsumeType: protocol.ConsumePassively, MessageModel: model,
			ConsumeFromWhere: protocol.ConsumeFromLastOffset, SubscriptionDataSet: subs,
		}},
	}
}

func tagSub(topic string, tags ...string) protocol.SubscriptionData {
	sd := protocol.SubscriptionData{Topic: topic, SubString: "*", ExpressionType: protocol.ExpressionTag, SubVersion: time.Now().UnixNano()}
	if len(tags) > 0 {
		sd.SubString = ""
		for i, tag := range tags {
			if i > 0 {
				sd.SubString += " || "
			}
			sd.SubString += tag
			sd.TagsSet = append(sd.TagsSet, tag)
			sd.CodeSet = append(sd.CodeSet, message.JavaHashCode(tag))
		}
	}
	return sd
}

func (cc *consumerClient) heartbeat(t *testing.T, addr string, hb protocol.HeartbeatData) *remoting.Command {
	t.Helper()
	body, err := protocol.EncodeBody(&hb)
	require.NoError(t, err)
	return invokeWith(t, cc.rc, addr, protocol.HeartBeat, nil, body)
}

func (cc *consumerClient) expectNotice(t *testing.T, group string) {
	t.Helper()
	select {
	case g := <-cc.notices:
		require.Equal(t, group, g)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no NOTIFY_CONSUMER_IDS_CHANGED for %s", cc.id, group)
	}
}

func consumerList(t *testing.T, tb *testBroker, group string) []string {
	t.Helper()
	resp := tb.invoke(t, protocol.GetConsumerListByGroup, protocol.EncodeHeader(nil, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: group}), nil)
	if resp.ResponseCode() != protocol.Success {
		return nil
	}
	var l protocol.ConsumerListByGroup
	require.NoError(t, protocol.DecodeBody(resp.Body, &l))
	return l.ConsumerIDList
}

func TestHeartbeatRegistersAndNotifiesMembers(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	a, b := newConsumerClient(t, "10.0.0.1@a"), newConsumerClient(t, "10.0.0.2@b")

	resp := a.heartbeat(t, tb.addr, heartbeat(a.id, "cg", protocol.Clustering, tagSub("T", "TagA"), tagSub("%RETRY%cg")))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	a.expectNotice(t, "cg")
	require.Equal(t, []string{a.id}, consumerList(t, tb, "cg"))

	cfg, ok := tb.topics.Get("%RETRY%cg")
	require.True(t, ok, "a clustering consumer's retry topic is created")
	require.Equal(t, int32(1), cfg.WriteQueueNums)
	require.Equal(t, int32(protocol.PermRead|protocol.PermWrite), cfg.Perm)
	_, ok = tb.groups.Get("cg")
	require.True(t, ok, "the subscription group is created")

	b.heartbeat(t, tb.addr, heartbeat(b.id, "cg", protocol.Clustering, tagSub("T", "TagA"), tagSub("%RETRY%cg")))
	a.expectNotice(t, "cg")
	b.expectNotice(t, "cg")
	require.Equal(t, []string{a.id, b.id}, consumerList(t, tb, "cg"))

	// A repeated heartbeat changes nothing and notifies nobody.
	a.heartbeat(t, tb.addr, heartbeat(a.id, "cg", protocol.Clustering, tagSub("T", "TagA"), tagSub("%RETRY%cg")))

	// The push consumer pulls without a subscription in the header: the
	// registered one filters.
	tb.mustSend(t, "T", 0, "a", message.PropertyTags, "TagA")
	tb.mustSend(t, "T", 0, "b", message.PropertyTags, "TagB")
	tb.waitDispatched(t, "T", 0, 2)
	h := pullHeader("cg", "T", 0, 0)
	h.SysFlag = 0
	r := decodePull(t, invokeWith(t, a.rc, tb.addr, protocol.PullMessage, h.AppendExt(nil), nil))
	require.Equal(t, protocol.Success, r.code, r.resp.Remark)
	require.Equal(t, []string{"a"}, bodies(r.msgs))

	// b leaves by closing its connection: a is told.
	require.NoError(t, b.rc.Close())
	a.expectNotice(t, "cg")
	require.Equal(t, []string{a.id}, consumerList(t, tb, "cg"))

	// UNREGISTER_CLIENT (Java clients) removes a member too.
	ext := protocol.EncodeHeader(nil, &protocol.UnregisterClientRequestHeader{ClientID: a.id, ConsumerGroup: "cg", ProducerGroup: "pg"})
	require.Equal(t, protocol.Success, invokeWith(t, a.rc, tb.addr, protocol.UnregisterClient, ext, nil).ResponseCode())
	require.Empty(t, consumerList(t, tb, "cg"))
	resp = tb.invoke(t, protocol.GetConsumerListByGroup, protocol.EncodeHeader(nil, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: "cg"}), nil)
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "no consumer for this group")
}

func TestHeartbeatBroadcastingCreatesNoRetryTopic(t *testing.T) {
	tb := startBroker(t, nil)
	a := newConsumerClient(t, "c@1")
	require.Equal(t, protocol.Success, a.heartbeat(t, tb.addr, heartbeat(a.id, "bg", protocol.Broadcasting, tagSub("T"))).ResponseCode())
	_, ok := tb.topics.Get("%RETRY%bg")
	require.False(t, ok)
}

func TestHeartbeatSQL92Subscription(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 1)
	a := newConsumerClient(t, "c@1")
	sql := protocol.SubscriptionData{Topic: "T", SubString: "n > 1", ExpressionType: protocol.ExpressionSQL92, SubVersion: 1}
	require.Equal(t, protocol.Success, a.heartbeat(t, tb.addr, heartbeat(a.id, "sg", protocol.Clustering, sql)).ResponseCode())
	for _, n := range []string{"1", "2", "3"} {
		tb.mustSend(t, "T", 0, n, "n", n)
	}
	tb.waitDispatched(t, "T", 0, 3)
	// The Go push consumer sends expressionType TAG and no subscription
	// even for SQL92: the registered expression applies.
	h := pullHeader("sg", "T", 0, 0)
	h.SysFlag = 0
	r := tb.pull(t, h)
	require.Equal(t, protocol.Success, r.code, r.resp.Remark)
	require.Equal(t, []string{"2", "3"}, bodies(r.msgs))

	bad := protocol.SubscriptionData{Topic: "T", SubString: "n >", ExpressionType: protocol.ExpressionSQL92, SubVersion: 2}
	require.Equal(t, protocol.Success, a.heartbeat(t, tb.addr, heartbeat(a.id, "sg", protocol.Clustering, bad)).ResponseCode())
	r = tb.pull(t, h)
	require.Equal(t, protocol.SubscriptionParseFailed, r.code)
	require.Contains(t, r.resp.Remark, "filter:")
}

func TestHeartbeatRefusesBadInputWhole(t *testing.T) {
	tb := startBroker(t, nil)
	a := newConsumerClient(t, "c@1")
	for name, hb := range map[string]protocol.HeartbeatData{
		"bad group":  heartbeat(a.id, "no spaces allowed", protocol.Clustering, tagSub("T")),
		"bad topic":  heartbeat(a.id, "cg", protocol.Clustering, tagSub("bad/topic")),
		"no client":  heartbeat("", "cg", protocol.Clustering, tagSub("T")),
		"long group": heartbeat(a.id, string(make([]byte, 200)), protocol.Clustering),
	} {
		resp := a.heartbeat(t, tb.addr, hb)
		require.Equal(t, protocol.SystemError, resp.ResponseCode(), name)
		require.NotEmpty(t, resp.Remark, name)
	}
	resp := invokeWith(t, a.rc, tb.addr, protocol.HeartBeat, nil, []byte("{not json"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Empty(t, consumerList(t, tb, "cg"), "nothing partial was registered")
	_, ok := tb.groups.Get("cg")
	require.False(t, ok)
}

func TestSilentClientsExpire(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.ChannelExpiredTimeout = 200 })
	a, b := newConsumerClient(t, "c@1"), newConsumerClient(t, "c@2")
	require.Equal(t, protocol.Success, a.heartbeat(t, tb.addr, heartbeat(a.id, "cg", protocol.Clustering, tagSub("T"))).ResponseCode())
	a.expectNotice(t, "cg")
	// b keeps heartbeating; a falls silent and is dropped, and b is told.
	deadline := time.Now().Add(10 * time.Second)
	for len(consumerList(t, tb, "cg")) != 1 || consumerList(t, tb, "cg")[0] != b.id {
		require.True(t, time.Now().Before(deadline), "the silent client was not dropped")
		require.Equal(t, protocol.Success, b.heartbeat(t, tb.addr, heartbeat(b.id, "cg", protocol.Clustering, tagSub("T"))).ResponseCode())
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCheckClientConfig(t *testing.T) {
	tb := startBroker(t, nil)
	check := func(sd protocol.SubscriptionData) *remoting.Command {
		body, err := json.Marshal(map[string]any{"clientId": "c@1", "group": "g", "subscriptionData": sd})
		require.NoError(t, err)
		return tb.invoke(t, protocol.CheckClientConfig, nil, body)
	}
	require.Equal(t, protocol.Success, check(tagSub("T", "TagA")).ResponseCode())
	require.Equal(t, protocol.Success, check(protocol.SubscriptionData{Topic: "T", SubString: "a > 1", ExpressionType: protocol.ExpressionSQL92}).ResponseCode())
	resp := check(protocol.SubscriptionData{Topic: "T", SubString: "a >", ExpressionType: protocol.ExpressionSQL92})
	require.Equal(t, protocol.SubscriptionParseFailed, resp.ResponseCode())
	require.Contains(t, resp.Remark, "filter:")
}
