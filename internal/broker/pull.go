package broker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/longpoll"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// maxSuspend bounds how long a pull is held, whatever the client asks:
// suspendTimeoutMillis is client-supplied, and every held pull costs
// memory until it is answered. Official clients ask 15 to 20 s.
const maxSuspend = 2 * time.Minute

// pullTopics is what the pull processor needs of the topic table.
type pullTopics interface {
	Get(topic string) (protocol.TopicConfig, bool)
	BrokerPermission() int32
}

// groupConfigs is what processors need of the subscription group table.
type groupConfigs interface {
	Get(group string) (protocol.SubscriptionGroupConfig, bool)
	FindOrCreate(group string) (protocol.SubscriptionGroupConfig, bool)
}

// subscriptions is what the pull processor needs of the consumer registry:
// the subscription a group registered for a topic by heartbeat, and the
// group's message model.
type subscriptions interface {
	Subscription(group, topic string) (protocol.SubscriptionData, bool)
	MessageModel(group string) (string, bool)
}

// offsetCommitter records consumer offsets.
type offsetCommitter interface {
	Commit(clientHost, group, topic string, queueID int32, offset int64)
}

// messageGetter is what the pull processor needs of the store.
type messageGetter interface {
	GetMessage(ctx context.Context, group, topic string, queueID int32, offset int64, maxMsgNums, maxBytes int, f store.MessageFilter) (*store.GetResult, error)
}

// pullConfig is the part of the options the pull path reads.
type pullConfig struct {
	slave                bool
	slaveReadEnable      bool
	offsetCheckInSlave   bool
	longPolling          bool
	shortPolling         time.Duration
	enablePropertyFilter bool
}

// pullProcessor serves PULL_MESSAGE inline on the connection's reader;
// held pulls are re-run by the long-polling service's workers.
type pullProcessor struct {
	cfg       pullConfig
	topics    pullTopics
	groups    groupConfigs
	consumers subscriptions
	offsets   offsetCommitter
	store     messageGetter
	holds     *longpoll.Service[*pullTask]
	filters   *filter.Cache
	conns     *connTable
	storeHost *atomic.Pointer[netip.AddrPort]
	bad       *rateLog
	// stats, when set, records how far each group pulled and how many
	// messages it got (GET_CONSUME_STATS).
	stats *pullStats
}

// pullTask carries one pull request, held or not. Pooled.
type pullTask struct {
	p     *pullProcessor
	conn  *remoting.Conn
	cs    *connState
	req   *remoting.Command
	hdr   protocol.PullMessageRequestHeader
	flt   pullFilter
	group protocol.SubscriptionGroupConfig
	owed  bool // holds one of the connection's owed answers
}

var pullTaskPool = sync.Pool{New: func() any { return new(pullTask) }}

func (t *pullTask) free() {
	if t.owed {
		t.cs.release()
	}
	owned := t.flt.owned[:0]
	*t = pullTask{}
	t.flt.owned = owned
	pullTaskPool.Put(t)
}

// ProcessRequest implements remoting.Processor.
func (p *pullProcessor) ProcessRequest(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	t := pullTaskPool.Get().(*pullTask)
	t.p, t.conn, t.req = p, c, req
	t.cs = p.conns.get(c)
	if err := t.hdr.DecodeExt(req.ExtFields); err != nil {
		t.free()
		return nil, p.bad.badHeader(c, req, err)
	}
	resp, err := p.process(ctx, t, true)
	if resp == nil && err == nil {
		return nil, nil // held; t belongs to the long-polling service
	}
	t.free()
	return resp, err
}

// rerun re-executes a held pull without suspending again and answers it.
// It runs on a long-polling worker.
func (p *pullProcessor) rerun(t *pullTask) {
	defer t.free()
	if t.conn.Err() != nil {
		return // the client left
	}
	resp, err := p.process(t.conn.Context(), t, false)
	if err != nil {
		resp = errorResponse(t.req, err)
	}
	if rerr := t.conn.Respond(t.req, resp); rerr != nil && !errors.Is(rerr, remoting.ErrConnClosed) {
		p.bad.Log(slog.LevelDebug, "cannot answer held pull", "conn", t.conn.RemoteAddr(), "err", rerr)
	}
}

// errorResponse turns a processor error into its answer, as the
// transport does for processors that return one.
func errorResponse(req *remoting.Command, err error) *remoting.Command {
	var e *remoting.Error
	if errors.As(err, &e) {
		return remoting.NewResponse(req, e.Code, e.Remark)
	}
	return remoting.NewResponse(req, protocol.SystemError, err.Error())
}

// process runs one pull, as Java's PullMessageProcessor.processRequest. It
// returns nil, nil when it held the request.
func (p *pullProcessor) process(ctx context.Context, t *pullTask, allowSuspend bool) (*remoting.Command, error) {
	h, c, req := &t.hdr, t.conn, t.req
	if p.topics.BrokerPermission()&protocol.PermRead == 0 {
		return nil, p.bad.refuse(c, req, protocol.NoPermission, "the broker[%s] pulling message is forbidden", hostOf(p.storeHost))
	}
	if allowSuspend {
		if err := p.resolve(t); err != nil {
			return nil, err
		}
	}

	res, err := p.store.GetMessage(ctx, h.ConsumerGroup, h.Topic, h.QueueID, h.QueueOffset, max(int(h.MaxMsgNums), 0), 0, &t.flt)
	if err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "store: %v", err)
	}
	code := pullCode(res.Status, h.QueueOffset, p.cfg.slave, p.cfg.offsetCheckInSlave)
	rh := protocol.PullMessageResponseHeader{
		NextBeginOffset: res.NextBeginOffset,
		MinOffset:       res.MinOffset,
		MaxOffset:       res.MaxOffset,
	}
	rh.SuggestWhichBrokerID = p.suggestBroker(res.SuggestPullingFromSlave, &t.group)
	if p.cfg.slave && !p.cfg.slaveReadEnable {
		code = protocol.PullRetryImmediately
	}
	if p.stats != nil {
		// As Java: the pull offset whatever the answer, the messages got
		// only when they are sent.
		got := 0
		if code == protocol.Success {
			got = len(res.Messages)
		}
		p.stats.record(h.Topic, h.ConsumerGroup, h.QueueID, res.NextBeginOffset, got)
	}

	if code != protocol.Success {
		res.Release()
		res = nil
	}
	// Commit before holding: once held, a worker may re-run and recycle t.
	p.commitOffset(t, allowSuspend)
	if code == protocol.PullNotFound && allowSuspend && h.SysFlag&protocol.PullFlagSuspend != 0 && p.hold(t) {
		return nil, nil
	}
	resp := remoting.NewResponse(req, code, "")
	resp.ExtFields = rh.AppendExt(make(protocol.ExtFields, 0, 4))
	if res != nil {
		resp.SetBodyParts(res.Messages, res.Release)
	}
	return resp, nil
}

// resolve checks the request and builds its filter: Java's checks, in
// Java's order.
func (p *pullProcessor) resolve(t *pullTask) error {
	h, c, req := &t.hdr, t.conn, t.req
	if err := subscription.ValidateGroup(h.ConsumerGroup); err != nil {
		return p.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "%v", err)
	}
	g, ok := p.groups.FindOrCreate(h.ConsumerGroup)
	if !ok {
		return p.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "subscription group [%s] does not exist", h.ConsumerGroup)
	}
	if !g.ConsumeEnable {
		return p.bad.refuse(c, req, protocol.NoPermission, "subscription group no permission, %s", h.ConsumerGroup)
	}
	t.group = g
	cfg, ok := p.topics.Get(h.Topic)
	if !ok {
		return p.bad.refuse(c, req, protocol.TopicNotExist, "topic[%s] not exist, apply first please!", clip(h.Topic))
	}
	if cfg.Perm&protocol.PermRead == 0 {
		return p.bad.refuse(c, req, protocol.NoPermission, "the topic[%s] pulling message is forbidden", h.Topic)
	}
	if h.QueueID < 0 || h.QueueID >= cfg.ReadQueueNums {
		return p.bad.refuse(c, req, protocol.SystemError,
			"queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]",
			h.QueueID, h.Topic, cfg.ReadQueueNums, c.RemoteAddr())
	}

	if h.SysFlag&protocol.PullFlagSubscription != 0 {
		if err := t.flt.fromHeader(h.Subscription, h.ExpressionType, p.filters); err != nil {
			return p.bad.refuse(c, req, protocol.SubscriptionParseFailed, "parse the consumer's subscription failed: %v", err)
		}
	} else {
		model, ok := p.consumers.MessageModel(h.ConsumerGroup)
		if !ok {
			return p.bad.refuse(c, req, protocol.SubscriptionNotExist, "the consumer's group info not exist")
		}
		if !g.ConsumeBroadcastEnable && model == protocol.Broadcasting {
			return p.bad.refuse(c, req, protocol.NoPermission, "the consumer group[%s] can not consume by broadcast way", h.ConsumerGroup)
		}
		sd, ok := p.consumers.Subscription(h.ConsumerGroup, h.Topic)
		if !ok {
			return p.bad.refuse(c, req, protocol.SubscriptionNotExist, "the consumer's subscription not exist")
		}
		if sd.SubVersion < h.SubVersion {
			return p.bad.refuse(c, req, protocol.SubscriptionNotLatest, "the consumer's subscription not latest")
		}
		if err := t.flt.fromSubscription(&sd, p.filters); err != nil {
			return p.bad.refuse(c, req, protocol.SubscriptionParseFailed, "parse the consumer's subscription failed: %v", err)
		}
	}
	if t.flt.isSQL() && !p.cfg.enablePropertyFilter {
		return p.bad.refuse(c, req, protocol.SystemError, "The broker does not support consumer to filter message by %s", protocol.ExpressionSQL92)
	}
	return nil
}

// hold hands t to the long-polling service. It returns false when the
// pull must be answered now instead.
func (p *pullProcessor) hold(t *pullTask) bool {
	if !t.cs.tryAcquire() {
		return false
	}
	t.owed = true
	timeout := time.Duration(t.hdr.SuspendTimeoutMillis) * time.Millisecond
	if !p.cfg.longPolling {
		timeout = p.cfg.shortPolling
	}
	timeout = min(max(timeout, 0), maxSuspend)
	key := longpoll.Key{Topic: t.hdr.Topic, QueueID: t.hdr.QueueID}
	if p.holds.Hold(key, t.hdr.QueueOffset, timeout, &t.flt, t) {
		return true
	}
	t.owed = false
	t.cs.release()
	return false
}

// commitOffset stores the offset the consumer piggybacks on its pull
// (COMMIT_OFFSET flag), on the first run only and only on a master.
func (p *pullProcessor) commitOffset(t *pullTask, allowSuspend bool) {
	h := &t.hdr
	if allowSuspend && h.SysFlag&protocol.PullFlagCommitOffset != 0 && !p.cfg.slave {
		p.offsets.Commit(t.conn.RemoteAddr(), h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	}
}

// suggestBroker picks suggestWhichBrokerId as Java does: with slave reads
// on, the group's slow-consumer broker when the pull lags, else the
// group's broker; with them off, always the master.
func (p *pullProcessor) suggestBroker(lagging bool, g *protocol.SubscriptionGroupConfig) int64 {
	if !p.cfg.slaveReadEnable {
		return protocol.MasterID
	}
	if lagging {
		return g.WhichBrokerWhenConsumeSlowly
	}
	return g.BrokerID
}

// pullCode maps a store status to the pull response code (Java's
// PullMessageProcessor and protocol.md §7).
func pullCode(st store.GetStatus, offset int64, slave, offsetCheckInSlave bool) protocol.ResponseCode {
	var code protocol.ResponseCode
	switch st {
	case store.GetFound:
		return protocol.Success
	case store.GetMessageWasRemoving, store.GetNoMatchedMessage:
		return protocol.PullRetryImmediately
	case store.GetOffsetFoundNull, store.GetOffsetOverflowOne:
		return protocol.PullNotFound
	case store.GetNoMatchedLogicQueue, store.GetNoMessageInQueue:
		if offset == 0 {
			return protocol.PullNotFound
		}
		code = protocol.PullOffsetMoved
	default: // GetOffsetTooSmall, GetOffsetOverflowBadly
		code = protocol.PullOffsetMoved
	}
	if slave && !offsetCheckInSlave {
		return protocol.PullRetryImmediately
	}
	return code
}

func hostOf(p *atomic.Pointer[netip.AddrPort]) string {
	if ap := p.Load(); ap != nil {
		return ap.Addr().String()
	}
	return ""
}
