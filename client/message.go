package client

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

// Message is a message to send.
type Message struct {
	Topic string
	Body  []byte
	// Tags is the message's tag (the TAGS property), which consumers
	// filter on. One tag; empty for none.
	Tags string
	// Keys are indexed by the broker for lookups (the KEYS property,
	// space-joined).
	Keys []string
	// DelayLevel delays delivery by one of the broker's levels (1 is 1 s,
	// 2 is 5 s, ... 18 is 2 h by default); 0 delivers at once.
	DelayLevel int
	// Flag is an application-defined integer stored with the message.
	Flag int32
	// Properties are user properties. Tags, Keys and DelayLevel override
	// the keys they set. A UNIQ_KEY here is used as the message id instead
	// of a generated one.
	Properties map[string]string
	// ShardingKey is not sent: it is what HashSelector hashes to choose a
	// queue, so that messages with the same key stay in order.
	ShardingKey string
}

// MessageQueue names one queue of a topic on one broker.
type MessageQueue struct {
	Topic      string
	BrokerName string
	QueueID    int
}

func (q MessageQueue) String() string {
	return fmt.Sprintf("%s@%s#%d", q.Topic, q.BrokerName, q.QueueID)
}

func (q MessageQueue) compare(o MessageQueue) int {
	if c := strings.Compare(q.Topic, o.Topic); c != 0 {
		return c
	}
	if c := strings.Compare(q.BrokerName, o.BrokerName); c != 0 {
		return c
	}
	return q.QueueID - o.QueueID
}

func queueFromWire(q protocol.MessageQueue) MessageQueue {
	return MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: int(q.QueueID)}
}

// SendStatus says how durably a sent message is stored. Every status means
// the broker stored the message; the ones other than SendOK say a flush to
// disk or to a slave did not finish in time.
type SendStatus int

// Send statuses, from the broker's response code.
const (
	SendOK                SendStatus = iota // SUCCESS
	SendFlushDiskTimeout                    // FLUSH_DISK_TIMEOUT
	SendFlushSlaveTimeout                   // FLUSH_SLAVE_TIMEOUT
	SendSlaveNotAvailable                   // SLAVE_NOT_AVAILABLE
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return "SendStatus(" + strconv.Itoa(int(s)) + ")"
}

// SendResult describes a stored message.
type SendResult struct {
	Status SendStatus
	// MsgID is the client-side message id (UNIQ_KEY); for a batch, the
	// ids of its messages joined by commas.
	MsgID string
	// OffsetMsgID is the broker's id: store host and commit-log offset
	// (for a batch, comma-joined).
	OffsetMsgID string
	Queue       MessageQueue
	// QueueOffset is the message's offset in its queue (for a batch, the
	// first message's).
	QueueOffset   int64
	TransactionID string
	RegionID      string
	TraceOn       bool
}

// FilterType is the language of a subscription expression.
type FilterType string

// Filter types.
const (
	FilterTag   FilterType = "TAG"   // "TagA || TagB", "*"
	FilterSQL92 FilterType = "SQL92" // needs enablePropertyFilter on a Java broker
)

// Filter selects the messages a consumer receives. The zero Filter
// receives everything.
type Filter struct {
	Type       FilterType
	Expression string
}

// TagFilter returns a filter on tags: "TagA || TagB", or "*" for all.
func TagFilter(expr string) Filter { return Filter{Type: FilterTag, Expression: expr} }

// SQLFilter returns an SQL92 filter on message properties.
func SQLFilter(expr string) Filter { return Filter{Type: FilterSQL92, Expression: expr} }

func (f Filter) typ() FilterType {
	if f.Type == "" {
		return FilterTag
	}
	return f.Type
}

// expression returns the expression as sent: "*" for an empty tag filter.
func (f Filter) expression() string {
	if f.typ() == FilterTag && strings.TrimSpace(f.Expression) == "" {
		return protocol.SubAll
	}
	return f.Expression
}

func (f Filter) validate() error {
	switch f.typ() {
	case FilterTag:
		return nil
	case FilterSQL92:
		if strings.TrimSpace(f.Expression) == "" {
			return fmt.Errorf("%w: empty SQL92 expression", ErrInvalidOptions)
		}
		return nil
	}
	return fmt.Errorf("%w: filter type %q", ErrInvalidOptions, f.Type)
}

// tagSet returns the tags of a tag filter, or nil when it takes every
// tag (or is not a tag filter). Java's SubscriptionData rules: split on
// "||", trim, drop empty entries; "*" anywhere means all.
func (f Filter) tagSet() []string {
	if f.typ() != FilterTag {
		return nil
	}
	expr := f.expression()
	if expr == protocol.SubAll {
		return nil
	}
	var tags []string
	for t := range strings.SplitSeq(expr, "||") {
		t = strings.TrimSpace(t)
		if t == protocol.SubAll {
			return nil
		}
		if t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// MessageExt is a received message.
//
// Body and the properties alias the pull response's buffer (see the
// package documentation); the struct itself is a plain value.
type MessageExt struct {
	Topic           string
	BrokerName      string
	QueueID         int
	QueueOffset     int64
	CommitLogOffset int64
	Body            []byte
	Flag            int32
	SysFlag         int32
	ReconsumeTimes  int32
	BornTimestamp   time.Time
	BornHost        netip.AddrPort
	StoreTimestamp  time.Time
	StoreHost       netip.AddrPort
	StoreSize       int32
	BodyCRC         uint32

	PreparedTransactionOffset int64

	props []byte // the encoded properties string
}

// Queue returns the queue the message was pulled from.
func (m *MessageExt) Queue() MessageQueue {
	return MessageQueue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: m.QueueID}
}

// Property returns one property ("" when absent).
func (m *MessageExt) Property(key string) string { return message.PropertyString(m.props, key) }

// Properties decodes every property into a new map.
func (m *MessageExt) Properties() map[string]string { return message.ParseProperties(m.props) }

// Tags returns the TAGS property.
func (m *MessageExt) Tags() string { return m.Property(message.PropertyTags) }

// Keys returns the tokens of the KEYS property.
func (m *MessageExt) Keys() []string {
	return strings.Fields(m.Property(message.PropertyKeys))
}

// MsgID returns the client-side message id (UNIQ_KEY), or the offset
// message id when the producer set none.
func (m *MessageExt) MsgID() string {
	if id := m.Property(message.PropertyUniqClientMessageIDKeyIdx); id != "" {
		return id
	}
	return m.OffsetMsgID()
}

// OffsetMsgID returns the broker's id for the message: store host and
// commit-log offset.
func (m *MessageExt) OffsetMsgID() string {
	return message.OffsetMsgID(m.StoreHost, m.CommitLogOffset)
}

// DelayLevel returns the DELAY property, 0 when absent or not a number.
func (m *MessageExt) DelayLevel() int {
	n, _ := strconv.Atoi(m.Property(message.PropertyDelayTimeLevel))
	return n
}

// String describes the message without its body.
func (m *MessageExt) String() string {
	return fmt.Sprintf("MessageExt{queue=%s, offset=%d, bodyLen=%d, tags=%q}",
		m.Queue(), m.QueueOffset, len(m.Body), m.Tags())
}
