package broker

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"

	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// sendBack serves CONSUMER_SEND_MSG_BACK (36): a consumer failed a message
// and hands it back for a later retry (Java's consumerSendMsgBack).
//
// The original is looked up by its commit-log offset before anything else
// is touched, so a send-back for a message that does not exist is refused
// and changes nothing (Java would have created the group and the retry
// topic by then).
//
// The new record keeps the original's body, flag, sysFlag, born time and
// host and every property (topic in RETRY_TOPIC if not there yet, the
// first message id in ORIGIN_MESSAGE_ID, WAIT=false) and counts one more
// reconsume. When the original was consumed as often as allowed —
// maxReconsumeTimes from the header, else the group's retryMaxTimes — or
// the client asks for it (delayLevel < 0), the record goes to
// %DLQ%<group> (one queue, readable and writable, so dead letters can be
// browsed and resent). Otherwise it goes to %RETRY%<group> through
// SCHEDULE_TOPIC_XXXX at delayLevel, or 3 + reconsume times when the
// client leaves it 0 (the first retry after 10 s by default).
func (f *scheduleFeature) sendBack(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	b := f.b
	var h protocol.ConsumerSendMsgBackRequestHeader
	if err := b.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	if b.opts.isSlave() {
		return nil, b.bad.refuse(c, req, protocol.ServiceNotAvailable, "the broker is a slave; send messages back to its master")
	}
	if err := subscription.ValidateGroup(h.Group); err != nil {
		return nil, b.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "subscription group not exist: %v", err)
	}
	if b.topics.BrokerPermission()&protocol.PermWrite == 0 {
		return nil, b.bad.refuse(c, req, protocol.NoPermission, "the broker[%s] sending message is forbidden", b.Addr())
	}
	orig, err := b.store.LookMessageByOffset(h.Offset)
	if err == nil && orig.CommitLogOffset != h.Offset {
		err = store.ErrNotFound
	}
	if err == nil && message.IsTransactionHalf(orig.SysFlag) {
		err = errTransactionHalf
	}
	if err != nil {
		return nil, b.bad.refuse(c, req, protocol.SystemError, "look message by offset failed, %d: %v", h.Offset, err)
	}
	g, ok := b.groups.FindOrCreate(h.Group)
	if !ok {
		return nil, b.bad.refuse(c, req, protocol.SubscriptionGroupNotExist, "subscription group not exist, %s", clip(h.Group))
	}
	if g.RetryQueueNums <= 0 {
		return remoting.NewResponse(req, protocol.Success, ""), nil // the group wants no retries
	}

	retry := topic.RetryTopic(h.Group)
	var sysFlag int32
	if h.UnitMode {
		sysFlag = protocol.TopicSysFlagUnitSub
	}
	cfg, created, err := f.sendBackTopic(retry, g.RetryQueueNums, sysFlag)
	if err != nil {
		return nil, b.bad.refuse(c, req, protocol.SystemError, "topic[%s] not exist: %v", clip(retry), err)
	}
	if cfg.Perm&protocol.PermWrite == 0 {
		return nil, b.bad.refuse(c, req, protocol.NoPermission, "the topic[%s] sending message is forbidden", clip(retry))
	}

	set := []string{message.PropertyWaitStoreMsgOK, "false"}
	if _, ok := message.PropertyValue(orig.RawProperties, message.PropertyRetryTopic); !ok {
		set = append(set, message.PropertyRetryTopic, orig.Topic)
	}
	originID := message.PropertyString(orig.RawProperties, message.PropertyOriginMessageID)
	if originID == "" {
		originID = orig.OffsetMsgID // Java's msgExt.getMsgId() on the broker
	}
	set = append(set, message.PropertyOriginMessageID, originID)
	maxTimes := g.RetryMaxTimes
	if h.MaxReconsumeTimes != nil {
		maxTimes = *h.MaxReconsumeTimes
	}
	m := &message.Inner{
		Topic:          retry,
		QueueID:        rand.Int32N(g.RetryQueueNums),
		Flag:           orig.Flag,
		Body:           orig.Body,
		SysFlag:        orig.SysFlag,
		BornTimestamp:  orig.BornTimestamp,
		BornHost:       orig.BornHost,
		StoreHost:      orig.StoreHost,
		ReconsumeTimes: orig.ReconsumeTimes,
	}
	if ap := b.storeHost.Load(); ap != nil {
		m.StoreHost = *ap
	}
	if m.ReconsumeTimes < math.MaxInt32 {
		m.ReconsumeTimes++
	}
	dead := orig.ReconsumeTimes >= maxTimes || h.DelayLevel < 0
	if dead {
		dlq := topic.DLQTopic(h.Group)
		_, isNew, err := f.sendBackTopic(dlq, dlqQueueNums, 0)
		if err != nil {
			return nil, b.bad.refuse(c, req, protocol.SystemError, "topic[%s] not exist: %v", clip(dlq), err)
		}
		created = created || isNew
		m.Topic, m.QueueID = dlq, 0
		m.Properties = schedule.EditProperties(orig.RawProperties, delayedProperties, set...)
	} else {
		level := int64(h.DelayLevel)
		if level == 0 {
			level = 3 + int64(orig.ReconsumeTimes)
		}
		m.Properties = schedule.EditProperties(orig.RawProperties, nil, set...)
		f.levels.Transform(m, int32(min(level, int64(f.levels.Max()))))
	}
	// Not the request's context: an append is not taken back when the
	// client goes away, so its outcome must be known.
	res, err := b.store.PutMessage(context.WithoutCancel(ctx), m)
	if created && b.registrar != nil {
		// The consumer subscribes to the retry topic and, to browse dead
		// letters, to the DLQ: let the NameServers know them now.
		sctx, cancel := context.WithTimeout(context.Background(), b.registerWait())
		_ = b.registrar.Sync(sctx)
		cancel()
	}
	if res.Status != store.PutOK && res.Status != store.PutFlushDiskTimeout {
		return nil, b.bad.refuse(c, req, protocol.SystemError, "send back failed: %v: %v", res.Status, err)
	}
	f.sendBacks.Add(1)
	if dead {
		reason := "reconsume times reached the maximum"
		if h.DelayLevel < 0 {
			reason = "the consumer asked for it"
		}
		f.deadLetter(h.Group, m, maxTimes, reason)
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// errTransactionHalf refuses to retry a record no consumer can have read.
var errTransactionHalf = errors.New("broker: a transaction half or rollback record")

// sendBackTopic finds or creates a retry or dead-letter topic (read and
// write) and reports whether it created it.
func (f *scheduleFeature) sendBackTopic(name string, queues, sysFlag int32) (protocol.TopicConfig, bool, error) {
	if cfg, ok := f.b.topics.Get(name); ok {
		return cfg, false, nil
	}
	cfg, err := f.b.topics.CreateInSendMessageBack(name, queues, protocol.PermRead|protocol.PermWrite, sysFlag)
	return cfg, err == nil, err
}
