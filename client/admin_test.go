package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestAdminTopicLifecycle(t *testing.T) {
	fc := newFakeCluster(t, 2)
	c := newTestClient(t, fc)
	admin := NewAdmin(c)

	ci, err := admin.ClusterInfo(testCtx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"broker-a", "broker-b"}, ci.Clusters[fakeClusterName])
	require.Equal(t, fc.brokers[1].addr(), ci.Brokers["broker-b"].MasterAddr())

	require.NoError(t, admin.CreateTopic(testCtx(t), fc.brokers[0].addr(), TopicConfig{Name: "Solo", ReadQueueNums: 2, WriteQueueNums: 3}))
	require.NoError(t, admin.CreateTopicInCluster(testCtx(t), fakeClusterName, TopicConfig{Name: "Wide"}))
	topics, err := admin.TopicList(testCtx(t))
	require.NoError(t, err)
	require.Equal(t, []string{"Solo", "TBW102", "Wide"}, topics)

	r, err := admin.TopicRoute(testCtx(t), "Solo")
	require.NoError(t, err)
	require.Equal(t, []QueueData{{BrokerName: "broker-a", ReadQueueNums: 2, WriteQueueNums: 3, Perm: PermRead | PermWrite}}, r.Queues)
	r, err = admin.TopicRoute(testCtx(t), "Wide")
	require.NoError(t, err)
	require.Len(t, r.Queues, 2)
	require.Equal(t, 8, r.Queues[0].WriteQueueNums, "mqadmin's default")
	require.Equal(t, "RW-", r.Queues[0].Perm.String())

	require.NoError(t, admin.DeleteTopic(testCtx(t), "Wide"))
	require.Equal(t, 1, fc.brokers[0].callCount(protocol.DeleteTopicInBroker))
	require.Equal(t, 1, fc.brokers[1].callCount(protocol.DeleteTopicInBroker))
	_, err = admin.TopicRoute(testCtx(t), "Wide")
	require.ErrorIs(t, err, ErrTopicNotExist)
	require.NoError(t, admin.DeleteTopicInCluster(testCtx(t), fakeClusterName, "Solo"))
	require.Equal(t, 2, fc.calls(protocol.DeleteTopicInNamesrv))

	require.ErrorIs(t, admin.CreateTopic(testCtx(t), fc.brokers[0].addr(), TopicConfig{Name: "bad name"}), ErrInvalidMessage)
	require.ErrorIs(t, admin.CreateTopicInCluster(testCtx(t), "NoSuchCluster", TopicConfig{Name: "X"}), ErrBrokerNotFound)
}

func TestAdminConsumeStats(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc)
	sendN(t, newTestProducer(t, c, ProducerOptions{}), "T", 10, nil)
	pc := newTestPullConsumer(t, c, "g")
	require.NoError(t, pc.UpdateOffset(testCtx(t), MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}, 2))

	stats, err := NewAdmin(c).ConsumeStats(testCtx(t), "g", "T")
	require.NoError(t, err)
	require.Len(t, stats.Queues, 2)
	q0 := stats.Queues[MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}]
	require.Equal(t, int64(5), q0.BrokerOffset)
	require.Equal(t, int64(2), q0.ConsumerOffset)
	require.Equal(t, int64(3), q0.Lag())
	require.Equal(t, int64(3+5), stats.Lag())
}

func TestAdminInvoke(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	admin := NewAdmin(newTestClient(t, fc))

	resp, err := admin.InvokeNameServer(testCtx(t), RequestCode(protocol.GetRouteInfoByTopic), map[string]string{"topic": "T"}, nil)
	require.NoError(t, err)
	require.Equal(t, CodeSuccess, resp.Code)
	require.Contains(t, string(resp.Body), fc.brokers[0].addr())

	resp, err = admin.Invoke(testCtx(t), fc.brokers[0].addr(), RequestCode(protocol.GetMaxOffset), map[string]string{"topic": "T", "queueId": "0"}, nil)
	require.NoError(t, err)
	require.Equal(t, CodeSuccess, resp.Code)
	require.Equal(t, "0", resp.ExtFields["offset"])

	// A refusal is a response, not an error.
	resp, err = admin.Invoke(testCtx(t), fc.brokers[0].addr(), 9999, nil, nil)
	require.NoError(t, err)
	require.Equal(t, CodeNotSupported, resp.Code)
	require.Equal(t, "REQUEST_CODE_NOT_SUPPORTED", resp.Code.String())
	require.Equal(t, "GET_MAX_OFFSET", RequestCode(protocol.GetMaxOffset).String())
}

func TestRequestCodesMatchTheProtocol(t *testing.T) {
	for code, want := range map[RequestCode]protocol.RequestCode{
		RequestGetAllTopicConfig:             protocol.GetAllTopicConfig,
		RequestUpdateBrokerConfig:            protocol.UpdateBrokerConfig,
		RequestGetBrokerConfig:               protocol.GetBrokerConfig,
		RequestGetBrokerRuntimeInfo:          protocol.GetBrokerRuntimeInfo,
		RequestGetMaxOffset:                  protocol.GetMaxOffset,
		RequestGetMinOffset:                  protocol.GetMinOffset,
		RequestGetAllConsumerOffset:          protocol.GetAllConsumerOffset,
		RequestGetAllSubscriptionGroupConfig: protocol.GetAllSubscriptionGroupConfig,
		RequestGetConsumerConnectionList:     protocol.GetConsumerConnectionList,
		RequestGetProducerConnectionList:     protocol.GetProducerConnectionList,
		RequestGetNamesrvConfig:              protocol.GetNamesrvConfig,
	} {
		require.Equal(t, int32(want), int32(code), "%s", want)
		require.Equal(t, want.String(), code.String())
	}
}
