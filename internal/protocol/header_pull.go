package protocol

import "strconv"

// Pull request sysFlag bits (PullSysFlag.java).
const (
	PullFlagCommitOffset = 1 << 0
	PullFlagSuspend      = 1 << 1
	PullFlagSubscription = 1 << 2
	PullFlagClassFilter  = 1 << 3
	PullFlagLitePull     = 1 << 4
)

// PullMessageRequestHeader is the custom header of PULL_MESSAGE.
type PullMessageRequestHeader struct {
	ConsumerGroup        string // required
	Topic                string // required
	QueueID              int32  // required
	QueueOffset          int64  // required
	MaxMsgNums           int32  // required
	SysFlag              int32  // required
	CommitOffset         int64  // required
	SuspendTimeoutMillis int64  // required
	Subscription         string
	SubVersion           int64 // required; the Go client sends nanoseconds
	ExpressionType       string
	MaxMsgBytes          int32 // meaningful only when HasMaxMsgBytes (5.x)
	HasMaxMsgBytes       bool
}

var pullNames = [...]string{
	"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag",
	"commitOffset", "suspendTimeoutMillis", "subVersion",
}

// DecodeExt decodes the header in one pass over f.
func (h *PullMessageRequestHeader) DecodeExt(f ExtFields) error {
	var seen uint16
	for _, kv := range f {
		k, s := kv.Key, kv.Value
		var err error
		switch k {
		case "consumerGroup":
			h.ConsumerGroup, seen = s, seen|1<<0
		case "topic":
			h.Topic, seen = s, seen|1<<1
		case "queueId":
			h.QueueID, err = ParseInt32(k, s)
			seen |= 1 << 2
		case "queueOffset":
			h.QueueOffset, err = ParseInt64(k, s)
			seen |= 1 << 3
		case "maxMsgNums":
			h.MaxMsgNums, err = ParseInt32(k, s)
			seen |= 1 << 4
		case "sysFlag":
			h.SysFlag, err = ParseInt32(k, s)
			seen |= 1 << 5
		case "commitOffset":
			h.CommitOffset, err = ParseInt64(k, s)
			seen |= 1 << 6
		case "suspendTimeoutMillis":
			h.SuspendTimeoutMillis, err = ParseInt64(k, s)
			seen |= 1 << 7
		case "subVersion":
			h.SubVersion, err = ParseInt64(k, s)
			seen |= 1 << 8
		case "subscription":
			h.Subscription = s
		case "expressionType":
			h.ExpressionType = s
		case "maxMsgBytes":
			h.MaxMsgBytes, err = ParseInt32(k, s)
			h.HasMaxMsgBytes = err == nil
		}
		if err != nil {
			return err
		}
	}
	for i, name := range pullNames {
		if seen&(1<<i) == 0 {
			return missing(name)
		}
	}
	return nil
}

// AppendExt appends the header's fields.
func (h *PullMessageRequestHeader) AppendExt(dst ExtFields) ExtFields {
	dst = append(dst,
		ExtField{"consumerGroup", h.ConsumerGroup},
		ExtField{"topic", h.Topic},
		ExtField{"queueId", itoa(h.QueueID)},
		ExtField{"queueOffset", strconv.FormatInt(h.QueueOffset, 10)},
		ExtField{"maxMsgNums", itoa(h.MaxMsgNums)},
		ExtField{"sysFlag", itoa(h.SysFlag)},
		ExtField{"commitOffset", strconv.FormatInt(h.CommitOffset, 10)},
		ExtField{"suspendTimeoutMillis", strconv.FormatInt(h.SuspendTimeoutMillis, 10)},
		ExtField{"subscription", h.Subscription},
		ExtField{"subVersion", strconv.FormatInt(h.SubVersion, 10)},
	)
	if h.ExpressionType != "" {
		dst = append(dst, ExtField{"expressionType", h.ExpressionType})
	}
	if h.HasMaxMsgBytes {
		dst = append(dst, ExtField{"maxMsgBytes", itoa(h.MaxMsgBytes)})
	}
	return dst
}

// PullMessageResponseHeader is the custom header of a pull response. All
// four fields are required by Java clients.
type PullMessageResponseHeader struct {
	SuggestWhichBrokerID int64
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
}

// AppendExt appends the header's fields.
func (h *PullMessageResponseHeader) AppendExt(dst ExtFields) ExtFields {
	return append(dst,
		ExtField{"suggestWhichBrokerId", strconv.FormatInt(h.SuggestWhichBrokerID, 10)},
		ExtField{"nextBeginOffset", strconv.FormatInt(h.NextBeginOffset, 10)},
		ExtField{"minOffset", strconv.FormatInt(h.MinOffset, 10)},
		ExtField{"maxOffset", strconv.FormatInt(h.MaxOffset, 10)},
	)
}

// DecodeExt decodes the header.
func (h *PullMessageResponseHeader) DecodeExt(f ExtFields) error {
	var seen uint8
	for _, kv := range f {
		var err error
		switch kv.Key {
		case "suggestWhichBrokerId":
			h.SuggestWhichBrokerID, err = ParseInt64(kv.Key, kv.Value)
			seen |= 1
		case "nextBeginOffset":
			h.NextBeginOffset, err = ParseInt64(kv.Key, kv.Value)
			seen |= 2
		case "minOffset":
			h.MinOffset, err = ParseInt64(kv.Key, kv.Value)
			seen |= 4
		case "maxOffset":
			h.MaxOffset, err = ParseInt64(kv.Key, kv.Value)
			seen |= 8
		}
		if err != nil {
			return err
		}
	}
	for i, name := range [...]string{"suggestWhichBrokerId", "nextBeginOffset", "minOffset", "maxOffset"} {
		if seen&(1<<i) == 0 {
			return missing(name)
		}
	}
	return nil
}
