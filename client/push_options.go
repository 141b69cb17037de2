package client

import (
	"context"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// ConsumeFrom says where a group without a stored offset starts
// consuming a queue.
type ConsumeFrom int

// Starting points (ConsumeFromWhere).
const (
	ConsumeFromLastOffset  ConsumeFrom = iota // new messages only (the broker may say 0 for a young queue)
	ConsumeFromFirstOffset                    // the oldest message still stored
	ConsumeFromTimestamp                      // the first message stored at or after ConsumeTimestamp
)

func (f ConsumeFrom) wire() string {
	switch f {
	case ConsumeFromFirstOffset:
		return protocol.ConsumeFromFirstOffset
	case ConsumeFromTimestamp:
		return protocol.ConsumeFromTimestamp
	}
	return protocol.ConsumeFromLastOffset
}

// MessageHandler consumes one pulled batch of one queue, in queue order.
// Returning nil acknowledges the batch; an error has the same batch
// delivered again after PushConsumerOptions.RetryBackoff. ctx is done when
// the queue is given to another member or the consumer closes: return
// promptly then (the batch will be delivered again, possibly elsewhere).
//
// Handlers of different queues run concurrently; the messages alias the
// pull response (see the package documentation).
type MessageHandler func(ctx context.Context, msgs []MessageExt) error

// PushConsumerOptions configure a PushConsumer. Zero fields take their
// defaults.
type PushConsumerOptions struct {
	// Group is the consumer group. Required.
	Group string
	// ConsumeFrom is where a queue without a stored offset starts.
	ConsumeFrom ConsumeFrom
	// ConsumeTimestamp is the start of ConsumeFromTimestamp. Default: half
	// an hour before Start, as in RocketMQ's clients.
	ConsumeTimestamp time.Time
	// PullBatchSize bounds the messages of one pull, hence of one handler
	// call. Default 32.
	PullBatchSize int
	// PollTimeout is how long a broker holds a pull that finds nothing
	// (long polling). Default 15 s, Java's brokerSuspendMaxTimeMillis.
	PollTimeout time.Duration
	// CommitInterval is how often consumed offsets are stored on the
	// brokers. Default 5 s.
	CommitInterval time.Duration
	// RebalanceInterval is how often queues are reassigned even when no
	// broker announced a change of members. Default 20 s.
	RebalanceInterval time.Duration
	// RetryBackoff is the wait before delivering a batch the handler
	// refused, and before pulling again after a failed pull. Default 1 s.
	RetryBackoff time.Duration
}

// DefaultPushConsumerOptions returns the defaults for group.
func DefaultPushConsumerOptions(group string) PushConsumerOptions {
	return PushConsumerOptions{
		Group:             group,
		PullBatchSize:     32,
		PollTimeout:       15 * time.Second,
		CommitInterval:    5 * time.Second,
		RebalanceInterval: 20 * time.Second,
		RetryBackoff:      time.Second,
	}
}

func (o PushConsumerOptions) withDefaults() PushConsumerOptions {
	d := DefaultPushConsumerOptions(o.Group)
	if o.PullBatchSize == 0 {
		o.PullBatchSize = d.PullBatchSize
	}
	if o.PollTimeout == 0 {
		o.PollTimeout = d.PollTimeout
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = d.CommitInterval
	}
	if o.RebalanceInterval == 0 {
		o.RebalanceInterval = d.RebalanceInterval
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = d.RetryBackoff
	}
	return o
}

// Validate reports the first option out of range.
func (o PushConsumerOptions) Validate() error {
	if err := validateGroup(o.Group); err != nil {
		return err
	}
	switch {
	case o.ConsumeFrom < ConsumeFromLastOffset || o.ConsumeFrom > ConsumeFromTimestamp:
		return fmt.Errorf("%w: ConsumeFrom %d", ErrInvalidOptions, o.ConsumeFrom)
	case o.PullBatchSize < 0 || o.PullBatchSize > 1024:
		return fmt.Errorf("%w: PullBatchSize %d outside [1, 1024]", ErrInvalidOptions, o.PullBatchSize)
	case o.PollTimeout < 0, o.CommitInterval < 0, o.RebalanceInterval < 0, o.RetryBackoff < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidOptions)
	}
	return nil
}
