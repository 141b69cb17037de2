package txn

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gorocket/gorocket/internal/message"
)

// Topics and the internal consumer group of transactional messages
// (TopicValidator, TransactionalMessageUtil).
const (
	HalfTopic     = "RMQ_SYS_TRANS_HALF_TOPIC"
	OpTopic       = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	CheckMaxTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	// ConsumerGroup keeps the consume offsets of the half and op queues in
	// consumerOffset.json, as RocketMQ's CID_SYS_RMQ_TRANS does.
	ConsumerGroup = "CID_SYS_RMQ_TRANS"
	// RemoveTag is the tag of an op record: the half offsets it names are
	// done with.
	RemoveTag = "d"
)

// ErrNotHalf is returned for a record that is not a usable half message.
var ErrNotHalf = errors.New("txn: not a half message")

// IsTransactional reports whether a sent message is a transaction's half
// message, by RocketMQ's rule: TRAN_MSG=true (case-insensitive), unless it
// is a retry of a client before 4.6.1 (reconsumeTimes > 0 with a DELAY).
func IsTransactional(props []byte, reconsumeTimes int32) bool {
	v, ok := message.PropertyValue(props, message.PropertyTransactionPrepared)
	if !ok || !strings.EqualFold(string(v), "true") {
		return false
	}
	if reconsumeTimes > 0 {
		if d, ok := message.PropertyValue(props, message.PropertyDelayTimeLevel); ok {
			if n, err := strconv.Atoi(string(d)); err == nil && n > 0 {
				return false
			}
		}
	}
	return true
}

// PrepareHalf turns a sent transactional message into its half record:
// __transactionId__ = UNIQ_KEY, REAL_TOPIC and REAL_QID saved, the
// transaction bits of sysFlag cleared, topic RMQ_SYS_TRANS_HALF_TOPIC
// queue 0. The properties are a new slice.
func PrepareHalf(m *message.Inner) {
	props := dropProperties(m.Properties, message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionID)
	if id, ok := message.PropertyValue(m.Properties, message.PropertyUniqClientMessageIDKeyIdx); ok {
		props = message.AppendProperty(props, message.PropertyTransactionID, string(id))
	}
	props = message.AppendProperty(props, message.PropertyRealTopic, m.Topic)
	props = message.AppendProperty(props, message.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Properties = props
	m.SysFlag = message.ResetTransactionType(m.SysFlag, message.TransactionNotType)
	m.Topic = HalfTopic
	m.QueueID = 0
}

// KeyOf returns the transaction a half record belongs to. A record without
// UNIQ_KEY or __transactionId__ (a hostile one) is a transaction of its
// own, named by its commit-log offset.
func KeyOf(props []byte, commitLogOffset int64) Key {
	k := Key{Group: message.PropertyString(props, message.PropertyProducerGroup)}
	if v, ok := message.PropertyValue(props, message.PropertyUniqClientMessageIDKeyIdx); ok {
		k.ID = string(v)
	} else if v, ok := message.PropertyValue(props, message.PropertyTransactionID); ok {
		k.ID = string(v)
	} else {
		k.ID = "@" + strconv.FormatInt(commitLogOffset, 10)
	}
	return k
}

// HalfOf describes the stored half record r found at queue offset off.
func HalfOf(off int64, r *message.Record) Half {
	h := Half{
		Offset:          off,
		CommitLogOffset: r.PhysicalOffset,
		Key:             KeyOf(r.Properties, r.PhysicalOffset),
		Born:            r.BornTimestamp,
		Stored:          r.StoreTimestamp,
	}
	if v, ok := message.PropertyValue(r.Properties, message.PropertyTransactionCheckTimes); ok {
		if n, err := strconv.ParseInt(string(v), 10, 32); err == nil && n > 0 {
			h.CheckTimes = int32(n)
		}
	}
	if v, ok := message.PropertyValue(r.Properties, message.PropertyCheckImmunityTimeInSeconds); ok {
		// RocketMQ falls back to transactionTimeOut for a value that does
		// not parse; a negative or absurd one does the same here.
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n > 0 && n < 1<<40 {
			h.Immunity = n * 1000
		}
	}
	return h
}

// HalfOfExt is HalfOf for a decoded message.
func HalfOfExt(m *message.MessageExt) Half {
	r := message.Record{
		PhysicalOffset: m.CommitLogOffset, BornTimestamp: m.BornTimestamp,
		StoreTimestamp: m.StoreTimestamp, Properties: m.RawProperties,
	}
	return HalfOf(m.QueueOffset, &r)
}

// realDestination returns the topic and queue a half message was sent to.
func realDestination(props []byte) (string, int32, error) {
	t, ok := message.PropertyValue(props, message.PropertyRealTopic)
	if !ok {
		return "", 0, fmt.Errorf("%w: no %s", ErrNotHalf, message.PropertyRealTopic)
	}
	q, ok := message.PropertyValue(props, message.PropertyRealQueueID)
	if !ok {
		return "", 0, fmt.Errorf("%w: no %s", ErrNotHalf, message.PropertyRealQueueID)
	}
	n, err := strconv.ParseInt(string(q), 10, 32)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("%w: %s %q", ErrNotHalf, message.PropertyRealQueueID, q)
	}
	return string(t), int32(n), nil
}

// CommitMessage rebuilds the message a producer committed from its half
// record: real topic and queue, sysFlag COMMIT, the half record's
// commit-log offset as PreparedTransactionOffset, and the properties
// without the transaction bookkeeping (REAL_TOPIC, REAL_QID, TRAN_MSG,
// TRANSACTION_CHECK_TIMES, TRAN_PREPARED_QUEUE_OFFSET). PGROUP and
// __transactionId__ stay, as in RocketMQ; WAIT=false as well.
func CommitMessage(half *message.MessageExt, storeHost netip.AddrPort) (*message.Inner, error) {
	topic, qid, err := realDestination(half.RawProperties)
	if err != nil {
		return nil, err
	}
	props := dropProperties(half.RawProperties,
		message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPrepared,
		message.PropertyTransactionCheckTimes, message.PropertyTransactionPreparedQueueOffset,
		message.PropertyWaitStoreMsgOK)
	props = message.AppendProperty(props, message.PropertyWaitStoreMsgOK, "false")
	return &message.Inner{
		Topic:                     topic,
		QueueID:                   qid,
		Flag:                      half.Flag,
		Body:                      half.Body,
		Properties:                props,
		SysFlag:                   message.ResetTransactionType(half.SysFlag, message.TransactionCommitType),
		BornTimestamp:             half.BornTimestamp,
		BornHost:                  half.BornHost,
		StoreHost:                 storeHost,
		ReconsumeTimes:            half.ReconsumeTimes,
		PreparedTransactionOffset: half.CommitLogOffset,
	}, nil
}

// CopyMessage is the half record written again at the tail of the half
// queue: with TRANSACTION_CHECK_TIMES = checkTimes for a check-back (-1
// leaves it alone), and TRAN_PREPARED_QUEUE_OFFSET = the original record's
// queue offset for a renewal (-1 for none), as RocketMQ writes them.
func CopyMessage(half *message.MessageExt, storeHost netip.AddrPort, checkTimes int32, preparedQueueOffset int64) *message.Inner {
	drop := []string{message.PropertyWaitStoreMsgOK}
	if checkTimes >= 0 {
		drop = append(drop, message.PropertyTransactionCheckTimes)
	}
	if preparedQueueOffset >= 0 {
		drop = append(drop, message.PropertyTransactionPreparedQueueOffset)
	}
	props := dropProperties(half.RawProperties, drop...)
	if checkTimes >= 0 {
		props = message.AppendProperty(props, message.PropertyTransactionCheckTimes, strconv.Itoa(int(checkTimes)))
	}
	if preparedQueueOffset >= 0 {
		props = message.AppendProperty(props, message.PropertyTransactionPreparedQueueOffset, strconv.FormatInt(preparedQueueOffset, 10))
	}
	props = message.AppendProperty(props, message.PropertyWaitStoreMsgOK, "false")
	return &message.Inner{
		Topic:          HalfTopic,
		QueueID:        0,
		Flag:           half.Flag,
		Body:           half.Body,
		Properties:     props,
		SysFlag:        half.SysFlag,
		BornTimestamp:  half.BornTimestamp,
		BornHost:       half.BornHost,
		StoreHost:      storeHost,
		ReconsumeTimes: half.ReconsumeTimes,
	}
}

// DiscardMessage is the half record moved to TRANS_CHECK_MAX_TIME_TOPIC
// queue 0 once its transaction is abandoned: properties kept (REAL_TOPIC
// says where it was going), WAIT=false.
func DiscardMessage(half *message.MessageExt, storeHost netip.AddrPort) *message.Inner {
	props := dropProperties(half.RawProperties, message.PropertyWaitStoreMsgOK)
	props = message.AppendProperty(props, message.PropertyWaitStoreMsgOK, "false")
	return &message.Inner{
		Topic:          CheckMaxTopic,
		QueueID:        0,
		Flag:           half.Flag,
		Body:           half.Body,
		Properties:     props,
		SysFlag:        half.SysFlag,
		BornTimestamp:  half.BornTimestamp,
		BornHost:       half.BornHost,
		StoreHost:      storeHost,
		ReconsumeTimes: half.ReconsumeTimes,
	}
}

// OpMessage is the op record that marks half offsets done: topic
// RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0, tag "d", body the offsets in
// decimal, comma-separated (RocketMQ 4 writes one offset per record, 5
// several with a trailing comma; ParseOpBody reads all three forms).
func OpMessage(halfOffsets []int64, storeHost netip.AddrPort, now int64) *message.Inner {
	var body []byte
	for i, o := range halfOffsets {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendInt(body, o, 10)
	}
	var props []byte
	props = message.AppendProperty(props, message.PropertyTags, RemoveTag)
	props = message.AppendProperty(props, message.PropertyWaitStoreMsgOK, "false")
	return &message.Inner{
		Topic:         OpTopic,
		QueueID:       0,
		Body:          body,
		Properties:    props,
		BornTimestamp: now,
		BornHost:      storeHost,
		StoreHost:     storeHost,
	}
}

// maxOpRefs bounds the offsets one op record may name.
const maxOpRefs = 4096

// ParseOpBody reads the half offsets an op record names: decimal numbers
// separated by commas, empty items ignored. A malformed body names
// nothing (an error says why).
func ParseOpBody(body []byte) ([]int64, error) {
	var out []int64
	for item := range bytes.SplitSeq(body, []byte{','}) {
		item = bytes.TrimSpace(item)
		if len(item) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(item), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("txn: op record body: bad offset %q", clip(item))
		}
		if len(out) == maxOpRefs {
			return nil, fmt.Errorf("txn: op record body names more than %d offsets", maxOpRefs)
		}
		out = append(out, n)
	}
	return out, nil
}

// CheckBody is the body of a CHECK_TRANSACTION_STATE request: the stored
// copy cp (written at queueOffset / commitLogOffset / stored) encoded as a
// stored record with the topic and queue the producer sent it to, as
// RocketMQ's MessageDecoder.encode produces it.
func CheckBody(cp *message.Inner, queueOffset, commitLogOffset, stored int64) ([]byte, error) {
	topic, qid, err := realDestination(cp.Properties)
	if err != nil {
		return nil, err
	}
	m := *cp
	m.Topic, m.QueueID = topic, qid
	m.QueueOffset, m.CommitLogOffset, m.StoreTimestamp = queueOffset, commitLogOffset, stored
	m.BodyCRC = message.BodyCRC(m.Body)
	n, err := m.RecordSize()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := message.EncodeRecord(buf, &m); err != nil {
		return nil, err
	}
	return buf, nil
}

// dropProperties returns a copy of props without the pairs of the given
// keys; the other pairs keep their bytes and order.
func dropProperties(props []byte, keys ...string) []byte {
	out := make([]byte, 0, len(props)+64)
	for len(props) > 0 {
		end := bytes.IndexByte(props, message.PropertySeparator)
		pair := props
		if end < 0 {
			props = nil
		} else {
			pair, props = props[:end], props[end+1:]
		}
		k := pair
		if i := bytes.IndexByte(pair, message.NameValueSeparator); i >= 0 {
			k = pair[:i]
		}
		if len(pair) == 0 || containsKey(keys, k) {
			continue
		}
		out = append(out, pair...)
		out = append(out, message.PropertySeparator)
	}
	return out
}

func containsKey(keys []string, k []byte) bool {
	for _, key := range keys {
		if key == string(k) {
			return true
		}
	}
	return false
}

// clip shortens bytes from disk or the network for an error message.
func clip(b []byte) string {
	const n = 32
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:n])) + "..."
}
