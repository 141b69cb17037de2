package protocol

// Typed custom headers for the codes the broker and the NameServer serve,
// and for the requests they send to clients. Field names are the Java
// field names (RocketMQ's *RequestHeader / *ResponseHeader classes);
// "required" marks @CFNotNull. Convert with DecodeHeader / EncodeHeader.
// The hot ones (send, pull) live in header_send.go and header_pull.go.

// QueryMessageRequestHeader is QUERY_MESSAGE (12). For a lookup by
// message id Java adds extFields _UNIQUE_KEY_QUERY=true beside it.
type QueryMessageRequestHeader struct {
	Topic          string `ext:"topic,required"`
	Key            string `ext:"key,required"`
	MaxNum         int32  `ext:"maxNum,required"`
	BeginTimestamp int64  `ext:"beginTimestamp,required"`
	EndTimestamp   int64  `ext:"endTimestamp,required"`
}

// QueryMessageResponseHeader answers QUERY_MESSAGE.
type QueryMessageResponseHeader struct {
	IndexLastUpdateTimestamp int64 `ext:"indexLastUpdateTimestamp,required"`
	IndexLastUpdatePhyoffset int64 `ext:"indexLastUpdatePhyoffset,required"`
}

// QueryConsumerOffsetRequestHeader is QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup     string `ext:"consumerGroup,required"`
	Topic             string `ext:"topic,required"`
	QueueID           int32  `ext:"queueId,required"`
	SetZeroIfNotFound *bool  `ext:"setZeroIfNotFound"` // 5.x
}

// OffsetResponseHeader answers QUERY_CONSUMER_OFFSET, GET_MAX_OFFSET,
// GET_MIN_OFFSET and SEARCH_OFFSET_BY_TIMESTAMP: each has one field,
// offset.
type OffsetResponseHeader struct {
	Offset int64 `ext:"offset,required"`
}

// UpdateConsumerOffsetRequestHeader is UPDATE_CONSUMER_OFFSET (15).
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	CommitOffset  int64  `ext:"commitOffset,required"`
}

// CreateTopicRequestHeader is UPDATE_AND_CREATE_TOPIC (17). The Go
// client's admin sends every field; defaultTopic is "defaultTopic" there.
type CreateTopicRequestHeader struct {
	Topic           string `ext:"topic,required"`
	DefaultTopic    string `ext:"defaultTopic,required"`
	ReadQueueNums   int32  `ext:"readQueueNums,required"`
	WriteQueueNums  int32  `ext:"writeQueueNums,required"`
	Perm            int32  `ext:"perm,required"`
	TopicFilterType string `ext:"topicFilterType,required"`
	TopicSysFlag    *int32 `ext:"topicSysFlag"`
	Order           bool   `ext:"order,required"`
	Attributes      string `ext:"attributes"` // 5.x, "+key=value,..."
	Force           bool   `ext:"force,omitempty"`
}

// GetBrokerConfigResponseHeader answers GET_BROKER_CONFIG (26); the body
// is the configuration as Java properties text.
type GetBrokerConfigResponseHeader struct {
	Version string `ext:"version,required"` // the config DataVersion as JSON
}

// SearchOffsetRequestHeader is SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetRequestHeader struct {
	Topic        string `ext:"topic,required"`
	QueueID      int32  `ext:"queueId,required"`
	Timestamp    int64  `ext:"timestamp,required"`
	BoundaryType string `ext:"boundaryType"` // 5.x: "LOWER" (default) or "UPPER"
}

// GetMaxOffsetRequestHeader is GET_MAX_OFFSET (30).
type GetMaxOffsetRequestHeader struct {
	Topic     string `ext:"topic,required"`
	QueueID   int32  `ext:"queueId,required"`
	Committed *bool  `ext:"committed"` // 5.x, default true
}

// TopicQueueRequestHeader is GET_MIN_OFFSET (31) and
// GET_EARLIEST_MSG_STORETIME (32): a topic and a queue.
type TopicQueueRequestHeader struct {
	Topic   string `ext:"topic,required"`
	QueueID int32  `ext:"queueId,required"`
}

// GetEarliestMsgStoretimeResponseHeader answers GET_EARLIEST_MSG_STORETIME.
type GetEarliestMsgStoretimeResponseHeader struct {
	Timestamp int64 `ext:"timestamp,required"`
}

// ViewMessageRequestHeader is VIEW_MESSAGE_BY_ID (33): a commit-log offset.
type ViewMessageRequestHeader struct {
	Offset int64  `ext:"offset,required"`
	Topic  string `ext:"topic"` // 5.x
}

// UnregisterClientRequestHeader is UNREGISTER_CLIENT (35).
type UnregisterClientRequestHeader struct {
	ClientID      string `ext:"clientID,required"`
	ProducerGroup string `ext:"producerGroup"`
	ConsumerGroup string `ext:"consumerGroup"`
}

// ConsumerSendMsgBackRequestHeader is CONSUMER_SEND_MSG_BACK (36).
type ConsumerSendMsgBackRequestHeader struct {
	Offset            int64  `ext:"offset,required"` // commit-log offset of the message
	Group             string `ext:"group,required"`
	DelayLevel        int32  `ext:"delayLevel,required"` // 0: broker decides; -1: straight to the DLQ
	OriginMsgID       string `ext:"originMsgId"`
	OriginTopic       string `ext:"originTopic"`
	UnitMode          bool   `ext:"unitMode"`
	MaxReconsumeTimes *int32 `ext:"maxReconsumeTimes"`
}

// Transaction states in EndTransactionRequestHeader.CommitOrRollback
// (MessageSysFlag).
const (
	TransactionNotType      = 0
	TransactionCommitType   = 0x8
	TransactionRollbackType = 0xC
)

// EndTransactionRequestHeader is END_TRANSACTION (37).
type EndTransactionRequestHeader struct {
	Topic                string `ext:"topic"` // 5.x
	ProducerGroup        string `ext:"producerGroup,required"`
	TranStateTableOffset int64  `ext:"tranStateTableOffset,required"`
	CommitLogOffset      int64  `ext:"commitLogOffset,required"`
	CommitOrRollback     int32  `ext:"commitOrRollback,required"`
	FromTransactionCheck bool   `ext:"fromTransactionCheck"`
	MsgID                string `ext:"msgId,required"`
	TransactionID        string `ext:"transactionId"`
}

// ConsumerGroupRequestHeader is the header of GET_CONSUMER_LIST_BY_GROUP
// (38), NOTIFY_CONSUMER_IDS_CHANGED (40) and GET_CONSUMER_CONNECTION_LIST
// (203): one field, consumerGroup.
type ConsumerGroupRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
}

// CheckTransactionStateRequestHeader is CHECK_TRANSACTION_STATE (39),
// broker to producer.
type CheckTransactionStateRequestHeader struct {
	Topic                string `ext:"topic"`
	TranStateTableOffset int64  `ext:"tranStateTableOffset,required"`
	CommitLogOffset      int64  `ext:"commitLogOffset,required"`
	MsgID                string `ext:"msgId"`
	TransactionID        string `ext:"transactionId"`
	OffsetMsgID          string `ext:"offsetMsgId"`
	BrokerName           string `ext:"brokerName"`
}

// PutKVConfigRequestHeader is PUT_KV_CONFIG (100).
type PutKVConfigRequestHeader struct {
	Namespace string `ext:"namespace,required"`
	Key       string `ext:"key,required"`
	Value     string `ext:"value,required"`
}

// KVConfigRequestHeader is GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102).
type KVConfigRequestHeader struct {
	Namespace string `ext:"namespace,required"`
	Key       string `ext:"key,required"`
}

// GetKVConfigResponseHeader answers GET_KV_CONFIG.
type GetKVConfigResponseHeader struct {
	Value string `ext:"value"`
}

// RegisterBrokerRequestHeader is REGISTER_BROKER (103). The body is a
// RegisterBrokerBody, zlib-compressed when Compressed.
type RegisterBrokerRequestHeader struct {
	BrokerName             string `ext:"brokerName,required"`
	BrokerAddr             string `ext:"brokerAddr,required"`
	ClusterName            string `ext:"clusterName,required"`
	HAServerAddr           string `ext:"haServerAddr,required"`
	BrokerID               int64  `ext:"brokerId,required"`
	HeartbeatTimeoutMillis *int64 `ext:"heartbeatTimeoutMillis"`
	EnableActingMaster     *bool  `ext:"enableActingMaster"`
	Compressed             bool   `ext:"compressed"`
	BodyCrc32              int32  `ext:"bodyCrc32"`
}

// RegisterBrokerResponseHeader answers REGISTER_BROKER.
type RegisterBrokerResponseHeader struct {
	HAServerAddr string `ext:"haServerAddr"`
	MasterAddr   string `ext:"masterAddr"`
}

// UnregisterBrokerRequestHeader is UNREGISTER_BROKER (104).
type UnregisterBrokerRequestHeader struct {
	BrokerName  string `ext:"brokerName,required"`
	BrokerAddr  string `ext:"brokerAddr,required"`
	ClusterName string `ext:"clusterName,required"`
	BrokerID    int64  `ext:"brokerId,required"`
}

// GetRouteInfoRequestHeader is GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic                  string `ext:"topic,required"`
	AcceptStandardJSONOnly *bool  `ext:"acceptStandardJsonOnly"`
}

// TopicRequestHeader is the one-field header {topic} of
// GET_TOPIC_STATS_INFO (202), DELETE_TOPIC_IN_BROKER (215),
// REGISTER_TOPIC_IN_NAMESRV (217) and QUERY_TOPIC_CONSUME_BY_WHO (300).
type TopicRequestHeader struct {
	Topic string `ext:"topic,required"`
}

// GetProducerConnectionListRequestHeader is GET_PRODUCER_CONNECTION_LIST (204).
type GetProducerConnectionListRequestHeader struct {
	ProducerGroup string `ext:"producerGroup,required"`
}

// BrokerNameRequestHeader is WIPE_WRITE_PERM_OF_BROKER (205) and
// ADD_WRITE_PERM_OF_BROKER (327).
type BrokerNameRequestHeader struct {
	BrokerName string `ext:"brokerName,required"`
}

// WipeWritePermOfBrokerResponseHeader answers WIPE_WRITE_PERM_OF_BROKER.
type WipeWritePermOfBrokerResponseHeader struct {
	WipeTopicCount int32 `ext:"wipeTopicCount,required"`
}

// AddWritePermOfBrokerResponseHeader answers ADD_WRITE_PERM_OF_BROKER.
type AddWritePermOfBrokerResponseHeader struct {
	AddTopicCount int32 `ext:"addTopicCount,required"`
}

// DeleteSubscriptionGroupRequestHeader is DELETE_SUBSCRIPTIONGROUP (207).
type DeleteSubscriptionGroupRequestHeader struct {
	GroupName   string `ext:"groupName,required"`
	CleanOffset bool   `ext:"cleanOffset"`
}

// GetConsumeStatsRequestHeader is GET_CONSUME_STATS (208).
type GetConsumeStatsRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic"`
}

// DeleteTopicFromNamesrvRequestHeader is DELETE_TOPIC_IN_NAMESRV (216).
type DeleteTopicFromNamesrvRequestHeader struct {
	Topic       string `ext:"topic,required"`
	ClusterName string `ext:"clusterName"`
}

// GetKVListByNamespaceRequestHeader is GET_KVLIST_BY_NAMESPACE (219).
type GetKVListByNamespaceRequestHeader struct {
	Namespace string `ext:"namespace,required"`
}

// ResetOffsetRequestHeader is RESET_CONSUMER_CLIENT_OFFSET (220, broker to
// client) and INVOKE_BROKER_TO_RESET_OFFSET (222, admin to broker).
type ResetOffsetRequestHeader struct {
	Topic     string `ext:"topic,required"`
	Group     string `ext:"group,required"`
	QueueID   int32  `ext:"queueId"` // 5.x; -1 means every queue
	Offset    *int64 `ext:"offset"`  // 5.x
	Timestamp int64  `ext:"timestamp,required"`
	IsForce   bool   `ext:"isForce,required"`
}

// GetConsumerStatusRequestHeader is GET_CONSUMER_STATUS_FROM_CLIENT (221)
// and INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
type GetConsumerStatusRequestHeader struct {
	Topic      string `ext:"topic,required"`
	Group      string `ext:"group,required"`
	ClientAddr string `ext:"clientAddr"`
}

// GetTopicsByClusterRequestHeader is GET_TOPICS_BY_CLUSTER (224).
type GetTopicsByClusterRequestHeader struct {
	Cluster string `ext:"cluster,required"`
}

// QueryConsumeTimeSpanRequestHeader is QUERY_CONSUME_TIME_SPAN (303).
type QueryConsumeTimeSpanRequestHeader struct {
	Topic string `ext:"topic,required"`
	Group string `ext:"group,required"`
}

// GetConsumerRunningInfoRequestHeader is GET_CONSUMER_RUNNING_INFO (307),
// admin to broker and broker to client.
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	ClientID      string `ext:"clientId,required"`
	JstackEnable  bool   `ext:"jstackEnable"`
}

// QueryCorrectionOffsetHeader is QUERY_CORRECTION_OFFSET (308).
type QueryCorrectionOffsetHeader struct {
	FilterGroups string `ext:"filterGroups"` // comma-separated
	CompareGroup string `ext:"compareGroup,required"`
	Topic        string `ext:"topic,required"`
}

// ConsumeMessageDirectlyResultRequestHeader is CONSUME_MESSAGE_DIRECTLY (309).
type ConsumeMessageDirectlyResultRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	ClientID      string `ext:"clientId"`
	MsgID         string `ext:"msgId"`
	BrokerName    string `ext:"brokerName"`
	Topic         string `ext:"topic"`
}

// CloneGroupOffsetRequestHeader is CLONE_GROUP_OFFSET (314).
type CloneGroupOffsetRequestHeader struct {
	SrcGroup  string `ext:"srcGroup,required"`
	DestGroup string `ext:"destGroup,required"`
	Topic     string `ext:"topic"`
	Offline   bool   `ext:"offline"`
}

// ViewBrokerStatsDataRequestHeader is VIEW_BROKER_STATS_DATA (315).
type ViewBrokerStatsDataRequestHeader struct {
	StatsName string `ext:"statsName,required"`
	StatsKey  string `ext:"statsKey,required"`
}

// GetConsumeStatsInBrokerHeader is GET_BROKER_CONSUME_STATS (317).
type GetConsumeStatsInBrokerHeader struct {
	IsOrder bool `ext:"isOrder,required"`
}

// QueryConsumeQueueRequestHeader is QUERY_CONSUME_QUEUE (321).
type QueryConsumeQueueRequestHeader struct {
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	Index         int64  `ext:"index,required"`
	Count         int32  `ext:"count,required"`
	ConsumerGroup string `ext:"consumerGroup"`
}

// QueryDataVersionRequestHeader is QUERY_DATA_VERSION (322); the body is
// the broker's DataVersion.
type QueryDataVersionRequestHeader struct {
	BrokerName  string `ext:"brokerName,required"`
	BrokerAddr  string `ext:"brokerAddr,required"`
	ClusterName string `ext:"clusterName,required"`
	BrokerID    int64  `ext:"brokerId,required"`
}

// QueryDataVersionResponseHeader answers QUERY_DATA_VERSION.
type QueryDataVersionResponseHeader struct {
	Changed bool `ext:"changed,required"`
}

// ResumeCheckHalfMessageRequestHeader is RESUME_CHECK_HALF_MESSAGE (323).
type ResumeCheckHalfMessageRequestHeader struct {
	Topic string `ext:"topic"`
	MsgID string `ext:"msgId"`
}

// ReplyMessageRequestHeader is PUSH_REPLY_MESSAGE_TO_CLIENT (326), broker
// to the requesting producer.
type ReplyMessageRequestHeader struct {
	ProducerGroup         string `ext:"producerGroup,required"`
	Topic                 string `ext:"topic,required"`
	DefaultTopic          string `ext:"defaultTopic,required"`
	DefaultTopicQueueNums int32  `ext:"defaultTopicQueueNums,required"`
	QueueID               int32  `ext:"queueId,required"`
	SysFlag               int32  `ext:"sysFlag,required"`
	BornTimestamp         int64  `ext:"bornTimestamp,required"`
	Flag                  int32  `ext:"flag,required"`
	Properties            string `ext:"properties"`
	ReconsumeTimes        int32  `ext:"reconsumeTimes"`
	UnitMode              bool   `ext:"unitMode"`
	BornHost              string `ext:"bornHost,required"`
	StoreHost             string `ext:"storeHost,required"`
	StoreTimestamp        int64  `ext:"storeTimestamp,required"`
}
