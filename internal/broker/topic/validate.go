package topic

import (
	"fmt"
	"strings"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Well-known topics (TopicValidator, MixAll).
const (
	AutoCreateTopicKey    = "TBW102"
	ScheduleTopic         = "SCHEDULE_TOPIC_XXXX"
	ScheduleTopicV2       = "SCHEDULE_TOPIC_XXXX_V2"
	BenchmarkTopic        = "BenchmarkTest"
	TransHalfTopic        = "RMQ_SYS_TRANS_HALF_TOPIC"
	TransOpHalfTopic      = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TransCheckMaxTopic    = "TRANS_CHECK_MAX_TIME_TOPIC"
	TraceTopic            = "RMQ_SYS_TRACE_TOPIC"
	SelfTestTopic         = "SELF_TEST_TOPIC"
	OffsetMovedEventTopic = "OFFSET_MOVED_EVENT"
	CheckpointTopic       = "CHECKPOINT_TOPIC"

	SystemTopicPrefix = "rmq_sys_"
	RetryTopicPrefix  = protocol.RetryTopicPrefix
	DLQTopicPrefix    = protocol.DLQTopicPrefix
	ReplyTopicSuffix  = "_REPLY_TOPIC"

	// ScheduleQueueNums is the queue count of SCHEDULE_TOPIC_XXXX: one
	// queue per delay level.
	ScheduleQueueNums = 18
)

// Name limits (TopicValidator).
const (
	MaxTopicLength           = protocol.MaxTopicLength
	MaxRetryOrDLQTopicLength = protocol.MaxRetryOrDLQTopicLength
	// MaxQueueNums bounds read and write queue counts. Java has no limit;
	// this one keeps a hostile file or request from making the broker
	// build routes and stats for billions of queues.
	MaxQueueNums = 65535
)

var systemTopics = map[string]bool{
	AutoCreateTopicKey: true, ScheduleTopic: true, ScheduleTopicV2: true, BenchmarkTopic: true,
	TransHalfTopic: true, TransOpHalfTopic: true, TransCheckMaxTopic: true, TraceTopic: true,
	SelfTestTopic: true, OffsetMovedEventTopic: true, CheckpointTopic: true,
	"RMQ_SYS_TOPIC_CONFIG_SYNC": true, "RMQ_SYS_CONSUMER_OFFSET_SYNC": true,
	"RMQ_SYS_DELAY_OFFSET_SYNC": true, "RMQ_SYS_SUBSCRIPTION_GROUP_SYNC": true,
	"RMQ_SYS_MESSAGE_MODE_SYNC": true, "RMQ_SYS_TIMER_METRICS_SYNC": true,
}

var notAllowedSendTopics = map[string]bool{
	ScheduleTopic: true, ScheduleTopicV2: true, TransHalfTopic: true, TransOpHalfTopic: true,
	TransCheckMaxTopic: true, SelfTestTopic: true, OffsetMovedEventTopic: true,
	"RMQ_SYS_TOPIC_CONFIG_SYNC": true, "RMQ_SYS_CONSUMER_OFFSET_SYNC": true,
	"RMQ_SYS_DELAY_OFFSET_SYNC": true, "RMQ_SYS_SUBSCRIPTION_GROUP_SYNC": true,
	"RMQ_SYS_MESSAGE_MODE_SYNC": true, "RMQ_SYS_TIMER_METRICS_SYNC": true,
}

// IsSystemTopic reports whether topic is one of RocketMQ's fixed system
// topics or carries the rmq_sys_ prefix. Manager.IsSystemTopic also knows
// this broker's cluster, broker-name, reply and trace topics.
func IsSystemTopic(topic string) bool {
	return systemTopics[topic] || strings.HasPrefix(topic, SystemTopicPrefix)
}

// IsNotAllowedSendTopic reports whether clients may not send to topic
// (the broker writes these itself).
func IsNotAllowedSendTopic(topic string) bool { return notAllowedSendTopics[topic] }

// RetryTopic returns the retry topic of a consumer group.
func RetryTopic(group string) string { return RetryTopicPrefix + group }

// DLQTopic returns the dead-letter topic of a consumer group.
func DLQTopic(group string) string { return DLQTopicPrefix + group }

// IsRetryTopic reports whether topic is a %RETRY% topic.
func IsRetryTopic(topic string) bool { return strings.HasPrefix(topic, RetryTopicPrefix) }

// IsDLQTopic reports whether topic is a %DLQ% topic.
func IsDLQTopic(topic string) bool { return strings.HasPrefix(topic, DLQTopicPrefix) }

// ValidateTopic checks a topic name as TopicValidator.validateTopic does
// (protocol.ValidateTopicName). The error wraps ErrInvalidTopic.
func ValidateTopic(topic string) error {
	if err := protocol.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTopic, err)
	}
	return nil
}

// clip shortens s for error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
