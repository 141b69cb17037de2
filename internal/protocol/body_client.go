package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Consumer enums as their Java names travel in JSON.
const (
	ConsumeActively  = "CONSUME_ACTIVELY"  // pull consumer
	ConsumePassively = "CONSUME_PASSIVELY" // push consumer
	ConsumePop       = "CONSUME_POP"       // 5.x

	Clustering   = "CLUSTERING"
	Broadcasting = "BROADCASTING"

	ConsumeFromLastOffset  = "CONSUME_FROM_LAST_OFFSET"
	ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET"
	ConsumeFromTimestamp   = "CONSUME_FROM_TIMESTAMP"

	ExpressionTag   = "TAG"
	ExpressionSQL92 = "SQL92"

	SubAll = "*" // subscribe to every tag
)

// HeartbeatData is the body of HEART_BEAT: a client's producer and consumer
// groups and, for consumers, their subscriptions.
type HeartbeatData struct {
	ClientID             string         `json:"clientID"`
	ProducerDataSet      []ProducerData `json:"producerDataSet"`
	ConsumerDataSet      []ConsumerData `json:"consumerDataSet"`
	HeartbeatFingerprint int32          `json:"heartbeatFingerprint,omitempty"` // 5.x heartbeat v2
	IsWithoutSub         bool           `json:"isWithoutSub,omitempty"`         // 5.x heartbeat v2
}

// ProducerData names one producer group.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData is one consumer group of a client.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one subscription of a consumer group. The Go client
// sends subVersion in nanoseconds (Java: milliseconds) and codeSet as
// strings; CodeSet reads both.
type SubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         CodeSet  `json:"codeSet"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// CodeSet is the set of tag hash codes of a subscription. Java writes
// numbers; the Go client writes numeric strings. Either is read; numbers
// are written, as Java expects.
type CodeSet []int32

// UnmarshalJSON accepts an array of numbers or numeric strings, or null.
func (c *CodeSet) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(CodeSet, 0, len(raw))
	for _, r := range raw {
		s := string(r)
		if len(s) >= 2 && s[0] == '"' {
			if err := json.Unmarshal(r, &s); err != nil {
				return err
			}
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("protocol: codeSet element %q: %w", clip(string(r)), err)
		}
		out = append(out, int32(n))
	}
	*c = out
	return nil
}

// ConsumerListByGroup is the body answering GET_CONSUMER_LIST_BY_GROUP
// (GetConsumerListByGroupResponseBody).
type ConsumerListByGroup struct {
	ConsumerIDList []string `json:"consumerIdList"`
}

// LockBatchRequestBody is the body of LOCK_BATCH_MQ and UNLOCK_BATCH_MQ.
type LockBatchRequestBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MQSet          []MessageQueue `json:"mqSet"`
}

// LockBatchResponseBody answers LOCK_BATCH_MQ with the queues locked.
type LockBatchResponseBody struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}

// ConsumerRunningInfo is what a client answers to GET_CONSUMER_RUNNING_INFO.
// The broker passes the body through to admin tools untouched; this type is
// for tools that want to read it. mqTable is keyed by queue objects
// (fastjson's form, imitated by the Go client) and its values vary by
// client, so they stay raw.
type ConsumerRunningInfo struct {
	Properties      map[string]string          `json:"properties"`
	SubscriptionSet []SubscriptionData         `json:"subscriptionSet"`
	MQTable         MQMap[json.RawMessage]     `json:"mqTable"`
	StatusTable     map[string]json.RawMessage `json:"statusTable"`
	Jstack          string                     `json:"jstack"`
}

// GetConsumerStatusBody is what a client answers to
// GET_CONSUMER_STATUS_FROM_CLIENT (messageQueueTable), and what the broker
// aggregates per client for INVOKE_BROKER_TO_GET_CONSUMER_STATUS
// (consumerTable).
type GetConsumerStatusBody struct {
	MessageQueueTable MQMap[int64]            `json:"messageQueueTable"`
	ConsumerTable     map[string]MQMap[int64] `json:"consumerTable"`
}

func (b *GetConsumerStatusBody) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, `{"consumerTable":{`...)
	first := true
	for _, client := range sortedKeys(b.ConsumerTable) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, client)
		dst = append(dst, ':')
		var err error
		if dst, err = b.ConsumerTable[client].appendFastJSON(dst); err != nil {
			return nil, err
		}
	}
	dst = append(dst, `},"messageQueueTable":`...)
	dst, err := b.MessageQueueTable.appendFastJSON(dst)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}
