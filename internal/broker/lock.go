package broker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/broker/rebalance"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// lockMembers is what the lock codes need of the consumer registry: who
// is in a group, and what it subscribes to.
type lockMembers interface {
	// ClientIDs returns a group's members, sorted.
	ClientIDs(group string) []string
	Subscription(group, topic string) (protocol.SubscriptionData, bool)
}

// lockTopics is what the lock codes need of the topic table.
type lockTopics interface {
	Get(topic string) (protocol.TopicConfig, bool)
}

// maxRefusalsInRemark bounds the queues a LOCK_BATCH_MQ answer names in
// its remark; the count says how many more there were.
const maxRefusalsInRemark = 4

// lockProcessor serves LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): the
// queue locks that let one member of a group at a time consume a queue in
// order (rebalance.LockManager holds them; see its package comment for
// the 60-second life and who may take a lock).
//
// Java's broker locks whatever it is asked. This one first checks that
// the request can be honoured, so that a mistaken or hostile client cannot
// lock another group's queues for a minute:
//
//	request                                     answer
//	body missing or not JSON, group invalid,    SYSTEM_ERROR (1), nothing locked
//	  clientId empty
//	clientId not a member of the group here     CONSUMER_NOT_ONLINE (206), nothing
//	                                              locked (its heartbeat comes first)
//	a queue of another broker, of a topic not   SUCCESS: that queue is left out of
//	  here, out of the topic's range, or of a     lockOKMQSet and the remark says
//	  topic the group does not subscribe to       why; the other queues are locked
//
// Unlocking only ever releases the locks the named client holds in the
// named group, so it is not checked beyond the body.
type lockProcessor struct {
	brokerName string
	locks      *rebalance.LockManager
	consumers  lockMembers
	topics     lockTopics
	now        func() time.Time
	bad        *rateLog
}

func (p *lockProcessor) register(s *remoting.Server) {
	s.Register(protocol.LockBatchMQ, remoting.Inline, remoting.ProcessorFunc(p.lockBatchMQ))
	s.Register(protocol.UnlockBatchMQ, remoting.Inline, remoting.ProcessorFunc(p.unlockBatchMQ))
}

// decode reads and checks the body both codes share.
func (p *lockProcessor) decode(c *remoting.Conn, req *remoting.Command) (protocol.LockBatchRequestBody, error) {
	var body protocol.LockBatchRequestBody
	if err := p.bad.decodeBody(c, req, &body); err != nil {
		return body, err
	}
	if err := subscription.ValidateGroup(body.ConsumerGroup); err != nil {
		return body, p.bad.refuse(c, req, protocol.SystemError, "consumer group: %v", err)
	}
	if body.ClientID == "" {
		return body, p.bad.refuse(c, req, protocol.SystemError, "clientId is empty")
	}
	return body, nil
}

func (p *lockProcessor) lockBatchMQ(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	body, err := p.decode(c, req)
	if err != nil {
		return nil, err
	}
	group, client := body.ConsumerGroup, body.ClientID
	if _, member := slices.BinarySearch(p.consumers.ClientIDs(group), client); !member {
		return nil, p.bad.refuse(c, req, protocol.ConsumerNotOnline,
			"client %s is not a member of consumer group %s on broker %s; its heartbeat must come first",
			clip(client), clip(group), p.brokerName)
	}
	lockable := make([]protocol.MessageQueue, 0, len(body.MQSet))
	var refused []string
	for _, mq := range body.MQSet {
		if why := p.unlockable(group, mq); why != "" {
			refused = append(refused, fmt.Sprintf("%s:%s:%d (%s)", clip(mq.Topic), clip(mq.BrokerName), mq.QueueID, why))
			continue
		}
		lockable = append(lockable, mq)
	}
	resp, err := bodyResponse(req, &protocol.LockBatchResponseBody{
		LockOKMQSet: p.locks.TryLockBatch(group, lockable, client, p.now()),
	})
	if err != nil || len(refused) == 0 {
		return resp, err
	}
	p.bad.Log(slog.LevelWarn, "queues not lockable", "conn", c.RemoteAddr(), "group", clip(group),
		"clientId", clip(client), "refused", len(refused), "first", refused[0])
	resp.Remark = refusalRemark(refused)
	return resp, nil
}

// unlockable says why group cannot lock mq here, or "" if it can.
func (p *lockProcessor) unlockable(group string, mq protocol.MessageQueue) string {
	if mq.BrokerName != p.brokerName {
		return "a queue of another broker"
	}
	cfg, ok := p.topics.Get(mq.Topic)
	if !ok {
		return "no such topic here"
	}
	if mq.QueueID < 0 || mq.QueueID >= max(cfg.ReadQueueNums, cfg.WriteQueueNums) {
		return "no such queue"
	}
	if _, ok := p.consumers.Subscription(group, mq.Topic); !ok {
		return "the group does not subscribe to the topic"
	}
	return ""
}

func refusalRemark(refused []string) string {
	var b strings.Builder
	b.WriteString("not locked: ")
	b.WriteString(strings.Join(refused[:min(len(refused), maxRefusalsInRemark)], ", "))
	if n := len(refused) - maxRefusalsInRemark; n > 0 {
		fmt.Fprintf(&b, " and %d more", n)
	}
	return b.String()
}

func (p *lockProcessor) unlockBatchMQ(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	body, err := p.decode(c, req)
	if err != nil {
		return nil, err
	}
	p.locks.UnlockBatch(body.ConsumerGroup, body.MQSet, body.ClientID)
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// lockPruner removes expired queue locks now and then, so that the lock
// table does not keep the queues of consumers that went away (a new grant
// takes an expired lock over anyway; pruning only bounds memory).
type lockPruner struct {
	locks    *rebalance.LockManager
	interval time.Duration
	log      *slog.Logger

	stop chan struct{}
	done chan struct{}
}

func newLockPruner(locks *rebalance.LockManager, interval time.Duration, log *slog.Logger) *lockPruner {
	return &lockPruner{locks: locks, interval: interval, log: log, stop: make(chan struct{}), done: make(chan struct{})}
}

// start runs the pruning loop until close.
func (l *lockPruner) start() { go l.run() }

func (l *lockPruner) run() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			if n := l.locks.Prune(now); n > 0 {
				l.log.Debug("expired queue locks pruned", "count", n)
			}
		}
	}
}

// close stops the loop and waits for it. Call it once, after start.
func (l *lockPruner) close() {
	close(l.stop)
	<-l.done
}
