package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/broker/clients"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// replyPushTimeout bounds PUSH_REPLY_MESSAGE_TO_CLIENT. The replier's own
// send times out after 3 s in the official clients, so waiting longer for
// the requester would only answer nobody.
const replyPushTimeout = 3 * time.Second

// replyChannels finds the connection of a requesting client among the
// producers (the requester registers its producer group by heartbeat).
type replyChannels interface {
	FindChannel(clientID string) (clients.Channel, bool)
}

// replyProcessor serves SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2
// (325): a consumer answering a request (Producer.Request) sends its reply
// to <cluster>_REPLY_TOPIC with MSG_TYPE=reply, CORRELATION_ID and
// REPLY_TO_CLIENT, the requester's client id, taken from the request
// message (whose CLUSTER property the broker set when it was sent).
//
// The reply is checked and built like any single send (same refusals),
// appended to the store and, meanwhile, pushed to the requester with
// PUSH_REPLY_MESSAGE_TO_CLIENT (326) on the requester's producer
// connection, carrying the reply's header fields, its properties plus
// PUSH_REPLY_TIME, and its body. As Java's ReplyMessageProcessor does, the
// replier is answered with the outcome of the push:
//
//	push                                       answer
//	the requester answered SUCCESS             SUCCESS, msgId/queueOffset of the
//	                                             stored reply ("0"/0 if the store
//	                                             failed)
//	no REPLY_TO_CLIENT, requester not          SYSTEM_ERROR, remark says which
//	  connected here, requester refused or
//	  did not answer within 3 s
//
// (The official clients retry a send answered SYSTEM_ERROR, so a reply
// whose requester is briefly unknown is pushed again.) Requests run on a
// goroutine of their own: the push waits for another connection.
//
// The requester is looked up among the producers registered by heartbeat,
// as in Java, and failing that on the connection its request came from
// (requesterTable): the Go client registers its producer by heartbeat one
// second after it starts and forces an earlier heartbeat only for a topic
// the name server does not know, so a Request made at once on an existing
// topic would otherwise find no channel for its reply.
type replyProcessor struct {
	send        *sendProcessor
	producers   replyChannels
	requesters  *requesterTable
	pushTimeout time.Duration
	now         func() time.Time
	bad         *rateLog
}

func (p *replyProcessor) register(s *remoting.Server) {
	s.Register(protocol.SendReplyMessage, remoting.Spawn, p)
	s.Register(protocol.SendReplyMessageV2, remoting.Spawn, p)
}

type putOutcome struct {
	res store.PutResult
	err error
}

// errReplyPush is why a reply could not be pushed to its requester.
var errReplyPush = errors.New("push reply message failed")

// ProcessRequest implements remoting.Processor.
func (p *replyProcessor) ProcessRequest(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	sp := p.send
	t := sp.getTask()
	defer t.free()
	t.conn, t.req = c, req
	t.cs = sp.conns.get(c)
	if err := protocol.DecodeSendMessageHeader(req.RequestCode(), req.ExtFields, &t.hdr); err != nil {
		return nil, sp.bad.badHeader(c, req, err)
	}
	cfg, err := sp.check(t)
	if err == nil {
		err = sp.buildSingle(t, cfg)
	}
	if err != nil {
		return nil, err
	}

	stored := make(chan putOutcome, 1)
	t.one[0] = &t.inner
	sp.store.PutMessagesAsync(ctx, t.one[:], func(res store.PutResult, err error) { stored <- putOutcome{res, err} })
	pushErr := p.push(ctx, c, t)
	put := <-stored
	if t.created && sp.registrar != nil {
		// The reply created its topic (a reply topic of another cluster,
		// through TBW102): answer once the name servers know it.
		sctx, cancel := context.WithTimeout(ctx, sp.registerWait)
		_ = sp.registrar.Sync(sctx)
		cancel()
	}
	return p.response(t, req, put, pushErr), nil
}

// push sends the reply to its requester and waits for the answer.
func (p *replyProcessor) push(ctx context.Context, from *remoting.Conn, t *sendTask) error {
	m := &t.inner
	requester, ok := message.PropertyValue(m.Properties, message.PropertyMessageReplyToClient)
	if !ok || len(requester) == 0 {
		return fmt.Errorf("%w: the reply has no %s property", errReplyPush, message.PropertyMessageReplyToClient)
	}
	conn := p.findRequester(string(requester))
	if conn == nil {
		return fmt.Errorf("%w: channel of <%s> not found", errReplyPush, clip(string(requester)))
	}
	now := p.now()
	props := message.AppendProperty(append([]byte(nil), m.Properties...),
		message.PropertyPushReplyTime, strconv.FormatInt(now.UnixMilli(), 10))
	h := protocol.ReplyMessageRequestHeader{
		ProducerGroup:         t.hdr.ProducerGroup,
		Topic:                 m.Topic,
		DefaultTopic:          t.hdr.DefaultTopic,
		DefaultTopicQueueNums: t.hdr.DefaultTopicQueueNums,
		QueueID:               m.QueueID,
		SysFlag:               m.SysFlag,
		BornTimestamp:         m.BornTimestamp,
		Flag:                  m.Flag,
		Properties:            string(props),
		ReconsumeTimes:        m.ReconsumeTimes,
		UnitMode:              t.hdr.UnitMode,
		BornHost:              from.RemoteAddr(),
		StoreHost:             m.StoreHost.String(),
		StoreTimestamp:        now.UnixMilli(),
	}
	pctx, cancel := context.WithTimeout(ctx, p.pushTimeout)
	defer cancel()
	resp, err := conn.InvokeSync(pctx, remoting.NewRequest(protocol.PushReplyMessageToClient, protocol.EncodeHeader(nil, &h), m.Body))
	switch {
	case err != nil:
		p.bad.Log(slog.LevelWarn, "push reply message failed", "requester", clip(string(requester)), "conn", conn.RemoteAddr(), "err", err)
		return fmt.Errorf("%w: push reply message to <%s> fail: %w", errReplyPush, clip(string(requester)), err)
	case resp.ResponseCode() != protocol.Success:
		p.bad.Log(slog.LevelWarn, "requester refused the reply", "requester", clip(string(requester)), "conn", conn.RemoteAddr(),
			"code", resp.ResponseCode(), "remark", clip(resp.Remark))
		return fmt.Errorf("%w: push reply message to <%s> fail: %s: %s", errReplyPush, clip(string(requester)), resp.ResponseCode(), clip(resp.Remark))
	}
	return nil
}

// findRequester returns the connection of the requesting client id, nil
// if it is not connected here.
func (p *replyProcessor) findRequester(id string) *remoting.Conn {
	if ch, ok := p.producers.FindChannel(id); ok {
		if c, ok := ch.(*remoting.Conn); ok && c.Err() == nil {
			return c
		}
	}
	host, ok := p.requesters.host(id)
	if !ok {
		return nil
	}
	var found *remoting.Conn
	p.send.conns.m.Range(func(_, v any) bool {
		if cs := v.(*connState); cs.bornHost == host && cs.conn.Err() == nil {
			found = cs.conn
			return false
		}
		return true
	})
	return found
}

// requesterTable remembers where requesting clients are connected: the
// born host (the connection's remote address) of the last request each
// client id sent, read from the REPLY_TO_CLIENT property of a message
// that is not itself a reply. It is a Rewriter that changes nothing, so
// it sees every single send. At most maxRequesters clients are kept; past
// that the table starts over (a requester is then found by its heartbeat,
// as in Java).
type requesterTable struct {
	mu    sync.Mutex
	hosts map[string]netip.AddrPort
}

const maxRequesters = 1 << 16

func newRequesterTable() *requesterTable {
	return &requesterTable{hosts: make(map[string]netip.AddrPort)}
}

// RewriteSend implements Rewriter.
func (r *requesterTable) RewriteSend(m *message.Inner, _ protocol.TopicConfig, _ SendContext) error {
	id, ok := message.PropertyValue(m.Properties, message.PropertyMessageReplyToClient)
	if !ok || len(id) == 0 || !m.BornHost.IsValid() {
		return nil
	}
	if t, ok := message.PropertyValue(m.Properties, message.PropertyMessageType); ok && string(t) == replyMessageType {
		return nil // a reply names its requester, not its sender
	}
	r.mu.Lock()
	if r.hosts[string(id)] != m.BornHost {
		if len(r.hosts) >= maxRequesters {
			clear(r.hosts)
		}
		r.hosts[string(id)] = m.BornHost
	}
	r.mu.Unlock()
	return nil
}

func (r *requesterTable) host(id string) (netip.AddrPort, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ap, ok := r.hosts[id]
	return ap, ok
}

// replyMessageType is MSG_TYPE of a reply (MixAll.REPLY_MESSAGE_FLAG).
const replyMessageType = "reply"

// response answers the replier: the push decides the code, the store the
// message id and offset.
func (p *replyProcessor) response(t *sendTask, req *remoting.Command, put putOutcome, pushErr error) *remoting.Command {
	if put.err != nil && put.res.Status != store.PutFlushDiskTimeout {
		p.bad.Log(slog.LevelWarn, "reply message not stored", "topic", t.inner.Topic, "status", put.res.Status, "err", put.err)
	}
	if pushErr != nil {
		return remoting.NewResponse(req, protocol.SystemError, pushErr.Error())
	}
	msgID, offset := "0", int64(0)
	if put.err == nil || put.res.Status == store.PutFlushDiskTimeout {
		host := t.inner.StoreHost
		if ap := p.send.storeHost.Load(); ap != nil {
			host = *ap
		}
		msgID, offset = message.OffsetMsgID(host, put.res.CommitLogOffset), put.res.QueueOffset
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.ExtFields{
		{Key: "msgId", Value: msgID},
		{Key: "queueId", Value: strconv.Itoa(int(t.inner.QueueID))},
		{Key: "queueOffset", Value: strconv.FormatInt(offset, 10)},
		{Key: "MSG_REGION", Value: p.send.cfg.region},
		{Key: "TRACE_ON", Value: p.send.cfg.traceOn},
	}
	return resp
}
