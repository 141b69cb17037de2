package broker

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/broker/timer"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// delayedProperties are dropped from a message moved to a dead-letter
// topic: a dead letter is stored at once, whatever delayed it before.
var delayedProperties = []string{
	message.PropertyDelayTimeLevel,
	message.PropertyTimerDeliverMS,
	message.PropertyTimerDelaySec,
	message.PropertyTimerDelayMS,
	message.PropertyTimerOutMS,
	message.PropertyForceDelayDeliverySeconds,
}

// scheduleRewriter routes single sends, in Java's order:
//
//  1. a send to %RETRY%<group> whose reconsume times exceed its maximum
//     (the header's maxReconsumeTimes, or without one the group's
//     retryMaxTimes), or whose group holds live orderly locks, goes to
//     %DLQ%<group> (SendMessageProcessor.handleRetryAndDLQ);
//  2. then, for a message that is not a transaction half or rollback
//     record: DELAY > 0 moves it to SCHEDULE_TOPIC_XXXX (the level
//     clamped, timer properties dropped); otherwise a timer property
//     (TIMER_DELAY_SEC, TIMER_DELAY_MS, TIMER_DELIVER_MS, __STARTDELIVERTIME,
//     first found wins) with a time in the future moves it to
//     rmq_sys_wheel_timer with TIMER_OUT_MS, or refuses it when the time is
//     beyond timerMaxDelaySec (HookUtils.handleScheduleMessage).
//
// A half message is left alone; its commit, which the transaction feature
// passes through the rewriters again, gets the delay or the timer.
type scheduleRewriter struct {
	f   *scheduleFeature
	now func() time.Time
}

func (r *scheduleRewriter) RewriteSend(m *message.Inner, _ protocol.TopicConfig, sc SendContext) error {
	if topic.IsRetryTopic(m.Topic) {
		if err := r.retryOrDeadLetter(m, sc); err != nil {
			return err
		}
	}
	switch message.TransactionType(m.SysFlag) {
	case message.TransactionNotType, message.TransactionCommitType:
	default:
		return nil
	}
	if m.Topic == topic.TransHalfTopic {
		// A half message (the transaction rewriter moved it there) waits
		// for its commit, which comes through here again.
		return nil
	}
	found := scanDelayProperties(m.Properties)
	level, err := found.level()
	if err != nil {
		return err
	}
	if level > 0 {
		r.f.levels.Transform(m, level)
		return nil
	}
	if !found.timed {
		return nil
	}
	return r.timed(m, &found)
}

// delayProperties holds the values of DELAY and the timer properties,
// found in one pass over the properties (a later duplicate wins, as in
// Java): every single send goes through here.
type delayProperties struct {
	delay    []byte
	hasDelay bool
	timer    [len(timerKeys)][]byte
	hasTimer [len(timerKeys)]bool
	timed    bool // some timer property is present
}

func scanDelayProperties(props []byte) delayProperties {
	var d delayProperties
	for len(props) > 0 {
		pair := props
		if i := bytes.IndexByte(props, message.PropertySeparator); i >= 0 {
			pair, props = props[:i], props[i+1:]
		} else {
			props = nil
		}
		// Only keys starting with D, T or _ can matter.
		if len(pair) == 0 || (pair[0] != 'D' && pair[0] != 'T' && pair[0] != '_') {
			continue
		}
		sep := bytes.IndexByte(pair, message.NameValueSeparator)
		if sep <= 0 || sep == len(pair)-1 {
			continue
		}
		key, value := pair[:sep], pair[sep+1:]
		if string(key) == message.PropertyDelayTimeLevel {
			d.delay, d.hasDelay = value, true
			continue
		}
		for i, k := range timerKeys {
			if string(key) == k.key {
				d.timer[i], d.hasTimer[i], d.timed = value, true, true
			}
		}
	}
	return d
}

// level reads DELAY: 0 when absent; an error when not a number.
func (d *delayProperties) level() (int32, error) {
	if !d.hasDelay {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(d.delay), 10, 32)
	if err != nil {
		return 0, remoting.Errorf(protocol.MessageIllegal, "the delay level %s=%q is not a number", message.PropertyDelayTimeLevel, clip(string(d.delay)))
	}
	return int32(n), nil
}

// retryOrDeadLetter applies the dead-letter rule of a direct send to a
// retry topic: reconsume times beyond the maximum (strictly: the consumer
// counted this try already), or a group that consumes orderly, go to the
// group's dead-letter topic at once. The maximum is the one the consumer
// sent (maxReconsumeTimes, which Java's consumer sets when it falls back
// to sending the retry itself), else the group's retryMaxTimes.
func (r *scheduleRewriter) retryOrDeadLetter(m *message.Inner, sc SendContext) error {
	b := r.f.b
	group := strings.TrimPrefix(m.Topic, topic.RetryTopicPrefix)
	g, ok := b.groups.FindOrCreate(group)
	if !ok {
		return remoting.Errorf(protocol.SubscriptionGroupNotExist, "subscription group not exist, %s", clip(group))
	}
	maxTimes := g.RetryMaxTimes
	if sc.MaxReconsumeTimes >= 0 {
		maxTimes = sc.MaxReconsumeTimes
	}
	orderly := r.f.locks != nil && r.f.locks.HasLiveLocks(group, r.now())
	if m.ReconsumeTimes <= maxTimes && !orderly {
		return nil
	}
	dlq := topic.DLQTopic(group)
	if _, err := b.topics.CreateInSendMessageBack(dlq, dlqQueueNums, protocol.PermRead|protocol.PermWrite, 0); err != nil {
		return remoting.Errorf(protocol.SystemError, "topic[%s] not exist: %v", clip(dlq), err)
	}
	reason := "reconsume times exceed the maximum"
	if orderly {
		reason = "the group consumes orderly"
	}
	r.f.deadLetter(group, m, maxTimes, reason, "producerGroup", clip(sc.ProducerGroup), "conn", sc.RemoteAddr)
	m.Topic, m.QueueID = dlq, 0
	m.Properties = schedule.EditProperties(m.Properties, delayedProperties)
	return nil
}

// dlqQueueNums is DLQ_NUMS_PER_GROUP.
const dlqQueueNums = 1

// deadLetter counts and logs a message moved to a dead-letter topic.
// extra are more attributes for the log line.
func (f *scheduleFeature) deadLetter(group string, m *message.Inner, maxReconsumeTimes int32, reason string, extra ...any) {
	f.deadLetters.Add(1)
	origin := message.PropertyString(m.Properties, message.PropertyRetryTopic)
	if origin == "" {
		origin = m.Topic
	}
	attrs := append([]any{"group", group, "dlq", topic.DLQTopic(group),
		"topic", origin, "msgId", message.PropertyString(m.Properties, message.PropertyUniqClientMessageIDKeyIdx),
		"reconsumeTimes", m.ReconsumeTimes, "maxReconsumeTimes", maxReconsumeTimes, "reason", reason,
		"deadLetters", f.deadLetters.Load()}, extra...)
	f.b.bad.Log(slog.LevelWarn, "message moved to the dead-letter queue", attrs...)
}

// timerKeys are the timer properties in the order they are looked for;
// relative ones are multiplied by their unit in ms, absolute ones are 0.
var timerKeys = [...]struct {
	key  string
	unit int64
}{
	{message.PropertyTimerDelaySec, 1000},
	{message.PropertyTimerDelayMS, 1},
	{message.PropertyTimerDeliverMS, 0},
	{message.PropertyForceDelayDeliverySeconds, 0},
}

// timed moves a message with a future timer time to the timer topic.
func (r *scheduleRewriter) timed(m *message.Inner, found *delayProperties) error {
	var (
		key string
		at  int64
	)
	now := r.now().UnixMilli()
	maxMs := r.f.b.opts.TimerMaxDelaySec * 1000
	for i, k := range timerKeys {
		if !found.hasTimer[i] {
			continue
		}
		v := found.timer[i]
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return remoting.Errorf(protocol.MessageIllegal, "timer message illegal: %s=%q is not a number", k.key, clip(string(v)))
		}
		switch {
		case k.unit == 0:
			at = n
		case n > maxMs/k.unit:
			return r.tooFar(k.key, n)
		default:
			at = now + n*k.unit
		}
		key = k.key
		break
	}
	if key == "" || at <= now {
		return nil // its time has come: deliver now
	}
	if !r.f.b.opts.TimerWheelEnable {
		return remoting.Errorf(protocol.MessageIllegal, "accurate timer message is not enabled, timerWheelEnable is false")
	}
	if at-now > maxMs {
		return r.tooFar(key, at)
	}
	m.Properties = schedule.EditProperties(m.Properties, nil,
		message.PropertyTimerOutMS, strconv.FormatInt(at, 10),
		message.PropertyRealTopic, m.Topic,
		message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Topic, m.QueueID = timer.Topic, 0
	return nil
}

func (r *scheduleRewriter) tooFar(key string, value int64) error {
	return remoting.Errorf(protocol.MessageIllegal,
		"timer message illegal: %s=%d asks for delivery more than timerMaxDelaySec=%d s from now",
		key, value, r.f.b.opts.TimerMaxDelaySec)
}
