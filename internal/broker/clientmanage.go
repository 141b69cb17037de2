package broker

import (
	"context"
	"log/slog"
	"time"

	"github.com/gorocket/gorocket/internal/broker/clients"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// consumerRegistry is what client management needs of the consumer
// registry. Membership changes reach the notifier through the registry's
// group events, not through these calls.
type consumerRegistry interface {
	Register(group string, ch clients.Channel, clientID string, info clients.ConsumerInfo, now time.Time) (membersChanged, subsChanged bool)
	Unregister(group string, ch clients.Channel)
	ClientIDs(group string) []string
}

// producerRegistry is what client management needs of the producer
// registry.
type producerRegistry interface {
	Register(group string, ch clients.Channel, clientID string, info clients.ProducerInfo, now time.Time)
	Unregister(group string, ch clients.Channel)
}

// retryTopicCreator creates a group's %RETRY% topic.
type retryTopicCreator interface {
	Get(topic string) (protocol.TopicConfig, bool)
	CreateInSendMessageBack(topic string, queueNums, perm, topicSysFlag int32) (protocol.TopicConfig, error)
}

// clientManageProcessor serves HEART_BEAT (34), UNREGISTER_CLIENT (35) and
// GET_CONSUMER_LIST_BY_GROUP (38), as Java's ClientManageProcessor and
// ConsumerManageProcessor do.
type clientManageProcessor struct {
	consumers consumerRegistry
	producers producerRegistry
	groups    groupConfigs
	topics    retryTopicCreator
	filters   *filter.Cache
	now       func() time.Time
	// enablePropertyFilter allows SQL92 subscriptions.
	enablePropertyFilter bool
	// registrar, when set, is synced after a heartbeat creates a retry
	// topic, for at most registerWait.
	registrar    registrationSyncer
	registerWait time.Duration
	bad          *rateLog
}

func (p *clientManageProcessor) register(s *remoting.Server) {
	s.Register(protocol.HeartBeat, remoting.Spawn, remoting.ProcessorFunc(p.heartBeat))
	s.Register(protocol.UnregisterClient, remoting.Spawn, remoting.ProcessorFunc(p.unregisterClient))
	s.Register(protocol.GetConsumerListByGroup, remoting.Inline, remoting.ProcessorFunc(p.getConsumerListByGroup))
	s.Register(protocol.CheckClientConfig, remoting.Spawn, remoting.ProcessorFunc(p.checkClientConfig))
}

// heartBeat registers the client's producer and consumer groups. For each
// consumer group it finds or creates the subscription group and, for a
// clustering consumer, the group's %RETRY% topic (so the NameServers learn
// the retry route at once); SQL92 subscriptions are compiled here, once,
// and a pull with one that does not compile is answered with the parser's
// message. A heartbeat naming an invalid group or topic is refused whole.
func (p *clientManageProcessor) heartBeat(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var hb protocol.HeartbeatData
	if err := p.bad.decodeBody(c, req, &hb); err != nil {
		return nil, err
	}
	if hb.ClientID == "" {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "heartbeat without clientID")
	}
	for i := range hb.ConsumerDataSet {
		cd := &hb.ConsumerDataSet[i]
		if err := subscription.ValidateGroup(cd.GroupName); err != nil {
			return nil, p.bad.refuse(c, req, protocol.SystemError, "consumer group: %v", err)
		}
		for j := range cd.SubscriptionDataSet {
			if err := topic.ValidateTopic(cd.SubscriptionDataSet[j].Topic); err != nil {
				return nil, p.bad.refuse(c, req, protocol.SystemError, "consumer group %s subscribes to an invalid topic: %v", cd.GroupName, err)
			}
		}
	}
	for _, pd := range hb.ProducerDataSet {
		if pd.GroupName == "" {
			return nil, p.bad.refuse(c, req, protocol.SystemError, "producer group name is empty")
		}
	}

	now := p.now()
	created := false
	for i := range hb.ConsumerDataSet {
		cd := &hb.ConsumerDataSet[i]
		if g, ok := p.groups.FindOrCreate(cd.GroupName); ok && cd.MessageModel != protocol.Broadcasting {
			created = p.createRetryTopic(c, cd, g) || created
		}
		for j := range cd.SubscriptionDataSet {
			sd := &cd.SubscriptionDataSet[j]
			if !isTagType(sd.ExpressionType) {
				// Compile once now; pulls find it in the cache. A failure
				// is remembered too and answered on every pull.
				if _, err := p.filters.Compile(sd.SubString); err != nil {
					p.bad.Log(slog.LevelWarn, "consumer subscribes with an invalid SQL92 expression",
						"conn", c.RemoteAddr(), "group", cd.GroupName, "topic", sd.Topic, "err", err)
				}
			}
		}
		p.consumers.Register(cd.GroupName, c, hb.ClientID, clients.ConsumerInfo{
			ConsumeType: cd.ConsumeType, MessageModel: cd.MessageModel, ConsumeFromWhere: cd.ConsumeFromWhere,
			Subscriptions: cd.SubscriptionDataSet, Language: req.Language, Version: req.Version,
		}, now)
	}
	for _, pd := range hb.ProducerDataSet {
		p.producers.Register(pd.GroupName, c, hb.ClientID, clients.ProducerInfo{Language: req.Language, Version: req.Version}, now)
	}
	if created && p.registrar != nil {
		// As Java does: the client finds the retry topic's route once its
		// heartbeat is answered.
		ctx, cancel := context.WithTimeout(context.Background(), p.registerWait)
		_ = p.registrar.Sync(ctx)
		cancel()
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// createRetryTopic creates the group's retry topic if it does not exist
// yet and reports whether it did.
func (p *clientManageProcessor) createRetryTopic(c *remoting.Conn, cd *protocol.ConsumerData, g protocol.SubscriptionGroupConfig) bool {
	retry := topic.RetryTopic(cd.GroupName)
	if _, ok := p.topics.Get(retry); ok {
		return false
	}
	var sysFlag int32
	if cd.UnitMode {
		sysFlag = protocol.TopicSysFlagUnitSub
	}
	queues := g.RetryQueueNums
	if queues <= 0 {
		queues = 1
	}
	if _, err := p.topics.CreateInSendMessageBack(retry, queues, protocol.PermRead|protocol.PermWrite, sysFlag); err != nil {
		p.bad.Log(slog.LevelError, "cannot create the retry topic", "conn", c.RemoteAddr(), "group", cd.GroupName, "err", err)
		return false
	}
	return true
}

// unregisterClient forgets a client's producer and consumer group (Java
// clients send it on shutdown; the Go client never does).
func (p *clientManageProcessor) unregisterClient(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UnregisterClientRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if h.ProducerGroup != "" {
		p.producers.Unregister(h.ProducerGroup, c)
	}
	if h.ConsumerGroup != "" {
		p.consumers.Unregister(h.ConsumerGroup, c)
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// getConsumerListByGroup answers the client ids of a group's members;
// clients sort them and split the queues among themselves.
func (p *clientManageProcessor) getConsumerListByGroup(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	ids := p.consumers.ClientIDs(h.ConsumerGroup)
	if len(ids) == 0 {
		return remoting.NewResponse(req, protocol.SystemError, "no consumer for this group, "+clip(h.ConsumerGroup)), nil
	}
	body, err := protocol.EncodeBody(&protocol.ConsumerListByGroup{ConsumerIDList: ids})
	if err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

// checkClientRequestBody is the body of CHECK_CLIENT_CONFIG
// (CheckClientRequestBody).
type checkClientRequestBody struct {
	ClientID         string                     `json:"clientId"`
	Group            string                     `json:"group"`
	SubscriptionData *protocol.SubscriptionData `json:"subscriptionData"`
}

// checkClientConfig is what Java clients ask when they subscribe with an
// expression: an expression the broker cannot evaluate is refused then,
// before any pull (SUBSCRIPTION_PARSE_FAILED with the parser's message).
// The Go client does not ask; its pulls get the same answer.
func (p *clientManageProcessor) checkClientConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var body checkClientRequestBody
	if err := p.bad.decodeBody(c, req, &body); err != nil {
		return nil, err
	}
	sd := body.SubscriptionData
	if sd != nil && !isTagType(sd.ExpressionType) {
		if !p.enablePropertyFilter {
			return nil, p.bad.refuse(c, req, protocol.SystemError, "The broker does not support consumer to filter message by %s", clip(sd.ExpressionType))
		}
		var f pullFilter
		if err := f.compile(sd.SubString, sd.ExpressionType, p.filters); err != nil {
			return nil, p.bad.refuse(c, req, protocol.SubscriptionParseFailed, "%v", err)
		}
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}
