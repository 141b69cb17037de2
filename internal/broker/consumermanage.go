package broker

import (
	"context"
	"log/slog"

	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// offsetTable is what the offset processors need of the offset manager.
type offsetTable interface {
	Query(group, topic string, queueID int32) (int64, bool)
	offsetCommitter
}

// queueIndex is what the offset processors need of the store.
type queueIndex interface {
	messageGetter
	MaxOffsetInQueue(topic string, queueID int32) int64
	MinOffsetInQueue(topic string, queueID int32) int64
	OffsetInQueueByTime(topic string, queueID int32, ts int64) int64
	EarliestMessageTime(topic string, queueID int32) (int64, error)
}

// consumerManageProcessor serves the consumer-offset codes and the queue
// position codes clients use to pick where a new group starts:
// QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
// SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31)
// and GET_EARLIEST_MSG_STORETIME (32). None blocks; they run inline.
type consumerManageProcessor struct {
	topics  pullTopics
	groups  groupConfigs
	offsets offsetTable
	store   queueIndex
	slave   bool
	bad     *rateLog
}

func (p *consumerManageProcessor) register(s *remoting.Server) {
	s.Register(protocol.QueryConsumerOffset, remoting.Inline, remoting.ProcessorFunc(p.queryConsumerOffset))
	s.Register(protocol.UpdateConsumerOffset, remoting.Inline, remoting.ProcessorFunc(p.updateConsumerOffset))
	s.Register(protocol.SearchOffsetByTimestamp, remoting.Inline, remoting.ProcessorFunc(p.searchOffsetByTimestamp))
	s.Register(protocol.GetMaxOffset, remoting.Inline, remoting.ProcessorFunc(p.getMaxOffset))
	s.Register(protocol.GetMinOffset, remoting.Inline, remoting.ProcessorFunc(p.getMinOffset))
	s.Register(protocol.GetEarliestMsgStoreTime, remoting.Inline, remoting.ProcessorFunc(p.getEarliestMsgStoreTime))
}

func offsetResponse(req *remoting.Command, offset int64) *remoting.Command {
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.OffsetResponseHeader{Offset: offset})
	return resp
}

// queryConsumerOffset answers a group's committed offset. Without one it
// answers 0 for a young queue, as RocketMQ does: when the queue's first
// message is still at offset 0 and recent enough to be served from memory,
// a brand-new group starts from the beginning even under
// CONSUME_FROM_LAST_OFFSET; otherwise QUERY_NOT_FOUND lets the client's
// ConsumeFromWhere decide. "Recent enough" is Java 4.x's measure (the
// message is within accessMessageInMemoryMaxRatio of RAM from the end of
// the commit log); an empty queue answers QUERY_NOT_FOUND, as Java 5 does.
func (p *consumerManageProcessor) queryConsumerOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.QueryConsumerOffsetRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if off, ok := p.offsets.Query(h.ConsumerGroup, h.Topic, h.QueueID); ok && off >= 0 {
		return offsetResponse(req, off), nil
	}
	if h.SetZeroIfNotFound != nil && !*h.SetZeroIfNotFound {
		return remoting.NewResponse(req, protocol.QueryNotFound, "Not found, do not set to zero, maybe this group boot first"), nil
	}
	if p.store.MinOffsetInQueue(h.Topic, h.QueueID) <= 0 && p.firstMessageInMemory(ctx, h.ConsumerGroup, h.Topic, h.QueueID) {
		return offsetResponse(req, 0), nil
	}
	return remoting.NewResponse(req, protocol.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"), nil
}

// firstMessageInMemory reports whether the queue's message at offset 0
// exists and is not far behind the end of the commit log.
func (p *consumerManageProcessor) firstMessageInMemory(ctx context.Context, group, topic string, queueID int32) bool {
	res, err := p.store.GetMessage(ctx, group, topic, queueID, 0, 1, 0, nil)
	if err != nil {
		return false
	}
	defer res.Release()
	return res.Status == store.GetFound && !res.SuggestPullingFromSlave
}

// offsetUnknown is the offset a client commits for a queue whose offset it
// does not know.
const offsetUnknown = -1

// updateConsumerOffset commits an offset. The Go client sends it as a
// "oneway" call without the oneway bit and drops the answer; it is
// answered anyway. As Java 5 does, the group and the topic must exist, so
// that a client cannot fill the offset file with names nobody uses. An
// offset of -1 is answered SUCCESS and stores nothing; other negative
// offsets are refused.
func (p *consumerManageProcessor) updateConsumerOffset(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UpdateConsumerOffsetRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if p.slave {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "the broker is a slave; commit offsets to its master")
	}
	if h.CommitOffset == offsetUnknown {
		// The Go client, shutting down, persists every queue it had, and
		// sends -1 for those it never learned an offset for. Java stores
		// it (a later query treats a negative offset as none); keeping
		// what is stored instead is the same to every reader.
		p.bad.Log(slog.LevelDebug, "offset -1 committed: nothing stored", "conn", c.RemoteAddr(),
			"group", clip(h.ConsumerGroup), "topic", clip(h.Topic), "queueId", h.QueueID)
		return remoting.NewResponse(req, protocol.Success, ""), nil
	}
	if err := subscription.ValidateGroup(h.ConsumerGroup); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "%v", err)
	}
	if _, ok := p.groups.FindOrCreate(h.ConsumerGroup); !ok {
		return nil, p.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "Group %s not exist!", h.ConsumerGroup)
	}
	if err := topic.ValidateTopic(h.Topic); err != nil {
		return nil, p.bad.refuse(c, req, protocol.TopicNotExist, "%v", err)
	}
	cfg, ok := p.topics.Get(h.Topic)
	if !ok {
		return nil, p.bad.refuse(c, req, protocol.TopicNotExist, "Topic %s not exist!", h.Topic)
	}
	if h.QueueID < 0 || h.QueueID >= max(cfg.ReadQueueNums, cfg.WriteQueueNums) {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "queueId[%d] is illegal, topic %s", h.QueueID, h.Topic)
	}
	if h.CommitOffset < 0 {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "commitOffset %d is negative", h.CommitOffset)
	}
	p.offsets.Commit(c.RemoteAddr(), h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

func (p *consumerManageProcessor) getMaxOffset(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetMaxOffsetRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	return offsetResponse(req, p.store.MaxOffsetInQueue(h.Topic, h.QueueID)), nil
}

// getMinOffset answers 0 for a queue that does not exist, as Java does
// (it creates the queue on lookup).
func (p *consumerManageProcessor) getMinOffset(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicQueueRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	return offsetResponse(req, max(p.store.MinOffsetInQueue(h.Topic, h.QueueID), 0)), nil
}

func (p *consumerManageProcessor) searchOffsetByTimestamp(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.SearchOffsetRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	return offsetResponse(req, p.store.OffsetInQueueByTime(h.Topic, h.QueueID, h.Timestamp)), nil
}

// getEarliestMsgStoreTime answers -1 when the queue has no message.
func (p *consumerManageProcessor) getEarliestMsgStoreTime(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicQueueRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	ts, err := p.store.EarliestMessageTime(h.Topic, h.QueueID)
	if err != nil {
		ts = -1
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.GetEarliestMsgStoretimeResponseHeader{Timestamp: ts})
	return resp, nil
}
