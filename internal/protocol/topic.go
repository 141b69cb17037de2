package protocol

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Permission bits of topics and brokers (PermName.java). A normal topic is
// PermRead|PermWrite (6); TBW102 also has PermInherit (7).
const (
	PermPriority = 1 << 3
	PermRead     = 1 << 2
	PermWrite    = 1 << 1
	PermInherit  = 1 << 0
)

// PermString renders perm as Java's PermName.perm2String does ("RW-", "R--").
func PermString(perm int32) string {
	b := []byte("---")
	if perm&PermRead != 0 {
		b[0] = 'R'
	}
	if perm&PermWrite != 0 {
		b[1] = 'W'
	}
	if perm&PermInherit != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// Topic system flag bits (TopicSysFlag.java).
const (
	TopicSysFlagUnit    = 1 << 0
	TopicSysFlagUnitSub = 1 << 1
)

// Topic filter types (TopicFilterType.java).
const (
	TopicFilterSingleTag = "SINGLE_TAG"
	TopicFilterMultiTag  = "MULTI_TAG"
)

// TopicConfig is one topic's configuration, as in topics.json and in
// REGISTER_BROKER bodies.
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int32             `json:"readQueueNums"`
	WriteQueueNums  int32             `json:"writeQueueNums"`
	Perm            int32             `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes,omitempty"` // 5.x
}

// DefaultTopicConfig returns Java's defaults for a new topic: 16 read and
// write queues, read-write, single tag.
func DefaultTopicConfig(name string) TopicConfig {
	return TopicConfig{
		TopicName: name, ReadQueueNums: 16, WriteQueueNums: 16,
		Perm: PermRead | PermWrite, TopicFilterType: TopicFilterSingleTag,
	}
}

// MessageQueue names one queue of a topic on one broker.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

func (q MessageQueue) String() string {
	return "MessageQueue [topic=" + q.Topic + ", brokerName=" + q.BrokerName + ", queueId=" + strconv.Itoa(int(q.QueueID)) + "]"
}

// Compare orders queues by topic, broker name, queue id.
func (q MessageQueue) Compare(o MessageQueue) int {
	return cmp.Or(strings.Compare(q.Topic, o.Topic), strings.Compare(q.BrokerName, o.BrokerName), cmp.Compare(q.QueueID, o.QueueID))
}

// appendJSON writes the queue as fastjson does: keys in alphabetical order.
func (q MessageQueue) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = AppendJSONString(dst, q.BrokerName)
	dst = append(dst, `,"queueId":`...)
	dst = strconv.AppendInt(dst, int64(q.QueueID), 10)
	dst = append(dst, `,"topic":`...)
	dst = AppendJSONString(dst, q.Topic)
	return append(dst, '}')
}

// DataVersion versions a table a broker or name server keeps (topic
// configs, subscription groups): a timestamp in ms and a counter bumped on
// each change.
type DataVersion struct {
	StateVersion int64 `json:"stateVersion"` // 5.x
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
}

// Next returns the version after v, at time nowMillis.
func (v DataVersion) Next(nowMillis int64) DataVersion {
	return DataVersion{StateVersion: v.StateVersion, Timestamp: nowMillis, Counter: v.Counter + 1}
}

// MQMap is a map keyed by MessageQueue: Java's HashMap<MessageQueue, V>.
// fastjson writes its keys as JSON objects, which is not JSON; read it with
// DecodeBody (or UnmarshalLenient), write it with EncodeBody. Decoding also
// accepts gson's pair-array form [[{queue},value],...].
type MQMap[V any] map[MessageQueue]V

// UnmarshalJSON reads normalized input: object keys are strings holding
// the queue's JSON.
func (m *MQMap[V]) UnmarshalJSON(b []byte) error {
	out := MQMap[V]{}
	switch {
	case len(b) > 0 && b[0] == '{':
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for k, v := range raw {
			var q MessageQueue
			if err := json.Unmarshal([]byte(k), &q); err != nil {
				return fmt.Errorf("protocol: message queue key %q: %w", clip(k), err)
			}
			var val V
			if err := json.Unmarshal(v, &val); err != nil {
				return err
			}
			out[q] = val
		}
	case len(b) > 0 && b[0] == '[':
		var pairs [][2]json.RawMessage
		if err := json.Unmarshal(b, &pairs); err != nil {
			return err
		}
		for _, p := range pairs {
			var q MessageQueue
			var val V
			if err := json.Unmarshal(p[0], &q); err != nil {
				return err
			}
			if err := json.Unmarshal(p[1], &val); err != nil {
				return err
			}
			out[q] = val
		}
	case string(b) == "null":
		out = nil
	default:
		return fmt.Errorf("protocol: message queue map: unexpected %q", clip(string(b)))
	}
	*m = out
	return nil
}

// appendFastJSON writes the map as fastjson does, {{queue}:value,...},
// queues in order. This is the form the Go client's ResetOffsetBody parser
// needs: no spaces, values as written by encoding/json.
func (m MQMap[V]) appendFastJSON(dst []byte) ([]byte, error) {
	keys := make([]MessageQueue, 0, len(m))
	for q := range m {
		keys = append(keys, q)
	}
	slices.SortFunc(keys, MessageQueue.Compare)
	dst = append(dst, '{')
	for i, q := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = q.appendJSON(dst)
		dst = append(dst, ':')
		v, err := json.Marshal(m[q])
		if err != nil {
			return nil, err
		}
		dst = append(dst, v...)
	}
	return append(dst, '}'), nil
}
