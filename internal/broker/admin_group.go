package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// groupTable is what the group admin codes need of the subscription group
// table.
type groupTable interface {
	groupConfigs
	CreateOrUpdate(cfg protocol.SubscriptionGroupConfig) error
	Delete(group string) error
	Wrapper() protocol.SubscriptionGroupWrapper
}

// groupOffsets is what the group admin codes need of the offset table.
type groupOffsets interface {
	Query(group, topic string, queueID int32) (int64, bool)
	All() map[string]map[int32]int64
	TopicsOfGroup(group string) []string
	GroupsOfTopic(topic string) []string
	DeleteGroup(group string)
}

// consumerConnections is what the group admin codes need of the consumer
// registry.
type consumerConnections interface {
	Connections(group string) (protocol.ConsumerConnection, bool)
	// GroupsSubscribing returns the online groups subscribed to topic.
	GroupsSubscribing(topic string) []string
	subscriptions
	// SubscriptionCount returns how many topics a group subscribes to.
	SubscriptionCount(group string) int
}

// producerConnections is what the group admin codes need of the producer
// registry.
type producerConnections interface {
	Connections(group string) (protocol.ProducerConnection, bool)
}

// consumeStatsStore is what GET_CONSUME_STATS needs of the store.
type consumeStatsStore interface {
	MaxOffsetInQueue(topic string, queueID int32) int64
	MessageStoreTimestamp(topic string, queueID int32, offset int64) (int64, error)
}

// pullProgress is what GET_CONSUME_STATS reports of the groups' pulls
// (pullStats).
type pullProgress interface {
	// pulledOffset is the next offset group pulls from the queue, 0 if
	// none.
	pulledOffset(group, topic string, queueID int32) int64
	// tps is the messages per second group got from topic over the last
	// minute.
	tps(group, topic string, now time.Time) float64
	deleteGroup(group string)
}

// adminGroupProcessor serves the consumer and producer group admin codes:
// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), GET_CONSUMER_CONNECTION_LIST (203),
// GET_PRODUCER_CONNECTION_LIST (204), DELETE_SUBSCRIPTIONGROUP (207),
// GET_CONSUME_STATS (208), QUERY_TOPIC_CONSUME_BY_WHO (300) and
// GET_ALL_CONSUMER_OFFSET (43).
type adminGroupProcessor struct {
	brokerName string
	groups     groupTable
	topics     pullTopics
	offsets    groupOffsets
	consumers  consumerConnections
	producers  producerConnections
	store      consumeStatsStore
	pulls      pullProgress
	now        func() time.Time
	bad        *rateLog
}

func (p *adminGroupProcessor) register(s *remoting.Server) {
	for code, fn := range map[protocol.RequestCode]remoting.ProcessorFunc{
		protocol.UpdateAndCreateSubscriptionGroup: p.updateAndCreateSubscriptionGroup,
		protocol.GetAllSubscriptionGroupConfig:    p.getAllSubscriptionGroupConfig,
		protocol.GetConsumerConnectionList:        p.getConsumerConnectionList,
		protocol.GetProducerConnectionList:        p.getProducerConnectionList,
		protocol.DeleteSubscriptionGroup:          p.deleteSubscriptionGroup,
		protocol.GetConsumeStats:                  p.getConsumeStats,
		protocol.QueryTopicConsumeByWho:           p.queryTopicConsumeByWho,
		protocol.GetAllConsumerOffset:             p.getAllConsumerOffset,
	} {
		s.Register(code, remoting.Spawn, fn)
	}
}

// bodyResponse answers SUCCESS with v as its JSON body.
func bodyResponse(req *remoting.Command, v any) (*remoting.Command, error) {
	body, err := protocol.EncodeBody(v)
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

func (p *adminGroupProcessor) updateAndCreateSubscriptionGroup(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	cfg := protocol.DefaultSubscriptionGroupConfig("")
	if err := p.bad.decodeBody(c, req, &cfg); err != nil {
		return nil, err
	}
	if err := subscription.ValidateGroup(cfg.GroupName); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	if err := p.groups.CreateOrUpdate(cfg); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// getAllSubscriptionGroupConfig answers standard JSON: the Go admin client
// reads it with encoding/json.
func (p *adminGroupProcessor) getAllSubscriptionGroupConfig(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	w := p.groups.Wrapper()
	return bodyResponse(req, &w)
}

func (p *adminGroupProcessor) deleteSubscriptionGroup(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.DeleteSubscriptionGroupRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if err := p.groups.Delete(h.GroupName); err != nil && !errors.Is(err, subscription.ErrNotFound) {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	if h.CleanOffset {
		p.offsets.DeleteGroup(h.GroupName)
		p.pulls.deleteGroup(h.GroupName)
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

func (p *adminGroupProcessor) getConsumerConnectionList(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	cc, ok := p.consumers.Connections(h.ConsumerGroup)
	if !ok {
		return remoting.NewResponse(req, protocol.ConsumerNotOnline, "the consumer group["+clip(h.ConsumerGroup)+"] not online"), nil
	}
	return bodyResponse(req, &cc)
}

func (p *adminGroupProcessor) getProducerConnectionList(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetProducerConnectionListRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	pc, ok := p.producers.Connections(h.ProducerGroup)
	if !ok {
		return remoting.NewResponse(req, protocol.SystemError, "the producer group["+clip(h.ProducerGroup)+"] not exist"), nil
	}
	return bodyResponse(req, &pc)
}

// getConsumeStats answers a group's progress on each queue of one topic or
// of every topic it has offsets on: the broker's max offset, the group's
// committed offset, the offset it has pulled to (never below the
// committed one, as in Java: 5.x mqadmin shows the difference as
// in-flight messages) and the store time of the last message it consumed;
// and consumeTps, the messages per second the group got from those topics
// over the last minute. Topics the group no longer subscribes to (while it
// subscribes to others) are left out, as in Java.
func (p *adminGroupProcessor) getConsumeStats(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetConsumeStatsRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	topics := []string{h.Topic}
	if h.Topic == "" {
		topics = p.offsets.TopicsOfGroup(h.ConsumerGroup)
	}
	stats := protocol.ConsumeStats{OffsetTable: protocol.MQMap[protocol.OffsetWrapper]{}}
	subscribed := p.consumers.SubscriptionCount(h.ConsumerGroup)
	now := p.now()
	for _, t := range topics {
		cfg, ok := p.topics.Get(t)
		if !ok {
			continue
		}
		if _, ok := p.consumers.Subscription(h.ConsumerGroup, t); !ok && subscribed > 0 {
			continue
		}
		for q := range cfg.ReadQueueNums {
			w := protocol.OffsetWrapper{BrokerOffset: max(p.store.MaxOffsetInQueue(t, q), 0)}
			if off, ok := p.offsets.Query(h.ConsumerGroup, t, q); ok && off > 0 {
				w.ConsumerOffset = off
				if ts, err := p.store.MessageStoreTimestamp(t, q, off-1); err == nil && ts > 0 {
					w.LastTimestamp = ts
				}
			}
			w.PullOffset = max(w.ConsumerOffset, p.pulls.pulledOffset(h.ConsumerGroup, t, q))
			stats.OffsetTable[protocol.MessageQueue{Topic: t, BrokerName: p.brokerName, QueueID: q}] = w
		}
		stats.ConsumeTPS += p.pulls.tps(h.ConsumerGroup, t, now)
	}
	return bodyResponse(req, &stats)
}

// queryTopicConsumeByWho answers the groups that consume a topic: those
// online and subscribed, and those with offsets on it.
func (p *adminGroupProcessor) queryTopicConsumeByWho(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	groups := append(p.consumers.GroupsSubscribing(h.Topic), p.offsets.GroupsOfTopic(h.Topic)...)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if groups == nil {
		groups = []string{}
	}
	return bodyResponse(req, &protocol.GroupList{GroupList: groups})
}

// getAllConsumerOffset answers the whole offset table (what a slave
// copies from its master).
func (p *adminGroupProcessor) getAllConsumerOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	return bodyResponse(req, &protocol.ConsumerOffsetSerializeWrapper{OffsetTable: p.offsets.All()})
}
