package client

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// PullStatus is the outcome of a pull.
type PullStatus int

// Pull statuses (PULL_NOT_FOUND, PULL_RETRY_IMMEDIATELY, PULL_OFFSET_MOVED
// map to the last three).
const (
	PullFound         PullStatus = iota // messages returned
	PullNoNewMsg                        // nothing at the offset yet
	PullNoMatchedMsg                    // messages there, none matching the filter
	PullOffsetIllegal                   // offset outside [MinOffset, MaxOffset]; restart at NextBeginOffset
)

func (s PullStatus) String() string {
	switch s {
	case PullFound:
		return "FOUND"
	case PullNoNewMsg:
		return "NO_NEW_MSG"
	case PullNoMatchedMsg:
		return "NO_MATCHED_MSG"
	case PullOffsetIllegal:
		return "OFFSET_ILLEGAL"
	}
	return "PullStatus(" + strconv.Itoa(int(s)) + ")"
}

// PullRequest asks for messages of one queue.
type PullRequest struct {
	Queue  MessageQueue
	Offset int64
	// MaxNums bounds the messages returned. Default 32. The broker has
	// its own bounds (32 messages or 256 KiB from memory by default).
	MaxNums int
	// Filter selects messages by tag or SQL92. Default: all.
	Filter Filter
	// Suspend lets the broker hold the request up to this long when no
	// message is available, answering as soon as one arrives (long
	// polling). 0 answers at once. The request's deadline is extended by
	// this much when ctx has none.
	Suspend time.Duration
	// CommitOffset, when positive, is stored by the broker as the group's
	// offset of the queue on the way (the commit-offset flag), saving an
	// UPDATE_CONSUMER_OFFSET.
	CommitOffset int64
}

// PullResult is what a pull returned.
type PullResult struct {
	Status PullStatus
	// NextBeginOffset is where the next pull of the queue starts.
	NextBeginOffset int64
	// MinOffset and MaxOffset bound the queue's offsets at the broker.
	MinOffset, MaxOffset int64
	// SuggestWhichBrokerID is the broker id the broker suggests pulling
	// from next (0 is the master).
	SuggestWhichBrokerID int64
	// Messages, in queue order, alias one response buffer; see the
	// package documentation.
	Messages []MessageExt
}

// PullConsumerOptions configure a PullConsumer.
type PullConsumerOptions struct {
	// Group is the consumer group whose offsets QueryOffset and
	// UpdateOffset read and write. Required.
	Group string
}

// Validate reports a missing or malformed group.
func (o PullConsumerOptions) Validate() error { return validateGroup(o.Group) }

// PullConsumer pulls messages from queues the caller chooses, at offsets
// the caller keeps (or stores on the broker with UpdateOffset). It is safe
// for concurrent use and owns no goroutines.
type PullConsumer struct {
	c          *Client
	group      string
	subVersion int64
	closeOnce  sync.Once
}

// NewPullConsumer returns a pull consumer of opts.Group on c. The group is
// announced in heartbeats as a CONSUME_ACTIVELY consumer without
// subscriptions: each pull carries its own filter.
func NewPullConsumer(c *Client, opts PullConsumerOptions) (*PullConsumer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	c.registerPullGroup(opts.Group)
	return &PullConsumer{c: c, group: opts.Group, subVersion: time.Now().UnixMilli()}, nil
}

// Group returns the consumer group.
func (pc *PullConsumer) Group() string { return pc.group }

// Close stops announcing the group. Idempotent.
func (pc *PullConsumer) Close() error {
	pc.closeOnce.Do(func() { pc.c.unregisterPullGroup(pc.group) })
	return nil
}

// Queues returns topic's readable queues, sorted.
func (pc *PullConsumer) Queues(ctx context.Context, topic string) ([]MessageQueue, error) {
	return pc.c.subscribeQueues(ctx, topic)
}

// Pull fetches messages of req.Queue from req.Offset. A status other than
// PullFound is not an error; a broker refusal is a *BrokerError.
func (pc *PullConsumer) Pull(ctx context.Context, req PullRequest) (PullResult, error) {
	return pc.c.pull(ctx, pc.group, pc.subVersion, req)
}

// QueryOffset returns the group's stored offset of mq. ErrOffsetNotFound
// (errors.Is) means the broker has none.
func (pc *PullConsumer) QueryOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return pc.c.queryOffset(ctx, pc.group, mq)
}

// UpdateOffset stores offset as the group's offset of mq on its broker.
func (pc *PullConsumer) UpdateOffset(ctx context.Context, mq MessageQueue, offset int64) error {
	return pc.c.updateOffset(ctx, pc.group, mq, offset)
}

// MaxOffset returns the offset the next message of mq will get.
func (pc *PullConsumer) MaxOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return pc.c.maxOffset(ctx, mq)
}

// MinOffset returns the offset of the oldest message of mq still stored.
func (pc *PullConsumer) MinOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return pc.c.minOffset(ctx, mq)
}

// SearchOffset returns the offset of the first message of mq stored at or
// after t.
func (pc *PullConsumer) SearchOffset(ctx context.Context, mq MessageQueue, t time.Time) (int64, error) {
	return pc.c.queueOffsetAt(ctx, mq, t)
}

func (c *Client) maxOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return c.queueOffset(ctx, protocol.GetMaxOffset, mq, &protocol.GetMaxOffsetRequestHeader{Topic: mq.Topic, QueueID: int32(mq.QueueID)})
}

func (c *Client) minOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	return c.queueOffset(ctx, protocol.GetMinOffset, mq, &protocol.TopicQueueRequestHeader{Topic: mq.Topic, QueueID: int32(mq.QueueID)})
}

func (c *Client) queueOffsetAt(ctx context.Context, mq MessageQueue, t time.Time) (int64, error) {
	return c.queueOffset(ctx, protocol.SearchOffsetByTimestamp, mq,
		&protocol.SearchOffsetRequestHeader{Topic: mq.Topic, QueueID: int32(mq.QueueID), Timestamp: t.UnixMilli()})
}

// subscribeQueues returns topic's readable queues.
func (c *Client) subscribeQueues(ctx context.Context, topic string) ([]MessageQueue, error) {
	r, err := c.route(ctx, time.Time{}, topic, "", 0)
	if err != nil {
		return nil, err
	}
	if len(r.sub) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no readable queue", ErrNoQueue, topic)
	}
	return r.sub, nil
}

// queueAddr returns the address of mq's broker: its master, or with
// anyMember any member when there is no master. An unknown broker makes it
// fetch mq.Topic's route once, waiting at most until deadline (zero: only
// ctx bounds it).
func (c *Client) queueAddr(ctx context.Context, deadline time.Time, mq MessageQueue, anyMember bool) (string, error) {
	lookup := func() string {
		if anyMember {
			return c.routes.anyAddr(mq.BrokerName)
		}
		return c.routes.brokerAddr(mq.BrokerName, protocol.MasterID)
	}
	if a := lookup(); a != "" {
		return a, nil
	}
	if _, err := c.route(ctx, deadline, mq.Topic, "", 0); err != nil {
		return "", err
	}
	if a := lookup(); a != "" {
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBrokerNotFound, mq.BrokerName)
}

func (c *Client) pull(ctx context.Context, group string, subVersion int64, req PullRequest) (PullResult, error) {
	if c.isClosed() {
		return PullResult{}, ErrClosed
	}
	if err := req.Filter.validate(); err != nil {
		return PullResult{}, err
	}
	if req.Offset < 0 {
		return PullResult{}, fmt.Errorf("%w: negative offset %d", ErrInvalidOptions, req.Offset)
	}
	if req.Suspend < 0 {
		return PullResult{}, fmt.Errorf("%w: negative suspend", ErrInvalidOptions)
	}
	until := deadline(ctx, c.opts.RequestTimeout+req.Suspend)
	addr, err := c.queueAddr(ctx, until, req.Queue, true)
	if err != nil {
		return PullResult{}, err
	}
	maxNums := req.MaxNums
	if maxNums <= 0 {
		maxNums = 32
	}
	h := protocol.PullMessageRequestHeader{
		ConsumerGroup:        group,
		Topic:                req.Queue.Topic,
		QueueID:              int32(req.Queue.QueueID),
		QueueOffset:          req.Offset,
		MaxMsgNums:           int32(min(maxNums, 1<<20)),
		SysFlag:              protocol.PullFlagSubscription,
		SuspendTimeoutMillis: req.Suspend.Milliseconds(),
		Subscription:         req.Filter.expression(),
		SubVersion:           subVersion,
		ExpressionType:       string(req.Filter.typ()),
	}
	if req.Suspend > 0 {
		h.SysFlag |= protocol.PullFlagSuspend
	}
	if req.CommitOffset > 0 {
		h.SysFlag |= protocol.PullFlagCommitOffset
		h.CommitOffset = req.CommitOffset
	}
	resp, err := c.invokeUntil(ctx, addr, remoting.NewRequest(protocol.PullMessage, h.AppendExt(make(protocol.ExtFields, 0, 11)), nil), until)
	if err != nil {
		return PullResult{}, fmt.Errorf("client: pull %s from %s: %w", req.Queue, addr, err)
	}
	var res PullResult
	switch protocol.ResponseCode(resp.Code) {
	case protocol.Success:
		res.Status = PullFound
	case protocol.PullNotFound:
		res.Status = PullNoNewMsg
	case protocol.PullRetryImmediately:
		res.Status = PullNoMatchedMsg
	case protocol.PullOffsetMoved:
		res.Status = PullOffsetIllegal
	default:
		return PullResult{}, fmt.Errorf("client: pull %s: %w", req.Queue, brokerError(addr, resp.Code, resp.Remark))
	}
	var rh protocol.PullMessageResponseHeader
	if err := rh.DecodeExt(resp.ExtFields); err != nil {
		return PullResult{}, fmt.Errorf("%w: pull response from %s: %w", ErrBadResponse, addr, err)
	}
	res.NextBeginOffset, res.MinOffset, res.MaxOffset = rh.NextBeginOffset, rh.MinOffset, rh.MaxOffset
	res.SuggestWhichBrokerID = rh.SuggestWhichBrokerID
	if res.Status == PullFound {
		if res.Messages, err = decodeMessages(resp.Body, req.Queue, req.Filter.tagSet()); err != nil {
			return PullResult{}, fmt.Errorf("client: pull %s from %s: %w", req.Queue, addr, err)
		}
		if len(res.Messages) == 0 {
			res.Status = PullNoMatchedMsg
		}
	}
	return res, nil
}

func (c *Client) queryOffset(ctx context.Context, group string, mq MessageQueue) (int64, error) {
	return c.queueOffset(ctx, protocol.QueryConsumerOffset, mq, &protocol.QueryConsumerOffsetRequestHeader{
		ConsumerGroup: group, Topic: mq.Topic, QueueID: int32(mq.QueueID),
	})
}

func (c *Client) updateOffset(ctx context.Context, group string, mq MessageQueue, offset int64) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	addr, err := c.queueAddr(ctx, time.Time{}, mq, false)
	if err != nil {
		return err
	}
	ext := protocol.EncodeHeader(nil, &protocol.UpdateConsumerOffsetRequestHeader{
		ConsumerGroup: group, Topic: mq.Topic, QueueID: int32(mq.QueueID), CommitOffset: offset,
	})
	if _, err := c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.UpdateConsumerOffset, ext, nil)); err != nil {
		return fmt.Errorf("client: update offset of %s: %w", mq, err)
	}
	return nil
}

// queueOffset sends one of the requests answered by an offset header to
// mq's master.
func (c *Client) queueOffset(ctx context.Context, code protocol.RequestCode, mq MessageQueue, header any) (int64, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	addr, err := c.queueAddr(ctx, time.Time{}, mq, false)
	if err != nil {
		return 0, err
	}
	resp, err := c.invokeBrokerOK(ctx, addr, remoting.NewRequest(code, protocol.EncodeHeader(nil, header), nil))
	if err != nil {
		return 0, fmt.Errorf("client: %s of %s: %w", code, mq, err)
	}
	var h protocol.OffsetResponseHeader
	if err := protocol.DecodeHeader(resp.ExtFields, &h); err != nil {
		return 0, fmt.Errorf("%w: %s from %s: %w", ErrBadResponse, code, addr, err)
	}
	return h.Offset, nil
}
