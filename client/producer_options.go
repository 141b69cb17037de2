package client

import (
	"fmt"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/message"
)

// ProducerOptions configure a Producer. Zero fields take their defaults.
type ProducerOptions struct {
	// Group is the producer group. Default "DEFAULT_PRODUCER".
	Group string
	// MaxAttempts bounds the attempts of a sync send: 1 never retries.
	// Default 3 (RocketMQ's retryTimesWhenSendFailed of 2).
	MaxAttempts int
	// MaxInFlight bounds async sends awaiting their response; SendAsync
	// waits for room. Default 1024.
	MaxInFlight int
	// Selector chooses each message's queue. Default: round-robin, moving
	// off a broker that just failed.
	Selector QueueSelector
	// CreateTopicKey is the topic whose route a send to an unknown topic
	// borrows, so that the broker creates the topic (autoCreateTopicEnable).
	// Default "TBW102".
	CreateTopicKey string
	// DisableTopicFallback makes sends to a topic the name servers do not
	// know fail with ErrTopicNotExist instead of borrowing CreateTopicKey's
	// route.
	DisableTopicFallback bool
	// DefaultTopicQueueNums is the number of queues per broker of a topic
	// created that way. Default 4.
	DefaultTopicQueueNums int
	// MaxMessageSize bounds a message body (a batch's bodies together).
	// Default 4 MiB, the broker's default maxMessageSize.
	MaxMessageSize int
	// CompressThreshold compresses bodies of at least this many bytes with
	// zlib (sysFlag bit 0), as RocketMQ's clients do above 4 KiB. 0, the
	// default, never compresses. Batches are never compressed.
	CompressThreshold int
	// CompressLevel is the zlib level. Default 5, RocketMQ's.
	CompressLevel int
}

// DefaultProducerOptions returns the defaults.
func DefaultProducerOptions() ProducerOptions {
	return ProducerOptions{
		Group:                 "DEFAULT_PRODUCER",
		MaxAttempts:           3,
		MaxInFlight:           1024,
		CreateTopicKey:        "TBW102",
		DefaultTopicQueueNums: 4,
		MaxMessageSize:        4 << 20,
		CompressLevel:         5,
	}
}

func (o ProducerOptions) withDefaults() ProducerOptions {
	d := DefaultProducerOptions()
	if o.Group == "" {
		o.Group = d.Group
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.CreateTopicKey == "" {
		o.CreateTopicKey = d.CreateTopicKey
	}
	if o.DefaultTopicQueueNums == 0 {
		o.DefaultTopicQueueNums = d.DefaultTopicQueueNums
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = d.MaxMessageSize
	}
	if o.CompressLevel == 0 {
		o.CompressLevel = d.CompressLevel
	}
	return o
}

// Validate reports the first option out of range. Zero values are valid:
// they mean the default.
func (o ProducerOptions) Validate() error {
	switch {
	case o.Group != "" && validateGroup(o.Group) != nil:
		return validateGroup(o.Group)
	case o.MaxAttempts < 0:
		return fmt.Errorf("%w: MaxAttempts is negative", ErrInvalidOptions)
	case o.MaxInFlight < 0 || o.MaxInFlight > 1<<20:
		return fmt.Errorf("%w: MaxInFlight %d outside [1, %d]", ErrInvalidOptions, o.MaxInFlight, 1<<20)
	case o.CreateTopicKey != "" && validateTopic(o.CreateTopicKey) != nil:
		return fmt.Errorf("%w: CreateTopicKey: %w", ErrInvalidOptions, validateTopic(o.CreateTopicKey))
	case o.DefaultTopicQueueNums < 0 || o.DefaultTopicQueueNums > maxQueueNums:
		return fmt.Errorf("%w: DefaultTopicQueueNums %d outside [1, %d]", ErrInvalidOptions, o.DefaultTopicQueueNums, maxQueueNums)
	case o.MaxMessageSize < 0:
		return fmt.Errorf("%w: MaxMessageSize is negative", ErrInvalidOptions)
	case o.CompressThreshold < 0:
		return fmt.Errorf("%w: CompressThreshold is negative", ErrInvalidOptions)
	case o.CompressLevel < -1 || o.CompressLevel > 9:
		return fmt.Errorf("%w: CompressLevel %d outside [-1, 9]", ErrInvalidOptions, o.CompressLevel)
	}
	return nil
}

// QueueSelector chooses the queue of a message among the topic's
// writable queues, which are never empty and always in the same order for
// the same route. It must be safe for concurrent use and must not block.
type QueueSelector interface {
	Select(msg *Message, queues []MessageQueue) MessageQueue
}

// QueueSelectorFunc adapts a function to QueueSelector.
type QueueSelectorFunc func(msg *Message, queues []MessageQueue) MessageQueue

// Select calls f.
func (f QueueSelectorFunc) Select(msg *Message, queues []MessageQueue) MessageQueue {
	return f(msg, queues)
}

// HashSelector returns a selector that sends messages with the same
// ShardingKey to the same queue (while the topic's queues do not change),
// which keeps them in order: the queue is Java's String.hashCode of the
// key modulo the queue count, as Java's SelectMessageQueueByHash chooses,
// so Java and Go producers agree. Messages without a key go round-robin.
func HashSelector() QueueSelector { return &hashSelector{} }

type hashSelector struct{ next atomic.Uint32 }

func (s *hashSelector) Select(msg *Message, queues []MessageQueue) MessageQueue {
	if msg.ShardingKey == "" {
		return queues[s.next.Add(1)%uint32(len(queues))]
	}
	i := message.JavaHashCode(msg.ShardingKey) % int32(len(queues))
	if i < 0 {
		i = -i
	}
	return queues[i]
}
