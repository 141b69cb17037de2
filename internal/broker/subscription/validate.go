package subscription

import (
	"fmt"
	"strings"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Groups RocketMQ knows by name (MixAll).
const (
	ToolsConsumerGroup     = "TOOLS_CONSUMER"
	FiltersrvConsumerGroup = "FILTERSRV_CONSUMER"
	SelfTestConsumerGroup  = "SELF_TEST_C_GROUP"
	OnsHTTPProxyGroup      = "CID_ONS-HTTP-PROXY"
	OnsAPIPullGroup        = "CID_ONSAPI_PULL"
	OnsAPIPermissionGroup  = "CID_ONSAPI_PERMISSION"
	OnsAPIOwnerGroup       = "CID_ONSAPI_OWNER"
	SysTransGroup          = "CID_RMQ_SYS_TRANS"
	SysGroupPrefix         = "CID_RMQ_SYS_"
	MaxGroupLength         = 120
	maxRetryQueueNums      = 65535
)

// systemGroups are created at start (package comment).
var systemGroups = []string{
	ToolsConsumerGroup, FiltersrvConsumerGroup, SelfTestConsumerGroup, OnsHTTPProxyGroup,
	OnsAPIPullGroup, OnsAPIPermissionGroup, OnsAPIOwnerGroup, SysTransGroup,
}

// IsSysConsumerGroup reports whether group is a system group, which is
// created on demand even when automatic creation is off (MixAll).
func IsSysConsumerGroup(group string) bool { return strings.HasPrefix(group, SysGroupPrefix) }

// ValidateGroup checks a consumer group name as TopicValidator.validateGroup
// does: not empty, only the characters of ^[%|a-zA-Z0-9_-]+$, at most 120
// characters (so that %RETRY%<group> and %DLQ%<group> stay valid topics).
// The error wraps ErrInvalidGroup.
func ValidateGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: the group is blank", ErrInvalidGroup)
	}
	for i := 0; i < len(group); i++ {
		switch c := group[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '%', c == '|', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q contains the illegal character %q at %d, allowing only ^[%%|a-zA-Z0-9_-]+$",
				ErrInvalidGroup, clip(group), c, i)
		}
	}
	if len(group) > MaxGroupLength {
		return fmt.Errorf("%w: %q is %d characters, longer than %d", ErrInvalidGroup, clip(group), len(group), MaxGroupLength)
	}
	return nil
}

// validateConfig checks what a group config may hold.
func validateConfig(c protocol.SubscriptionGroupConfig) error {
	if err := ValidateGroup(c.GroupName); err != nil {
		return err
	}
	switch {
	case c.RetryQueueNums < 0 || c.RetryQueueNums > maxRetryQueueNums:
		return fmt.Errorf("%w: %s: retryQueueNums %d outside 0..%d", ErrInvalidConfig, c.GroupName, c.RetryQueueNums, maxRetryQueueNums)
	case c.RetryMaxTimes < -1:
		return fmt.Errorf("%w: %s: retryMaxTimes %d below -1", ErrInvalidConfig, c.GroupName, c.RetryMaxTimes)
	case c.BrokerID < 0 || c.WhichBrokerWhenConsumeSlowly < 0:
		return fmt.Errorf("%w: %s: negative broker id", ErrInvalidConfig, c.GroupName)
	case c.ConsumeTimeoutMinute < 0:
		return fmt.Errorf("%w: %s: consumeTimeoutMinute %d", ErrInvalidConfig, c.GroupName, c.ConsumeTimeoutMinute)
	}
	return nil
}

func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
