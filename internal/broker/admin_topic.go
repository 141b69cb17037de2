package broker

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// adminTopics is what the topic admin codes need of the topic table.
type adminTopics interface {
	Get(topic string) (protocol.TopicConfig, bool)
	Snapshot() (map[string]protocol.TopicConfig, protocol.DataVersion)
	CreateOrUpdate(cfg protocol.TopicConfig) error
	Delete(topic string) error
	IsSystemTopic(topic string) bool
}

// topicStore is what the topic admin codes need of the store.
type topicStore interface {
	MaxOffsetInQueue(topic string, queueID int32) int64
	MinOffsetInQueue(topic string, queueID int32) int64
	MessageStoreTimestamp(topic string, queueID int32, offset int64) (int64, error)
	DeleteTopics(topics []string) int
}

// topicOffsetDropper forgets every group's offsets on a topic.
type topicOffsetDropper interface {
	DeleteTopic(topic string)
}

// adminTopicProcessor serves UPDATE_AND_CREATE_TOPIC (17),
// GET_ALL_TOPIC_CONFIG (21), GET_TOPIC_STATS_INFO (202) and
// DELETE_TOPIC_IN_BROKER (215). The topic table tells the NameServers of
// every change itself (its OnChange listener kicks the registrar).
type adminTopicProcessor struct {
	brokerName string
	topics     adminTopics
	store      topicStore
	offsets    topicOffsetDropper
	// pulls, when set, forgets the groups' pull progress on a deleted
	// topic.
	pulls interface{ deleteTopic(topic string) }
	bad   *rateLog
	// registrar, when set, is synced after a topic is created or updated,
	// for at most registerWait.
	registrar    registrationSyncer
	registerWait time.Duration
}

func (p *adminTopicProcessor) register(s *remoting.Server) {
	s.Register(protocol.UpdateAndCreateTopic, remoting.Spawn, remoting.ProcessorFunc(p.updateAndCreateTopic))
	s.Register(protocol.GetAllTopicConfig, remoting.Spawn, remoting.ProcessorFunc(p.getAllTopicConfig))
	s.Register(protocol.GetTopicStatsInfo, remoting.Spawn, remoting.ProcessorFunc(p.getTopicStatsInfo))
	s.Register(protocol.DeleteTopicInBroker, remoting.Spawn, remoting.ProcessorFunc(p.deleteTopic))
}

func (p *adminTopicProcessor) updateAndCreateTopic(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.CreateTopicRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if err := topic.ValidateTopic(h.Topic); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	if p.topics.IsSystemTopic(h.Topic) {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "The topic[%s] is conflict with system topic.", h.Topic)
	}
	cfg := protocol.TopicConfig{
		TopicName:       h.Topic,
		ReadQueueNums:   h.ReadQueueNums,
		WriteQueueNums:  h.WriteQueueNums,
		Perm:            h.Perm,
		TopicFilterType: h.TopicFilterType,
		Order:           h.Order,
	}
	if h.TopicSysFlag != nil {
		cfg.TopicSysFlag = *h.TopicSysFlag
	}
	if h.Attributes != "" {
		attrs, err := parseAttributes(h.Attributes)
		if err != nil {
			return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
		}
		cfg.Attributes = attrs
	}
	if err := p.topics.CreateOrUpdate(cfg); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	if p.registrar != nil {
		// As Java's registerIncrementBrokerData: routable when answered.
		ctx, cancel := context.WithTimeout(context.Background(), p.registerWait)
		_ = p.registrar.Sync(ctx)
		cancel()
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// errBadAttributes reports a malformed attributes header.
var errBadAttributes = errors.New("broker: malformed topic attributes")

// parseAttributes reads RocketMQ 5's "+key=value,+key2=value2" form (a
// leading '-' deletes a key, which for a create means nothing to set).
func parseAttributes(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		switch item[0] {
		case '+':
			k, v, ok := strings.Cut(item[1:], "=")
			if !ok || k == "" {
				return nil, errBadAttributes
			}
			out[k] = v
		case '-':
			if len(item) == 1 {
				return nil, errBadAttributes
			}
			delete(out, item[1:])
		default:
			return nil, errBadAttributes
		}
	}
	return out, nil
}

func (p *adminTopicProcessor) getAllTopicConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	table, version := p.topics.Snapshot()
	body, err := protocol.EncodeBody(&protocol.TopicConfigSerializeWrapper{TopicConfigTable: table, DataVersion: version})
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

// getTopicStatsInfo answers each write queue's min and max offsets and the
// store time of its last message.
func (p *adminTopicProcessor) getTopicStatsInfo(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	cfg, ok := p.topics.Get(h.Topic)
	if !ok {
		return nil, p.bad.refuse(c, req, protocol.TopicNotExist, "topic[%s] not exist", clip(h.Topic))
	}
	stats := protocol.TopicStatsTable{OffsetTable: protocol.MQMap[protocol.TopicOffset]{}}
	for i := range cfg.WriteQueueNums {
		o := protocol.TopicOffset{
			MinOffset: max(p.store.MinOffsetInQueue(h.Topic, i), 0),
			MaxOffset: max(p.store.MaxOffsetInQueue(h.Topic, i), 0),
		}
		if o.MaxOffset > 0 {
			if ts, err := p.store.MessageStoreTimestamp(h.Topic, i, o.MaxOffset-1); err == nil {
				o.LastUpdateTimestamp = ts
			}
		}
		stats.OffsetTable[protocol.MessageQueue{Topic: h.Topic, BrokerName: p.brokerName, QueueID: i}] = o
	}
	body, err := protocol.EncodeBody(&stats)
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

// deleteTopic removes the topic, its consume queues (the records stay in
// the commit log until retention) and every group's offsets on it. A topic
// that does not exist is deleted successfully, as in Java.
func (p *adminTopicProcessor) deleteTopic(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if strings.TrimSpace(h.Topic) == "" {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "The specified topic is blank.")
	}
	if p.topics.IsSystemTopic(h.Topic) {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "The topic[%s] is conflict with system topic.", clip(h.Topic))
	}
	if err := p.topics.Delete(h.Topic); err != nil && !errors.Is(err, topic.ErrNotFound) {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	p.offsets.DeleteTopic(h.Topic)
	if p.pulls != nil {
		p.pulls.deleteTopic(h.Topic)
	}
	p.store.DeleteTopics([]string{h.Topic})
	return remoting.NewResponse(req, protocol.Success, ""), nil
}
