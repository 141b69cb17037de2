package topic

import (
	"fmt"
	"strings"
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
	RetryTopicPrefix  = "%RETRY%"
	DLQTopicPrefix    = "%DLQ%"
	ReplyTopicSuffix  = "_REPLY_TOPIC"

	// ScheduleQueueNums is the queue count of SCHEDULE_TOPIC_XXXX: one
	// queue per delay level.
	ScheduleQueueNums = 18
)

// Name limits (TopicValidator).
const (
	MaxTopicLength           = 127
	MaxRetryOrDLQTopicLength = 255
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

// ValidateTopic checks a topic name as TopicValidator.validateTopic does:
// not empty, only the characters of ^[%|a-zA-Z0-9_-]+$, at most 127
// characters (255 for %RETRY% and %DLQ% topics). The error wraps
// ErrInvalidTopic and says what is wrong; the name is quoted, shortened
// if long.
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: the topic is blank", ErrInvalidTopic)
	}
	if i := illegalChar(topic); i >= 0 {
		return fmt.Errorf("%w: %q contains the illegal character %q at %d, allowing only ^[%%|a-zA-Z0-9_-]+$",
			ErrInvalidTopic, clip(topic), topic[i], i)
	}
	limit := MaxTopicLength
	if IsRetryTopic(topic) || IsDLQTopic(topic) {
		limit = MaxRetryOrDLQTopicLength
	}
	if len(topic) > limit {
		return fmt.Errorf("%w: %q is %d characters, longer than %d", ErrInvalidTopic, clip(topic), len(topic), limit)
	}
	return nil
}

// illegalChar returns the index of the first byte outside
// [%|a-zA-Z0-9_-], or -1. Bytes of multi-byte UTF-8 characters are all
// outside, as Java's check rejects every char >= 128.
func illegalChar(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '%', c == '|', c == '_', c == '-':
		default:
			return i
		}
	}
	return -1
}

// clip shortens s for error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
