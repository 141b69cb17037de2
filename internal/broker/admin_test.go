package broker

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

func (tb *testBroker) admin(t *testing.T, code protocol.RequestCode, h any, body []byte) *RemotingResult {
	t.Helper()
	var ext protocol.ExtFields
	if h != nil {
		ext = protocol.EncodeHeader(nil, h)
	}
	resp := tb.invoke(t, code, ext, body)
	return &RemotingResult{Code: resp.ResponseCode(), Remark: resp.Remark, Ext: resp.ExtFields, Body: resp.Body}
}

// RemotingResult is a response reduced to what the admin tests look at.
type RemotingResult struct {
	Code   protocol.ResponseCode
	Remark string
	Ext    protocol.ExtFields
	Body   []byte
}

func (r *RemotingResult) ok(t *testing.T) *RemotingResult {
	t.Helper()
	require.Equal(t, protocol.Success, r.Code, r.Remark)
	return r
}

func TestAdminTopics(t *testing.T) {
	tb := startBroker(t, nil)
	create := &protocol.CreateTopicRequestHeader{
		Topic: "Orders", DefaultTopic: "defaultTopic", ReadQueueNums: 8, WriteQueueNums: 8,
		Perm: 6, TopicFilterType: "SINGLE_TAG", Attributes: "+message.type=NORMAL",
	}
	tb.admin(t, protocol.UpdateAndCreateTopic, create, nil).ok(t)

	var all protocol.TopicConfigSerializeWrapper
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetAllTopicConfig, nil, nil).ok(t).Body, &all))
	require.Equal(t, int32(8), all.TopicConfigTable["Orders"].ReadQueueNums)
	require.Equal(t, "NORMAL", all.TopicConfigTable["Orders"].Attributes["message.type"])
	require.Contains(t, all.TopicConfigTable, "TBW102")
	require.Positive(t, all.DataVersion.Counter)

	for name, h := range map[string]*protocol.CreateTopicRequestHeader{
		"system topic":     {Topic: "SCHEDULE_TOPIC_XXXX", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"},
		"cluster topic":    {Topic: "DefaultCluster", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"},
		"bad name":         {Topic: "a b", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"},
		"too many queues":  {Topic: "Huge", DefaultTopic: "d", ReadQueueNums: 1 << 30, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG"},
		"bad attributes":   {Topic: "Attr", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "SINGLE_TAG", Attributes: "k=v"},
		"bad filter type":  {Topic: "Flt", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: "NOPE"},
		"unknown perm bit": {Topic: "Perm", DefaultTopic: "d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 64, TopicFilterType: "SINGLE_TAG"},
	} {
		r := tb.admin(t, protocol.UpdateAndCreateTopic, h, nil)
		require.Equal(t, protocol.SystemError, r.Code, name)
		require.NotEmpty(t, r.Remark, name)
	}
	_, ok := tb.topics.Get("Huge")
	require.False(t, ok)

	for range 3 {
		tb.mustSend(t, "Orders", 5, "x")
	}
	tb.waitDispatched(t, "Orders", 5, 3)
	var stats protocol.TopicStatsTable
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetTopicStatsInfo, &protocol.TopicRequestHeader{Topic: "Orders"}, nil).ok(t).Body, &stats))
	require.Len(t, stats.OffsetTable, 8)
	q5 := stats.OffsetTable[protocol.MessageQueue{Topic: "Orders", BrokerName: "broker-a", QueueID: 5}]
	require.Equal(t, int64(3), q5.MaxOffset)
	require.InDelta(t, time.Now().UnixMilli(), q5.LastUpdateTimestamp, 60_000)
	require.Equal(t, protocol.TopicNotExist, tb.admin(t, protocol.GetTopicStatsInfo, &protocol.TopicRequestHeader{Topic: "Nope"}, nil).Code)

	// Delete: the topic, its queues and its offsets go.
	tb.offsets.Commit("c", "cg", "Orders", 5, 2)
	tb.admin(t, protocol.DeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: "Orders"}, nil).ok(t)
	_, ok = tb.topics.Get("Orders")
	require.False(t, ok)
	require.Zero(t, tb.store.MaxOffsetInQueue("Orders", 5))
	_, ok = tb.offsets.Query("cg", "Orders", 5)
	require.False(t, ok)
	tb.admin(t, protocol.DeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: "Orders"}, nil).ok(t) // again: fine
	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.DeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: "TBW102"}, nil).Code)
}

func TestAdminGroups(t *testing.T) {
	tb := startBroker(t, nil)
	cfg := protocol.DefaultSubscriptionGroupConfig("billing")
	cfg.RetryMaxTimes = 3
	body, err := json.Marshal(cfg)
	require.NoError(t, err)
	tb.admin(t, protocol.UpdateAndCreateSubscriptionGroup, nil, body).ok(t)

	// The Go admin client parses this with encoding/json: it must be
	// strict JSON.
	var w struct {
		SubscriptionGroupTable map[string]struct {
			GroupName     string `json:"groupName"`
			RetryMaxTimes int    `json:"retryMaxTimes"`
		} `json:"subscriptionGroupTable"`
		DataVersion struct {
			Timestamp int64 `json:"timestamp"`
			Counter   int32 `json:"counter"`
		} `json:"dataVersion"`
	}
	require.NoError(t, json.Unmarshal(tb.admin(t, protocol.GetAllSubscriptionGroupConfig, nil, nil).ok(t).Body, &w))
	require.Equal(t, 3, w.SubscriptionGroupTable["billing"].RetryMaxTimes)

	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.UpdateAndCreateSubscriptionGroup, nil, []byte(`{"groupName":"bad name"}`)).Code)
	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.UpdateAndCreateSubscriptionGroup, nil, []byte(`{"groupName":`)).Code)
	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.UpdateAndCreateSubscriptionGroup, nil, nil).Code)

	tb.offsets.Commit("c", "billing", "T", 0, 9)
	tb.admin(t, protocol.DeleteSubscriptionGroup, &protocol.DeleteSubscriptionGroupRequestHeader{GroupName: "billing", CleanOffset: true}, nil).ok(t)
	_, ok := tb.groups.Get("billing")
	require.False(t, ok)
	_, ok = tb.offsets.Query("billing", "T", 0)
	require.False(t, ok, "cleanOffset drops the group's offsets")
}

func TestAdminConnectionsAndConsumeStats(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 2)
	a := newConsumerClient(t, "10.1.1.1@77")
	a.okHeartbeat(t, tb.addr, heartbeat(a.id, "cg", protocol.Clustering, tagSub("T", "TagA")))

	var cc protocol.ConsumerConnection
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetConsumerConnectionList, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: "cg"}, nil).ok(t).Body, &cc))
	require.Len(t, cc.ConnectionSet, 1)
	require.Equal(t, a.id, cc.ConnectionSet[0].ClientID)
	require.Equal(t, "GO", cc.ConnectionSet[0].Language)
	require.Equal(t, protocol.Clustering, cc.MessageModel)
	require.Equal(t, "TagA", cc.SubscriptionTable["T"].SubString)
	require.Equal(t, protocol.ConsumerNotOnline, tb.admin(t, protocol.GetConsumerConnectionList, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: "nobody"}, nil).Code)

	var pc protocol.ProducerConnection
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetProducerConnectionList, &protocol.GetProducerConnectionListRequestHeader{ProducerGroup: "pg"}, nil).ok(t).Body, &pc))
	require.Len(t, pc.ConnectionSet, 1)
	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.GetProducerConnectionList, &protocol.GetProducerConnectionListRequestHeader{ProducerGroup: "nobody"}, nil).Code)

	for range 4 {
		tb.mustSend(t, "T", 1, "x")
	}
	tb.waitDispatched(t, "T", 1, 4)
	tb.offsets.Commit("c", "cg", "T", 1, 3)
	var cs protocol.ConsumeStats
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetConsumeStats, &protocol.GetConsumeStatsRequestHeader{ConsumerGroup: "cg", Topic: "T"}, nil).ok(t).Body, &cs))
	q1 := cs.OffsetTable[protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}]
	require.Equal(t, int64(4), q1.BrokerOffset)
	require.Equal(t, int64(3), q1.ConsumerOffset)
	require.Positive(t, q1.LastTimestamp)
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetConsumeStats, &protocol.GetConsumeStatsRequestHeader{ConsumerGroup: "cg"}, nil).ok(t).Body, &cs))
	require.Len(t, cs.OffsetTable, 2, "every topic the group has offsets on")

	var gl protocol.GroupList
	tb.offsets.Commit("c", "offline", "T", 0, 1)
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.QueryTopicConsumeByWho, &protocol.TopicRequestHeader{Topic: "T"}, nil).ok(t).Body, &gl))
	require.Equal(t, []string{"cg", "offline"}, gl.GroupList)

	var all protocol.ConsumerOffsetSerializeWrapper
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetAllConsumerOffset, nil, nil).ok(t).Body, &all))
	require.Equal(t, int64(3), all.OffsetTable["T@cg"][1])
}

// TestConsumeStatsPullOffsetAndTps: GET_CONSUME_STATS reports how far the
// group has pulled each queue (never below its committed offset, so 5.x
// mqadmin's in-flight count is never negative) and the messages per second
// it got.
func TestConsumeStatsPullOffsetAndTps(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 2)
	for range 10 {
		tb.mustSend(t, "T", 0, "x")
	}
	tb.waitDispatched(t, "T", 0, 10)
	h := pullHeader("cg", "T", 0, 0)
	h.MaxMsgNums = 6
	r := tb.pull(t, h)
	require.Len(t, r.msgs, 6)
	tb.offsets.Commit("c", "cg", "T", 0, 2) // consumed 2 of the 6
	tb.offsets.Commit("c", "cg", "T", 1, 0)

	stats := func() protocol.ConsumeStats {
		var cs protocol.ConsumeStats
		require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetConsumeStats,
			&protocol.GetConsumeStatsRequestHeader{ConsumerGroup: "cg", Topic: "T"}, nil).ok(t).Body, &cs))
		return cs
	}
	cs := stats()
	q0 := cs.OffsetTable[protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}]
	require.Equal(t, int64(10), q0.BrokerOffset)
	require.Equal(t, int64(2), q0.ConsumerOffset)
	require.Equal(t, int64(6), q0.PullOffset, "the store's next begin offset of the last pull")
	q1 := cs.OffsetTable[protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}]
	require.Equal(t, int64(0), q1.PullOffset, "never pulled")
	require.Positive(t, cs.ConsumeTPS)
	require.LessOrEqual(t, cs.ConsumeTPS, 6.0, "6 messages, over at least a second")

	// A commit beyond what this broker saw pulled (another broker's pulls
	// before a failover, a reset): the pull offset is at least the
	// committed one.
	tb.offsets.Commit("c", "cg", "T", 0, 9)
	q0 = stats().OffsetTable[protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}]
	require.Equal(t, int64(9), q0.PullOffset)

	// Deleting the group with its offsets forgets its pulls too.
	tb.admin(t, protocol.DeleteSubscriptionGroup, &protocol.DeleteSubscriptionGroupRequestHeader{GroupName: "cg", CleanOffset: true}, nil).ok(t)
	cs = stats()
	require.Zero(t, cs.ConsumeTPS)
	require.Zero(t, cs.OffsetTable[protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}].PullOffset)
}

func (cc *consumerClient) okHeartbeat(t *testing.T, addr string, hb protocol.HeartbeatData) {
	t.Helper()
	resp := cc.heartbeat(t, addr, hb)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
}

func TestAdminBrokerInfo(t *testing.T) {
	tb := startBroker(t, nil)
	tb.mustSend(t, "T", 0, "x")
	r := tb.admin(t, protocol.GetBrokerConfig, nil, nil).ok(t)
	cfg := string(r.Body)
	require.Contains(t, cfg, "brokerName=broker-a\n")
	require.Contains(t, cfg, "enablePropertyFilter=true\n")
	require.Contains(t, cfg, "storePathRootDir=")
	var h protocol.GetBrokerConfigResponseHeader
	require.NoError(t, protocol.DecodeHeader(r.Ext, &h))
	require.True(t, json.Valid([]byte(h.Version)))

	var kv protocol.KVTable
	require.NoError(t, protocol.DecodeBody(tb.admin(t, protocol.GetBrokerRuntimeInfo, nil, nil).ok(t).Body, &kv))
	require.NotEmpty(t, kv.Table["commitLogMaxOffset"])
	require.Equal(t, "1", kv.Table["msgPutTotalTodayNow"])
	require.True(t, strings.HasPrefix(kv.Table["runtime"], "[ 0 days"))
	require.Equal(t, "V5_3_3", kv.Table["brokerVersionDesc"])

	// The features add their figures under Java's keys where it has them.
	require.Equal(t, "0", kv.Table["heldPullRequests"])
	require.Equal(t, "0", kv.Table["scheduleMessageDelivered"])
	require.Equal(t, "0,0", kv.Table["scheduleMessageOffset_1"], "delivered offset, then the level queue's end")
	require.Contains(t, kv.Table, "scheduleMessageOffset_18", "one entry per delay level")
	require.Equal(t, "0", kv.Table["dlqPutNums"])
	require.Equal(t, "0", kv.Table["transactionHalfPending"])
	require.Equal(t, "0", kv.Table["transactionCommitted"])
}

func TestQueryMessages(t *testing.T) {
	tb := startBroker(t, nil)
	rh := tb.mustSend(t, "T", 0, "hello", message.PropertyKeys, "order-1 order-2", message.PropertyUniqClientMessageIDKeyIdx, "AC11000100002A9F0000000000000001")
	tb.mustSend(t, "T", 0, "other", message.PropertyKeys, "order-3")
	tb.waitDispatched(t, "T", 0, 2)

	_, off, err := message.ParseOffsetMsgID(rh.MsgID)
	require.NoError(t, err)
	r := tb.admin(t, protocol.ViewMessageByID, &protocol.ViewMessageRequestHeader{Offset: off}, nil).ok(t)
	m, err := message.DecodeMessageExt(r.Body)
	require.NoError(t, err)
	require.Equal(t, "hello", string(m.Body))
	require.Equal(t, protocol.SystemError, tb.admin(t, protocol.ViewMessageByID, &protocol.ViewMessageRequestHeader{Offset: off + 3}, nil).Code)

	now := time.Now().UnixMilli()
	q := &protocol.QueryMessageRequestHeader{Topic: "T", Key: "order-2", MaxNum: 10, BeginTimestamp: now - 60_000, EndTimestamp: now + 60_000}
	waitFor(t, "the index", func() bool { return tb.admin(t, protocol.QueryMessage, q, nil).Code == protocol.Success })
	ms, err := message.DecodeMessageExts(tb.admin(t, protocol.QueryMessage, q, nil).ok(t).Body)
	require.NoError(t, err)
	require.Equal(t, []string{"hello"}, bodies(ms))

	q.Key = "AC11000100002A9F0000000000000001"
	ext := protocol.EncodeHeader(nil, q)
	ext.Set(uniqueKeyQueryFlag, "true")
	resp := tb.invoke(t, protocol.QueryMessage, ext, nil)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)

	q.Key = "nothing"
	r = tb.admin(t, protocol.QueryMessage, q, nil)
	require.Equal(t, protocol.QueryNotFound, r.Code)
	var qh protocol.QueryMessageResponseHeader
	require.NoError(t, protocol.DecodeHeader(r.Ext, &qh))
}

func TestUnknownCodeIsAnsweredByRemoting(t *testing.T) {
	tb := startBroker(t, nil)
	resp := tb.invoke(t, protocol.RequestCode(9999), nil, nil)
	require.Equal(t, protocol.RequestCodeNotSupported, resp.ResponseCode())
}
