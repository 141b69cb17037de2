package protocol

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCodeNumbers pins the numbers the brief and protocol.md name, checked
// against apache/rocketmq RequestCode.java and ResponseCode.java.
func TestCodeNumbers(t *testing.T) {
	requests := map[RequestCode]int32{
		SendMessage: 10, PullMessage: 11, QueryMessage: 12, QueryConsumerOffset: 14, UpdateConsumerOffset: 15,
		UpdateAndCreateTopic: 17, GetAllTopicConfig: 21, UpdateBrokerConfig: 25, GetBrokerConfig: 26,
		GetBrokerRuntimeInfo: 28, SearchOffsetByTimestamp: 29, GetMaxOffset: 30, GetMinOffset: 31,
		GetEarliestMsgStoreTime: 32, ViewMessageByID: 33, HeartBeat: 34, UnregisterClient: 35,
		ConsumerSendMsgBack: 36, EndTransaction: 37, GetConsumerListByGroup: 38, CheckTransactionState: 39,
		NotifyConsumerIDsChanged: 40, LockBatchMQ: 41, UnlockBatchMQ: 42, GetAllConsumerOffset: 43,
		GetAllDelayOffset: 45, PutKVConfig: 100, GetKVConfig: 101, DeleteKVConfig: 102, RegisterBroker: 103,
		UnregisterBroker: 104, GetRouteInfoByTopic: 105, GetBrokerClusterInfo: 106,
		UpdateAndCreateSubscriptionGroup: 200, GetAllSubscriptionGroupConfig: 201, GetTopicStatsInfo: 202,
		GetConsumerConnectionList: 203, GetProducerConnectionList: 204, GetAllTopicListFromNameServer: 206,
		DeleteSubscriptionGroup: 207, GetConsumeStats: 208, DeleteTopicInBroker: 215, DeleteTopicInNamesrv: 216,
		ResetConsumerClientOffset: 220, GetConsumerStatusFromClient: 221, InvokeBrokerToResetOffset: 222,
		InvokeBrokerToGetConsumerStatus: 223, GetTopicsByCluster: 224, QueryTopicConsumeByWho: 300,
		QueryConsumeTimeSpan: 303, GetSystemTopicListFromNS: 304, CleanExpiredConsumeQueue: 306,
		GetConsumerRunningInfo: 307, QueryCorrectionOffset: 308, ConsumeMessageDirectly: 309, SendMessageV2: 310,
		ViewBrokerStatsData: 315, CleanUnusedTopic: 316, GetBrokerConsumeStats: 317, UpdateNamesrvConfig: 318,
		GetNamesrvConfig: 319, SendBatchMessage: 320, QueryConsumeQueue: 321, QueryDataVersion: 322,
		ResumeCheckHalfMessage: 323, SendReplyMessage: 324, SendReplyMessageV2: 325, PushReplyMessageToClient: 326,
	}
	for c, n := range requests {
		require.Equal(t, n, int32(c), c.String())
		require.True(t, c.Known())
	}
	responses := map[ResponseCode]int32{
		Success: 0, SystemError: 1, SystemBusy: 2, RequestCodeNotSupported: 3, FlushDiskTimeout: 10,
		SlaveNotAvailable: 11, FlushSlaveTimeout: 12, MessageIllegal: 13, ServiceNotAvailable: 14,
		NoPermission: 16, TopicNotExist: 17, PullNotFound: 19, PullRetryImmediately: 20, PullOffsetMoved: 21,
		QueryNotFound: 22, SubscriptionParseFailed: 23, SubscriptionNotExist: 24, SubscriptionNotLatest: 25,
		SubscriptionGroupNotExist: 26, FilterDataNotExist: 27, FilterDataNotLatest: 28, InvalidParameter: 29,
		ConsumerNotOnline: 206, NoMessage: 208, PollingFull: 209, PollingTimeout: 210, FlowControl: 215,
	}
	for c, n := range responses {
		require.Equal(t, n, int32(c), c.String())
	}
}

func TestCodeStrings(t *testing.T) {
	require.Equal(t, "GET_ROUTEINFO_BY_TOPIC", GetRouteInfoByTopic.String())
	require.Equal(t, "PULL_NOT_FOUND", PullNotFound.String())
	require.Equal(t, "RequestCode(9999)", RequestCode(9999).String())
	require.Equal(t, "ResponseCode(-7)", ResponseCode(-7).String())
	require.False(t, RequestCode(9999).Known())
	require.Equal(t, len(allRequestCodes), countDistinct(allRequestCodes[:]))
}

func countDistinct[T comparable](s []T) int {
	m := map[T]bool{}
	for _, v := range s {
		m[v] = true
	}
	return len(m)
}

func TestVersionNames(t *testing.T) {
	require.Equal(t, "V4_5_2", V4_5_2.String())
	require.Equal(t, "V4_9_4", V4_9_4.String())
	require.Equal(t, "V3_0_7", V3_0_7.String())
	require.Equal(t, "V4_1_0", V4_1_0.String())
	require.Equal(t, "V5_3_3", V5_3_3.String())
	require.Equal(t, "V5_0_0", V5_0_0.String())
	require.Equal(t, "HIGHER_VERSION", MQVersion(100000).String())
}

func TestLanguageNames(t *testing.T) {
	require.Equal(t, "GO", LanguageGo.Name())
	require.Equal(t, "NODE_JS", LanguageNodeJS.String())
	require.Equal(t, "OTHER", LanguageCode(200).Name())
	l, ok := ParseLanguage("JAVA")
	require.True(t, ok)
	require.Equal(t, LanguageJava, l)
	_, ok = ParseLanguage("COBOL")
	require.False(t, ok)
}
