package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/broker/clients"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// callClientTimeout bounds a request the broker makes of a consumer on an
// admin tool's behalf (Java's Broker2Client uses 5 s for statuses).
const callClientTimeout = 5 * time.Second

// adminOffsets is what consumer management needs of the offset table.
type adminOffsets interface {
	Query(group, topic string, queueID int32) (int64, bool)
	QueueOffsets(group, topic string) map[int32]int64
	ResetOffset(group, topic string, queueID int32, offset int64)
}

// adminStore is what consumer management needs of the store.
type adminStore interface {
	OffsetInQueueByTime(topic string, queueID int32, ts int64) int64
	MinOffsetInQueue(topic string, queueID int32) int64
	MaxOffsetInQueue(topic string, queueID int32) int64
	SelectOneMessageByOffset(commitLogOffset int64) (*store.SelectResult, error)
}

// adminConsumers is what consumer management needs of the consumer
// registry: a group's members and their connections.
type adminConsumers interface {
	ClientIDs(group string) []string
	FindChannel(group, clientID string) (clients.Channel, bool)
}

// consumerAdminProcessor serves what admin tools ask of a consumer group
// that the broker relays to, or acts on for, its members:
//
//   - INVOKE_BROKER_TO_RESET_OFFSET (222): reset a group's offsets on a
//     topic to a time (mqadmin resetOffsetByTime). For each queue the
//     offset of the first message stored at or after the timestamp (-1:
//     the queue's end) is taken when it is below the group's offset or
//     isForce is set; otherwise the group's offset stays. The table is
//     written to the offset store and, when the group is online, pushed to
//     every member with RESET_CONSUMER_CLIENT_OFFSET (220, oneway, the
//     ResetOffsetBody in fastjson's form, which the Go client parses),
//     each of which drops its queues and resumes from the new offsets.
//     Java answers CONSUMER_NOT_ONLINE for an offline group (and mqadmin
//     then writes the offsets itself); here the broker writes them and
//     answers SUCCESS. The answer carries the table. A 5.x request naming
//     a queue and an offset resets that queue to that offset, clamped to
//     the queue's range.
//   - INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223): ask every member (or the
//     one named) for its offsets (GET_CONSUMER_STATUS_FROM_CLIENT, 221)
//     and answer them by client id.
//   - GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309):
//     relayed to the named member and its answer relayed back (for 309
//     the broker attaches the message the offset message id names, and its
//     own name). A member that does not answer within 5 s gets
//     CONSUME_MSG_TIMEOUT (207), one not connected SYSTEM_ERROR.
//
// Every request runs on a goroutine of its own: the relays wait for a
// client.
type consumerAdminProcessor struct {
	brokerName string
	topics     lockTopics
	offsets    adminOffsets
	store      adminStore
	consumers  adminConsumers
	timeout    time.Duration
	bad        *rateLog
	log        *slog.Logger
}

func (p *consumerAdminProcessor) register(s *remoting.Server) {
	for code, fn := range map[protocol.RequestCode]remoting.ProcessorFunc{
		protocol.InvokeBrokerToResetOffset:       p.resetOffset,
		protocol.InvokeBrokerToGetConsumerStatus: p.getConsumerStatus,
		protocol.GetConsumerRunningInfo:          p.getConsumerRunningInfo,
		protocol.ConsumeMessageDirectly:          p.consumeMessageDirectly,
	} {
		s.Register(code, remoting.Spawn, fn)
	}
}

// member is one online member of a group.
type member struct {
	clientID string
	conn     *remoting.Conn
}

// members returns the live connections of a group's members, in client id
// order; with only set, just that client.
func (p *consumerAdminProcessor) members(group, only string) []member {
	var out []member
	for _, id := range p.consumers.ClientIDs(group) {
		if only != "" && id != only {
			continue
		}
		if ch, ok := p.consumers.FindChannel(group, id); ok {
			if c, ok := ch.(*remoting.Conn); ok && c.Err() == nil {
				out = append(out, member{id, c})
			}
		}
	}
	return out
}

func (p *consumerAdminProcessor) resetOffset(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ResetOffsetRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if err := subscription.ValidateGroup(h.Group); err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "[reset-offset] consumer group: %v", err)
	}
	cfg, ok := p.topics.Get(h.Topic)
	if !ok {
		return nil, p.bad.refuse(c, req, protocol.SystemError,
			"[reset-offset] reset offset failed, no topic in this broker. topic=%s", clip(h.Topic))
	}
	members := p.members(h.Group, "")
	if len(members) == 0 && p.offsets.QueueOffsets(h.Group, h.Topic) == nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError,
			"[reset-offset] the consumer group %s is not online and has no offsets on topic %s", clip(h.Group), clip(h.Topic))
	}

	table := protocol.MQMap[int64]{}
	queue := func(q int32) protocol.MessageQueue {
		return protocol.MessageQueue{Topic: h.Topic, BrokerName: p.brokerName, QueueID: q}
	}
	if h.Offset != nil && h.QueueID >= 0 { // 5.x: one queue, to an offset
		if h.QueueID >= cfg.ReadQueueNums {
			return nil, p.bad.refuse(c, req, protocol.SystemError,
				"[reset-offset] queueId %d out of range, topic %s has %d queues", h.QueueID, clip(h.Topic), cfg.ReadQueueNums)
		}
		lo, hi := max(p.store.MinOffsetInQueue(h.Topic, h.QueueID), 0), p.store.MaxOffsetInQueue(h.Topic, h.QueueID)
		table[queue(h.QueueID)] = min(max(*h.Offset, lo), hi)
	} else {
		for q := range cfg.ReadQueueNums {
			var target int64
			if h.Timestamp == -1 {
				target = p.store.MaxOffsetInQueue(h.Topic, q)
			} else {
				target = p.store.OffsetInQueueByTime(h.Topic, q, h.Timestamp)
			}
			target = max(target, 0)
			if cur, ok := p.offsets.Query(h.Group, h.Topic, q); ok && !h.IsForce && target >= cur {
				target = cur // not forced: only ever moved back
			}
			table[queue(q)] = target
		}
	}
	for mq, off := range table {
		p.offsets.ResetOffset(h.Group, h.Topic, mq.QueueID, off)
	}
	body, err := protocol.EncodeBody(&protocol.ResetOffsetBody{OffsetTable: table})
	if err != nil {
		return nil, err
	}
	push := protocol.EncodeHeader(nil, &protocol.ResetOffsetRequestHeader{
		Topic: h.Topic, Group: h.Group, Timestamp: h.Timestamp, IsForce: h.IsForce, QueueID: -1,
	})
	for _, m := range members {
		wctx, cancel := context.WithTimeout(ctx, p.timeout)
		err := m.conn.InvokeOneway(wctx, remoting.NewRequest(protocol.ResetConsumerClientOffset, push, body))
		cancel()
		if err != nil {
			p.log.Warn("[reset-offset] cannot tell a consumer", "group", h.Group, "topic", h.Topic, "clientId", m.clientID, "err", err)
			continue
		}
		p.log.Info("[reset-offset] consumer told", "group", h.Group, "topic", h.Topic, "clientId", m.clientID)
	}
	p.log.Info("[reset-offset] offsets reset", "group", h.Group, "topic", h.Topic, "timestamp", h.Timestamp,
		"force", h.IsForce, "online", len(members))
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

func (p *consumerAdminProcessor) getConsumerStatus(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetConsumerStatusRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	members := p.members(h.Group, h.ClientAddr)
	if len(members) == 0 {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "No Any Consumer online in the consumer group: [%s]", clip(h.Group))
	}
	ask := protocol.EncodeHeader(nil, &protocol.GetConsumerStatusRequestHeader{Topic: h.Topic, Group: h.Group})
	var (
		mu    sync.Mutex
		table = map[string]protocol.MQMap[int64]{}
		wg    sync.WaitGroup
	)
	for _, m := range members {
		wg.Go(func() {
			resp, err := p.call(ctx, m, remoting.NewRequest(protocol.GetConsumerStatusFromClient, ask, nil))
			if err != nil || resp.ResponseCode() != protocol.Success {
				p.log.Warn("[get-consumer-status] no status from a consumer", "group", h.Group, "clientId", m.clientID, "err", err)
				return
			}
			var body protocol.GetConsumerStatusBody
			if err := protocol.DecodeBody(resp.Body, &body); err != nil {
				p.bad.Log(slog.LevelWarn, "[get-consumer-status] bad status from a consumer", "clientId", m.clientID, "err", err)
				return
			}
			mu.Lock()
			table[m.clientID] = body.MessageQueueTable
			mu.Unlock()
		})
	}
	wg.Wait()
	return bodyResponse(req, &protocol.GetConsumerStatusBody{ConsumerTable: table})
}

func (p *consumerAdminProcessor) getConsumerRunningInfo(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetConsumerRunningInfoRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	return p.relay(ctx, c, req, h.ConsumerGroup, h.ClientID, req.ExtFields, req.Body)
}

func (p *consumerAdminProcessor) consumeMessageDirectly(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ConsumeMessageDirectlyResultRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	_, offset, err := message.ParseOffsetMsgID(h.MsgID)
	if err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "msgId %s is not an offset message id: %v", clip(h.MsgID), err)
	}
	res, err := p.store.SelectOneMessageByOffset(offset)
	if err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "no message %s here: %v", clip(h.MsgID), err)
	}
	body := append([]byte(nil), res.Bytes...)
	res.Release()
	ext := make(protocol.ExtFields, 0, len(req.ExtFields)+1)
	for _, f := range req.ExtFields {
		if f.Key != "brokerName" {
			ext = append(ext, f)
		}
	}
	ext = append(ext, protocol.ExtField{Key: "brokerName", Value: p.brokerName})
	return p.relay(ctx, c, req, h.ConsumerGroup, h.ClientID, ext, body)
}

// relay sends req's code with ext and body to a group's member and
// answers with the member's answer.
func (p *consumerAdminProcessor) relay(ctx context.Context, c *remoting.Conn, req *remoting.Command, group, clientID string, ext protocol.ExtFields, body []byte) (*remoting.Command, error) {
	members := p.members(group, clientID)
	if clientID == "" || len(members) == 0 {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "The Consumer <%s> <%s> not online", clip(group), clip(clientID))
	}
	resp, err := p.call(ctx, members[0], remoting.NewRequest(req.RequestCode(), ext, body))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return nil, p.bad.refuse(c, req, protocol.ConsumeMsgTimeout, "consumer <%s> <%s> Timeout: %v", clip(group), clip(clientID), err)
	case err != nil:
		return nil, p.bad.refuse(c, req, protocol.SystemError, "invoke consumer <%s> <%s> Exception: %v", clip(group), clip(clientID), err)
	}
	out := remoting.NewResponse(req, resp.ResponseCode(), resp.Remark)
	out.ExtFields = resp.ExtFields
	out.Body = resp.Body
	return out, nil
}

func (p *consumerAdminProcessor) call(ctx context.Context, m member, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := m.conn.InvokeSync(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.clientID, err)
	}
	return resp, nil
}
