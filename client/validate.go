package client

import (
	"fmt"
	"strings"

	"github.com/gorocket/gorocket/internal/message"
)

// retryGroupTopicPrefix starts the retry topic of a consumer group.
const retryGroupTopicPrefix = "%RETRY%"

// Name limits of RocketMQ's Validators.
const (
	maxTopicLen = message.MaxTopicLengthV1 // 127
	maxGroupLen = 255
)

// validName reports whether s uses only the characters RocketMQ allows in
// topic and group names: ^[%|a-zA-Z0-9_-]+$.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func validateTopic(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("%w: empty topic", ErrInvalidMessage)
	case len(topic) > maxTopicLen:
		return fmt.Errorf("%w: topic of %d bytes, limit %d", ErrInvalidMessage, len(topic), maxTopicLen)
	case !validName(topic):
		return fmt.Errorf("%w: topic %q has characters outside [%%|a-zA-Z0-9_-]", ErrInvalidMessage, topic)
	}
	return nil
}

func validateGroup(group string) error {
	switch {
	case group == "":
		return fmt.Errorf("%w: empty group", ErrInvalidOptions)
	case len(group) > maxGroupLen:
		return fmt.Errorf("%w: group of %d bytes, limit %d", ErrInvalidOptions, len(group), maxGroupLen)
	case !validName(group):
		return fmt.Errorf("%w: group %q has characters outside [%%|a-zA-Z0-9_-]", ErrInvalidOptions, group)
	}
	return nil
}

// validateMessage checks what can be checked before encoding.
func validateMessage(msg *Message, maxSize int) error {
	if msg == nil {
		return fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	if err := validateTopic(msg.Topic); err != nil {
		return err
	}
	switch {
	case len(msg.Body) == 0:
		return fmt.Errorf("%w: empty body", ErrInvalidMessage)
	case len(msg.Body) > maxSize:
		return fmt.Errorf("%w: body of %d bytes, limit %d", ErrInvalidMessage, len(msg.Body), maxSize)
	case msg.DelayLevel < 0:
		return fmt.Errorf("%w: negative delay level %d", ErrInvalidMessage, msg.DelayLevel)
	case badProperty(msg.Tags):
		return fmt.Errorf("%w: tags contain a property separator", ErrInvalidMessage)
	}
	for _, k := range msg.Keys {
		if badProperty(k) || strings.Contains(k, message.KeySeparator) {
			return fmt.Errorf("%w: key %q contains a separator", ErrInvalidMessage, k)
		}
	}
	for k, v := range msg.Properties {
		if k == "" || badProperty(k) || badProperty(v) {
			return fmt.Errorf("%w: property %q is empty or contains a separator", ErrInvalidMessage, k)
		}
	}
	return nil
}

// badProperty reports whether s holds a byte that would end a property
// name or value early.
func badProperty(s string) bool {
	return strings.IndexByte(s, message.NameValueSeparator) >= 0 ||
		strings.IndexByte(s, message.PropertySeparator) >= 0
}
