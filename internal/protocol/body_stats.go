package protocol

import (
	"encoding/json"
	"strconv"
)

// Bodies keyed by MessageQueue. Java tools (mqadmin consumerProgress,
// topicStatus) read them with fastjson, which wants the queue as an object
// key, so EncodeBody writes that form; DecodeBody reads it back.

// OffsetWrapper is one queue's progress in ConsumeStats.
type OffsetWrapper struct {
	BrokerOffset   int64 `json:"brokerOffset"`
	ConsumerOffset int64 `json:"consumerOffset"`
	PullOffset     int64 `json:"pullOffset"` // 5.x
	LastTimestamp  int64 `json:"lastTimestamp"`
}

// ConsumeStats answers GET_CONSUME_STATS.
type ConsumeStats struct {
	OffsetTable MQMap[OffsetWrapper] `json:"offsetTable"`
	ConsumeTPS  float64              `json:"consumeTps"`
}

func (s *ConsumeStats) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, `{"consumeTps":`...)
	tps, err := json.Marshal(s.ConsumeTPS)
	if err != nil {
		return nil, err
	}
	dst = append(dst, tps...)
	dst = append(dst, `,"offsetTable":`...)
	if dst, err = s.OffsetTable.appendFastJSON(dst); err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// TopicOffset is one queue's range in TopicStatsTable.
type TopicOffset struct {
	MinOffset           int64 `json:"minOffset"`
	MaxOffset           int64 `json:"maxOffset"`
	LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
}

// TopicStatsTable answers GET_TOPIC_STATS_INFO.
type TopicStatsTable struct {
	OffsetTable MQMap[TopicOffset] `json:"offsetTable"`
}

func (s *TopicStatsTable) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, `{"offsetTable":`...)
	dst, err := s.OffsetTable.appendFastJSON(dst)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// ResetOffsetBody is the body of RESET_CONSUMER_CLIENT_OFFSET (broker to
// client) and answers INVOKE_BROKER_TO_RESET_OFFSET. EncodeBody writes
// fastjson's form, {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:100}},
// which is what the Go client's parser expects from a broker: it splits the
// text on ",{" and "}:", so there are no spaces and offsets are bare
// integers.
type ResetOffsetBody struct {
	OffsetTable MQMap[int64] `json:"offsetTable"`
}

func (b *ResetOffsetBody) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, `{"offsetTable":`...)
	dst, err := b.OffsetTable.appendFastJSON(dst)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// ConsumeStatsList answers GET_BROKER_CONSUME_STATS: every group's
// ConsumeStats, per topic, as a list of single-entry maps (Java's
// List<Map<String, List<ConsumeStats>>>).
type ConsumeStatsList struct {
	ConsumeStatsList  []map[string][]ConsumeStats `json:"consumeStatsList"`
	BrokerAddr        string                      `json:"brokerAddr"`
	TotalDiff         int64                       `json:"totalDiff"`
	TotalInflightDiff int64                       `json:"totalInflightDiff"` // 5.x
}

func (l *ConsumeStatsList) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, `{"brokerAddr":`...)
	dst = AppendJSONString(dst, l.BrokerAddr)
	dst = append(dst, `,"consumeStatsList":[`...)
	for i, m := range l.ConsumeStatsList {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		for j, group := range sortedKeys(m) {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, group)
			dst = append(dst, ":["...)
			for k := range m[group] {
				if k > 0 {
					dst = append(dst, ',')
				}
				var err error
				if dst, err = m[group][k].appendBody(dst); err != nil {
					return nil, err
				}
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"totalDiff":`...)
	dst = strconv.AppendInt(dst, l.TotalDiff, 10)
	dst = append(dst, `,"totalInflightDiff":`...)
	dst = strconv.AppendInt(dst, l.TotalInflightDiff, 10)
	return append(dst, '}'), nil
}
