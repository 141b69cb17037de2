package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Message query: what `mqadmin queryMsgById`, `queryMsgByKey`,
// `queryMsgByUniqueKey` and a dashboard's "by topic and time" show.
// Brokers find messages by offset message id (VIEW_MESSAGE_BY_ID), by
// UNIQ_KEY or KEYS through their index (QUERY_MESSAGE); a topic and a time
// range have no request of their own, so QueryMessagesByTime searches each
// queue's offsets by time and pulls the range between them.

// ErrMessageNotFound is returned when no message matches a query.
var ErrMessageNotFound = errors.New("client: message not found")

// Message query limits.
const (
	// DefaultQueryMaxNum is the number of messages a query returns when
	// the caller says 0, as mqadmin's.
	DefaultQueryMaxNum = 32
	// MaxQueryMaxNum bounds what one query may return.
	MaxQueryMaxNum = 10_000
)

// toolsConsumerGroup is the group admin tools pull with: RocketMQ brokers
// create it at start, and a pull without the commit-offset flag leaves
// no offset behind.
const toolsConsumerGroup = "TOOLS_CONSUMER"

// uniqueKeyQueryFlag in QUERY_MESSAGE's extFields asks for a lookup by
// UNIQ_KEY (MixAll.UNIQUE_MSG_QUERY_FLAG).
const uniqueKeyQueryFlag = "_UNIQUE_KEY_QUERY"

func queryMaxNum(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultQueryMaxNum, nil
	case n < 0 || n > MaxQueryMaxNum:
		return 0, fmt.Errorf("%w: maxNum %d outside [1, %d]", ErrInvalidOptions, n, MaxQueryMaxNum)
	}
	return n, nil
}

// ViewMessage returns the message an offset message id names (the msgId
// of a send result, MessageExt.OffsetMsgID): the id holds the storing
// broker's address and the message's commit-log offset, and that broker
// answers VIEW_MESSAGE_BY_ID. The id names an address, not a broker, so
// the message's BrokerName is empty.
func (a *Admin) ViewMessage(ctx context.Context, offsetMsgID string) (MessageExt, error) {
	host, offset, err := message.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return MessageExt{}, fmt.Errorf("%w: offset message id %q: %w", ErrInvalidOptions, offsetMsgID, err)
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	addr := host.String()
	ext := protocol.EncodeHeader(nil, &protocol.ViewMessageRequestHeader{Offset: offset})
	resp, err := a.c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.ViewMessageByID, ext, nil))
	if err != nil {
		return MessageExt{}, fmt.Errorf("client: view message %s: %w", offsetMsgID, err)
	}
	msgs, err := decodeMessages(resp.Body, MessageQueue{}, nil)
	if err != nil {
		return MessageExt{}, fmt.Errorf("client: view message %s from %s: %w", offsetMsgID, addr, err)
	}
	if len(msgs) != 1 || msgs[0].CommitLogOffset != offset {
		return MessageExt{}, fmt.Errorf("%w: view message %s: %s answered %d messages, not the one asked", ErrBadResponse, offsetMsgID, addr, len(msgs))
	}
	return msgs[0], nil
}

// QueryMessagesByKey returns the messages of topic with key among their
// KEYS, stored within [begin, end], newest first, at most maxNum (0 means
// DefaultQueryMaxNum; each broker returns at most 64), from every broker
// of the topic (QUERY_MESSAGE). ErrMessageNotFound means none matched.
func (a *Admin) QueryMessagesByKey(ctx context.Context, topic, key string, begin, end time.Time, maxNum int) ([]MessageExt, error) {
	n, err := queryMaxNum(maxNum)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidOptions)
	}
	return a.queryIndex(ctx, topic, key, false, begin.UnixMilli(), end.UnixMilli(), n)
}

// QueryMessagesByID returns the messages whose client-side message id
// (UNIQ_KEY, the msgId of the official clients' send results) is msgID:
// usually one, more if a send was retried and stored twice. The id
// carries its creation time, which bounds the search.
// ErrMessageNotFound means none matched.
func (a *Admin) QueryMessagesByID(ctx context.Context, topic, msgID string) ([]MessageExt, error) {
	if msgID == "" {
		return nil, fmt.Errorf("%w: empty message id", ErrInvalidOptions)
	}
	begin := int64(0)
	if t, err := message.UniqIDTime(msgID, time.Now()); err == nil {
		begin = t.Add(-time.Minute).UnixMilli() // the id's clock is the producer's
	}
	return a.queryIndex(ctx, topic, msgID, true, begin, math.MaxInt64, DefaultQueryMaxNum)
}

// queryIndex sends QUERY_MESSAGE to a member of every broker of topic
// (its master when it has one) and merges the answers, newest first. A
// broker's index can hold false hits (hash collisions), so every message
// is checked against the key.
func (a *Admin) queryIndex(ctx context.Context, topic, key string, uniq bool, begin, end int64, maxNum int) ([]MessageExt, error) {
	r, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	h := protocol.QueryMessageRequestHeader{Topic: topic, Key: key, MaxNum: int32(maxNum), BeginTimestamp: begin, EndTimestamp: end}
	var out []MessageExt
	seen := map[string]bool{} // offset message ids: a broker pair may answer the same message
	var errs []error
	for _, b := range r.Brokers {
		addr := anyMemberAddr(b)
		if addr == "" {
			continue
		}
		ext := protocol.EncodeHeader(nil, &h)
		if uniq {
			ext = append(ext, protocol.ExtField{Key: uniqueKeyQueryFlag, Value: "true"})
		}
		resp, err := a.c.invoke(ctx, addr, remoting.NewRequest(protocol.QueryMessage, ext, nil))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("client: query message %q on %s: %w", key, addr, err))
			continue
		case resp.Code == int32(protocol.QueryNotFound):
			continue
		case resp.Code != int32(protocol.Success):
			errs = append(errs, fmt.Errorf("client: query message %q: %w", key, brokerError(addr, resp.Code, resp.Remark)))
			continue
		}
		msgs, err := decodeMessages(resp.Body, MessageQueue{Topic: topic, BrokerName: b.BrokerName}, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("client: query message %q on %s: %w", key, addr, err))
			continue
		}
		for _, m := range msgs {
			id := m.OffsetMsgID()
			if m.Topic != topic || seen[id] || !matchesKey(&m, key, uniq) {
				continue
			}
			seen[id] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: topic %q, key %q", ErrMessageNotFound, topic, key)
	}
	slices.SortFunc(out, func(x, y MessageExt) int {
		return cmp.Or(y.StoreTimestamp.Compare(x.StoreTimestamp), cmp.Compare(x.BrokerName, y.BrokerName),
			cmp.Compare(y.CommitLogOffset, x.CommitLogOffset))
	})
	return out[:min(len(out), maxNum)], nil
}

func matchesKey(m *MessageExt, key string, uniq bool) bool {
	if uniq {
		return m.Property(message.PropertyUniqClientMessageIDKeyIdx) == key
	}
	return slices.Contains(m.Keys(), key)
}

// anyMemberAddr returns a broker group's master, or its member with the
// lowest id when it has no master.
func anyMemberAddr(b BrokerData) string {
	if a := b.MasterAddr(); a != "" {
		return a
	}
	ids := slices.Sorted(maps.Keys(b.Addrs))
	if len(ids) == 0 {
		return ""
	}
	return b.Addrs[ids[0]]
}

// QueryMessagesByTime returns the messages of topic stored within
// [begin, end) (to the millisecond, the resolution of store times), oldest
// first, at most maxNum (0 means DefaultQueryMaxNum).
// Each readable queue is searched for the offsets at begin and end
// (SEARCH_OFFSET_BY_TIMESTAMP) and the range between them pulled as the
// TOOLS_CONSUMER group, which commits no offset; at most maxNum messages
// are read per queue, so the work is bounded by queues x maxNum.
// ErrMessageNotFound means the range holds none.
func (a *Admin) QueryMessagesByTime(ctx context.Context, topic string, begin, end time.Time, maxNum int) ([]MessageExt, error) {
	n, err := queryMaxNum(maxNum)
	if err != nil {
		return nil, err
	}
	if !begin.Before(end) {
		return nil, fmt.Errorf("%w: begin %v is not before end %v", ErrInvalidOptions, begin, end)
	}
	if err := validateTopic(topic); err != nil {
		return nil, err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	queues, err := a.c.subscribeQueues(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []MessageExt
	for _, q := range queues {
		msgs, err := a.queueRange(ctx, q, begin, end, n)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: topic %q between %v and %v", ErrMessageNotFound, topic, begin, end)
	}
	slices.SortFunc(out, func(x, y MessageExt) int {
		// Within a millisecond a broker's commit log has the order.
		return cmp.Or(x.StoreTimestamp.Compare(y.StoreTimestamp), cmp.Compare(x.BrokerName, y.BrokerName),
			cmp.Compare(x.CommitLogOffset, y.CommitLogOffset))
	})
	return out[:min(len(out), n)], nil
}

// queueRange reads the messages of q stored within [begin, end), at most
// maxNum.
func (a *Admin) queueRange(ctx context.Context, q MessageQueue, begin, end time.Time, maxNum int) ([]MessageExt, error) {
	from, err := a.c.queueOffsetAt(ctx, q, begin)
	if err != nil {
		return nil, err
	}
	to, err := a.c.queueOffsetAt(ctx, q, end)
	if err != nil {
		return nil, err
	}
	var out []MessageExt
	for off := from; off < to && len(out) < maxNum; {
		res, err := a.c.pull(ctx, toolsConsumerGroup, 0, PullRequest{Queue: q, Offset: off, MaxNums: min(32, int(to-off))})
		if err != nil {
			return nil, err
		}
		if res.NextBeginOffset <= off {
			break // nothing more to read here
		}
		if res.Status != PullFound {
			off = res.NextBeginOffset // the head was deleted (retention): go on from the new head
			continue
		}
		for _, m := range res.Messages {
			if m.QueueOffset >= to || len(out) >= maxNum {
				break
			}
			// Store times have millisecond resolution, as the search.
			if ts := m.StoreTimestamp.UnixMilli(); ts >= begin.UnixMilli() && ts < end.UnixMilli() {
				out = append(out, m)
			}
		}
		off = res.NextBeginOffset
	}
	return out, nil
}
