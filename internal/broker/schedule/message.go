package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
)

// Topic is where delay-level messages wait; queue level-1 holds level.
const Topic = store.ScheduleTopic

// ErrNotRestorable marks a stored delayed message that cannot be
// delivered: it does not say where to (REAL_TOPIC, REAL_QID).
var ErrNotRestorable = errors.New("schedule: message has no valid REAL_TOPIC/REAL_QID")

// delayProperties are removed when a message is delivered: whatever
// delayed it must not delay it again if it is sent on.
var delayProperties = []string{
	message.PropertyDelayTimeLevel,
	message.PropertyTimerDeliverMS,
	message.PropertyTimerDelaySec,
	message.PropertyTimerDelayMS,
	message.PropertyTimerOutMS,
	message.PropertyForceDelayDeliverySeconds,
}

// timerProperties are removed when a delay level is applied: the level
// wins over them (HookUtils.checkIfTimerMessage).
var timerProperties = []string{
	message.PropertyTimerDeliverMS,
	message.PropertyTimerDelaySec,
	message.PropertyTimerDelayMS,
}

// Levels are the delays of the delay levels in ms; level n is
// Levels[n-1].
type Levels []int64

// ParseLevels parses messageDelayLevel ("1s 5s 10s 30s 1m ... 2h").
func ParseLevels(s string) (Levels, error) {
	l, err := store.ParseDelayLevels(s)
	return Levels(l), err
}

// Max is the highest level.
func (l Levels) Max() int32 { return int32(len(l)) }

// Clamp returns level, or the highest level when level is above it.
func (l Levels) Clamp(level int32) int32 { return min(level, l.Max()) }

// Delay returns the delay of level in ms (level clamped; 0 below 1).
func (l Levels) Delay(level int32) int64 {
	if level < 1 || len(l) == 0 {
		return 0
	}
	return l[l.Clamp(level)-1]
}

// QueueID returns the schedule queue of a level.
func QueueID(level int32) int32 { return level - 1 }

// Transform rewrites m for delivery after delay level level (> 0; clamped
// to the highest): its topic and queue are saved in REAL_TOPIC and REAL_QID,
// DELAY is set to the level, the timer properties are removed, and m moves
// to queue level-1 of SCHEDULE_TOPIC_XXXX. m gets a new properties slice.
func (l Levels) Transform(m *message.Inner, level int32) {
	level = l.Clamp(level)
	m.Properties = EditProperties(m.Properties, timerProperties,
		message.PropertyRealTopic, m.Topic,
		message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)),
		message.PropertyDelayTimeLevel, strconv.Itoa(int(level)))
	m.Topic = Topic
	m.QueueID = QueueID(level)
}

// Restore builds the message to deliver from a stored delayed record (of
// the schedule or the timer topic): a new record for REAL_TOPIC/REAL_QID
// with the same body, flag, sysFlag, born time and host, store host,
// reconsume times and properties, less the delay and timer properties and
// with WAIT=false (ScheduleMessageService.messageTimeUp). UNIQ_KEY is
// kept, so consumers see the producer's message id. The result aliases
// r's body; append it before r's bytes are released.
func Restore(r *message.Record) (*message.Inner, error) {
	topic, ok := message.PropertyValue(r.Properties, message.PropertyRealTopic)
	if !ok || len(topic) == 0 {
		return nil, ErrNotRestorable
	}
	qid, ok := message.PropertyValue(r.Properties, message.PropertyRealQueueID)
	if !ok {
		return nil, ErrNotRestorable
	}
	q, err := strconv.ParseInt(string(qid), 10, 32)
	if err != nil || q < 0 {
		return nil, fmt.Errorf("%w: REAL_QID %q", ErrNotRestorable, qid)
	}
	if message.TransactionType(r.SysFlag) == message.TransactionPreparedType ||
		message.TransactionType(r.SysFlag) == message.TransactionRollbackType {
		return nil, fmt.Errorf("%w: a transaction half record", ErrNotRestorable)
	}
	return &message.Inner{
		Topic:          string(topic),
		QueueID:        int32(q),
		Flag:           r.Flag,
		Body:           r.Body,
		Properties:     EditProperties(r.Properties, delayProperties, message.PropertyWaitStoreMsgOK, "false"),
		SysFlag:        r.SysFlag,
		BornTimestamp:  r.BornTimestamp,
		BornHost:       r.BornHost,
		StoreHost:      r.StoreHost,
		ReconsumeTimes: r.ReconsumeTimes,
	}, nil
}

// EditProperties returns a new properties string: the pairs of props in
// their order, less those whose key is in del or is set anew, followed by
// the key/value pairs of set (k1, v1, k2, v2, ...). Pairs Java would drop
// (empty key or value, no separator) are dropped.
func EditProperties(props []byte, del []string, set ...string) []byte {
	n := len(props)
	for _, s := range set {
		n += len(s) + 1
	}
	out := make([]byte, 0, n)
	for rest := props; len(rest) > 0; {
		pair := rest
		if i := bytes.IndexByte(rest, message.PropertySeparator); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		sep := bytes.IndexByte(pair, message.NameValueSeparator)
		if sep <= 0 || sep == len(pair)-1 {
			continue
		}
		if key := pair[:sep]; listed(key, del) || listedPairs(key, set) {
			continue
		}
		out = append(out, pair...)
		out = append(out, message.PropertySeparator)
	}
	for i := 0; i+1 < len(set); i += 2 {
		out = message.AppendProperty(out, set[i], set[i+1])
	}
	return out
}

func listed(key []byte, keys []string) bool {
	for _, k := range keys {
		if string(key) == k {
			return true
		}
	}
	return false
}

func listedPairs(key []byte, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if string(key) == kv[i] {
			return true
		}
	}
	return false
}
