package protocol

import (
	"errors"
	"fmt"
	"strings"
)

// Topic name rules (Java's TopicValidator), shared by the NameServer and the
// broker.
const (
	MaxTopicLength = 127
	// MaxRetryOrDLQTopicLength is the limit of %RETRY% and %DLQ% topics,
	// whose names carry a group name.
	MaxRetryOrDLQTopicLength = 255
	RetryTopicPrefix         = "%RETRY%"
	DLQTopicPrefix           = "%DLQ%"
)

// ErrInvalidTopicName is wrapped by ValidateTopicName's errors.
var ErrInvalidTopicName = errors.New("invalid topic name")

// ValidateTopicName checks a topic name as TopicValidator.validateTopic
// does: not empty, only the characters of ^[%|a-zA-Z0-9_-]+$, at most
// MaxTopicLength characters (MaxRetryOrDLQTopicLength for %RETRY% and %DLQ%
// topics). The error says what is wrong; the name is quoted, shortened if
// long.
func ValidateTopicName(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: the topic is blank", ErrInvalidTopicName)
	}
	if i := illegalTopicChar(topic); i >= 0 {
		return fmt.Errorf("%w: %q contains the illegal character %q at %d, allowing only ^[%%|a-zA-Z0-9_-]+$",
			ErrInvalidTopicName, clipName(topic), topic[i], i)
	}
	limit := MaxTopicLength
	if strings.HasPrefix(topic, RetryTopicPrefix) || strings.HasPrefix(topic, DLQTopicPrefix) {
		limit = MaxRetryOrDLQTopicLength
	}
	if len(topic) > limit {
		return fmt.Errorf("%w: %q is %d characters, longer than %d", ErrInvalidTopicName, clipName(topic), len(topic), limit)
	}
	return nil
}

// illegalTopicChar returns the index of the first byte outside
// [%|a-zA-Z0-9_-], or -1. Bytes of multi-byte UTF-8 characters are all
// outside, as Java's check rejects every char >= 128.
func illegalTopicChar(s string) int {
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

// clipName shortens s for error messages.
func clipName(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
