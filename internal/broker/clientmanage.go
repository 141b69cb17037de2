package broker

import (
	"context"
	"log/slog"

	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// clientInfo identifies the client behind a connection, as its heartbeat
// says.
type clientInfo struct {
	ID       string
	Language protocol.LanguageCode
	Version  int32
}

// clientRegistry is what client management needs of the producer and
// consumer registries. Membership changes (a consumer joins or leaves a
// group, its subscriptions change, its connection closes) are reported by
// the registry through the broker's notifier, not through this interface.
type clientRegistry interface {
	RegisterConsumer(c *remoting.Conn, info clientInfo, data *protocol.ConsumerData, notify bool)
	UnregisterConsumer(c *remoting.Conn, info clientInfo, group string, notify bool)
	RegisterProducer(c *remoting.Conn, info clientInfo, group string)
	UnregisterProducer(c *remoting.Conn, info clientInfo, group string)
	// ConsumerIDs returns the client ids of a group's live members.
	ConsumerIDs(group string) []string
}

// retryTopicCreator creates a group's %RETRY% topic.
type retryTopicCreator interface {
	CreateInSendMessageBack(topic string, queueNums, perm, topicSysFlag int32) (protocol.TopicConfig, error)
}

// clientManageProcessor serves HEART_BEAT (34), UNREGISTER_CLIENT (35) and
// GET_CONSUMER_LIST_BY_GROUP (38), as Java's ClientManageProcessor and
// ConsumerManageProcessor do.
type clientManageProcessor struct {
	registry clientRegistry
	groups   groupConfigs
	topics   retryTopicCreator
	filters  *filter.Cache
	notify   bool // notifyConsumerIdsChangedEnable
	bad      *rateLog
}

func (p *clientManageProcessor) register(s *remoting.Server) {
	s.Register(protocol.HeartBeat, remoting.Spawn, remoting.ProcessorFunc(p.heartBeat))
	s.Register(protocol.UnregisterClient, remoting.Spawn, remoting.ProcessorFunc(p.unregisterClient))
	s.Register(protocol.GetConsumerListByGroup, remoting.Inline, remoting.ProcessorFunc(p.getConsumerListByGroup))
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

	info := clientInfo{ID: hb.ClientID, Language: req.Language, Version: req.Version}
	for i := range hb.ConsumerDataSet {
		cd := &hb.ConsumerDataSet[i]
		notify := p.notify
		if g, ok := p.groups.FindOrCreate(cd.GroupName); ok {
			notify = notify && g.NotifyConsumerIDsChangedEnable
			if cd.MessageModel != protocol.Broadcasting {
				p.createRetryTopic(c, req, cd, g)
			}
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
		p.registry.RegisterConsumer(c, info, cd, notify)
	}
	for _, pd := range hb.ProducerDataSet {
		p.registry.RegisterProducer(c, info, pd.GroupName)
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

func (p *clientManageProcessor) createRetryTopic(c *remoting.Conn, req *remoting.Command, cd *protocol.ConsumerData, g protocol.SubscriptionGroupConfig) {
	var sysFlag int32
	if cd.UnitMode {
		sysFlag = protocol.TopicSysFlagUnitSub
	}
	queues := g.RetryQueueNums
	if queues <= 0 {
		queues = 1
	}
	if _, err := p.topics.CreateInSendMessageBack(topic.RetryTopic(cd.GroupName), queues, protocol.PermRead|protocol.PermWrite, sysFlag); err != nil {
		p.bad.Log(slog.LevelError, "cannot create the retry topic", "conn", c.RemoteAddr(), "group", cd.GroupName, "err", err)
	}
}

// unregisterClient forgets a client's producer and consumer group (Java
// clients send it on shutdown; the Go client never does).
func (p *clientManageProcessor) unregisterClient(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UnregisterClientRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	info := clientInfo{ID: h.ClientID, Language: req.Language, Version: req.Version}
	if h.ProducerGroup != "" {
		p.registry.UnregisterProducer(c, info, h.ProducerGroup)
	}
	if h.ConsumerGroup != "" {
		notify := p.notify
		if g, ok := p.groups.Get(h.ConsumerGroup); ok {
			notify = notify && g.NotifyConsumerIDsChangedEnable
		}
		p.registry.UnregisterConsumer(c, info, h.ConsumerGroup, notify)
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
	ids := p.registry.ConsumerIDs(h.ConsumerGroup)
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
