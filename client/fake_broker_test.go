package client

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// fakeBroker is an in-memory broker: queues of encoded stored records,
// consumer offsets, group membership with NOTIFY_CONSUMER_IDS_CHANGED,
// long polling, and knobs to make sends fail.
type fakeBroker struct {
	t     *testing.T
	fc    *fakeCluster
	name  string
	srv   *remoting.Server
	store netip.AddrPort

	mu         sync.Mutex
	topics     map[string]protocol.TopicConfig
	queues     map[queueKey][]storedRecord
	physical   int64
	offsets    map[string]int64 // "group@topic@queue" -> offset
	members    map[string]map[string]*remoting.Conn
	heartbeats []protocol.HeartbeatData
	waiters    map[queueKey][]*parkedPull
	calls      map[protocol.RequestCode]int
	failSends  []protocol.ResponseCode // answers for the next sends
	holdSends  chan struct{}           // when set, sends wait on it before answering
	sendCodes  []protocol.RequestCode  // code of every send request, in order
}

type queueKey struct {
	topic string
	queue int32
}

type storedRecord struct {
	data     []byte
	tags     string
	storedAt int64
}

type parkedPull struct {
	conn  *remoting.Conn
	req   *remoting.Command
	h     protocol.PullMessageRequestHeader
	timer *time.Timer
	done  bool
}

func newFakeBroker(t *testing.T, fc *fakeCluster, name string) *fakeBroker {
	b := &fakeBroker{
		t: t, fc: fc, name: name,
		topics:  map[string]protocol.TopicConfig{},
		queues:  map[queueKey][]storedRecord{},
		offsets: map[string]int64{},
		members: map[string]map[string]*remoting.Conn{},
		waiters: map[queueKey][]*parkedPull{},
		calls:   map[protocol.RequestCode]int{},
	}
	b.srv = startServer(t, func(s *remoting.Server) {
		for code, p := range map[protocol.RequestCode]remoting.ProcessorFunc{
			protocol.SendMessage:             b.onSend,
			protocol.SendMessageV2:           b.onSend,
			protocol.SendBatchMessage:        b.onSend,
			protocol.PullMessage:             b.onPull,
			protocol.QueryConsumerOffset:     b.onQueryOffset,
			protocol.UpdateConsumerOffset:    b.onUpdateOffset,
			protocol.GetMaxOffset:            b.onMaxOffset,
			protocol.GetMinOffset:            b.onMinOffset,
			protocol.SearchOffsetByTimestamp: b.onSearchOffset,
			protocol.HeartBeat:               b.onHeartbeat,
			protocol.UnregisterClient:        b.onUnregister,
			protocol.GetConsumerListByGroup:  b.onConsumerList,
			protocol.UpdateAndCreateTopic:    b.onCreateTopic,
			protocol.DeleteTopicInBroker:     b.onDeleteTopic,
			protocol.GetConsumeStats:         b.onConsumeStats,
		} {
			s.Register(code, remoting.Inline, b.counted(code, p))
		}
		s.SetConnEvents(remoting.ConnEvents{Close: b.onConnClose})
	})
	b.store = netip.MustParseAddrPort(b.srv.Addr().String())
	return b
}

func (b *fakeBroker) addr() string { return b.srv.Addr().String() }

func (b *fakeBroker) counted(code protocol.RequestCode, p remoting.ProcessorFunc) remoting.ProcessorFunc {
	return func(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		b.mu.Lock()
		b.calls[code]++
		b.mu.Unlock()
		return p(ctx, c, req)
	}
}

// callCount returns how many requests of code the broker served.
func (b *fakeBroker) callCount(code protocol.RequestCode) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[code]
}

// hold makes sends wait for ch before answering.
func (b *fakeBroker) hold(ch chan struct{}) {
	b.mu.Lock()
	b.holdSends = ch
	b.mu.Unlock()
}

// sendCodesSeen returns the request codes of the sends received.
func (b *fakeBroker) sendCodesSeen() []protocol.RequestCode {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sendCodes)
}

// failNext makes the next sends answer these codes, in order.
func (b *fakeBroker) failNext(codes ...protocol.ResponseCode) {
	b.mu.Lock()
	b.failSends = append(b.failSends, codes...)
	b.mu.Unlock()
}

// createTopicUnregistered creates a topic the name server does not know
// yet: the broker has not registered since.
func (b *fakeBroker) createTopicUnregistered(tc protocol.TopicConfig) {
	b.mu.Lock()
	b.topics[tc.TopicName] = tc
	b.mu.Unlock()
}

func (b *fakeBroker) createTopic(tc protocol.TopicConfig) {
	b.mu.Lock()
	b.topics[tc.TopicName] = tc
	b.mu.Unlock()
	b.fc.register(b, tc)
}

// records returns the stored records of a queue, decoded.
func (b *fakeBroker) records(topic string, queue int32) []*message.MessageExt {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*message.MessageExt
	for _, r := range b.queues[queueKey{topic, queue}] {
		m, err := message.DecodeMessageExt(r.data)
		require.NoError(b.t, err)
		out = append(out, m)
	}
	return out
}

// total returns the number of records stored for topic.
func (b *fakeBroker) total(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for k, rs := range b.queues {
		if k.topic == topic {
			n += len(rs)
		}
	}
	return n
}

// offset returns the stored offset of group on a queue, -1 for none.
func (b *fakeBroker) offset(group, topic string, queue int32) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.offsets[offsetKey(group, topic, queue)]; ok {
		return o
	}
	return -1
}

func offsetKey(group, topic string, queue int32) string {
	return fmt.Sprintf("%s@%s@%d", group, topic, queue)
}

func ok(req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, protocol.Success, "")
}

func (b *fakeBroker) onSend(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.SendMessageRequestHeader
	if err := protocol.DecodeSendMessageHeader(req.RequestCode(), req.ExtFields, &h); err != nil {
		return nil, remoting.Errorf(protocol.MessageIllegal, "%v", err)
	}
	b.mu.Lock()
	b.sendCodes = append(b.sendCodes, req.RequestCode())
	answer := protocol.Success
	if len(b.failSends) > 0 {
		answer = b.failSends[0]
		b.failSends = b.failSends[1:]
		switch answer {
		case protocol.FlushDiskTimeout, protocol.FlushSlaveTimeout, protocol.SlaveNotAvailable:
			// Stored, but not flushed in time: answered below.
		default:
			b.mu.Unlock()
			return remoting.NewResponse(req, answer, "injected failure"), nil
		}
	}
	hold := b.holdSends
	tc, exists := b.topics[h.Topic]
	if !exists {
		def, okDef := b.topics[h.DefaultTopic]
		if !okDef || def.Perm&protocol.PermInherit == 0 {
			b.mu.Unlock()
			return remoting.NewResponse(req, protocol.TopicNotExist, "topic "+h.Topic+" not exist"), nil
		}
		n := min(h.DefaultTopicQueueNums, def.WriteQueueNums)
		tc = protocol.TopicConfig{TopicName: h.Topic, ReadQueueNums: n, WriteQueueNums: n, Perm: 6}
		b.topics[h.Topic] = tc
		defer b.fc.register(b, tc) // after unlocking: the cluster has its own lock
	}
	if exists && !b.fc.knows(h.Topic) {
		defer b.fc.register(b, tc) // a late registration, as a broker's next one
	}
	if h.QueueID < 0 || h.QueueID >= tc.WriteQueueNums {
		b.mu.Unlock()
		// What a broker answers (SendMessageProcessor).
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("request queueId[%d] is illegal", h.QueueID)), nil
	}
	born, _ := netip.ParseAddrPort(c.RemoteAddr())
	in := message.Inner{
		Topic: h.Topic, QueueID: h.QueueID, SysFlag: h.SysFlag, BornTimestamp: h.BornTimestamp,
		BornHost: born, StoreHost: b.store, ReconsumeTimes: h.ReconsumeTimes,
	}
	var ids []string
	var first int64 = -1
	store := func(flag int32, body, props []byte) {
		in.Flag, in.Body, in.Properties = flag, body, props
		off := b.appendLocked(&in)
		if first < 0 {
			first = off
		}
		ids = append(ids, message.OffsetMsgID(b.store, in.CommitLogOffset))
	}
	if h.Batch {
		err := message.DecodeBatch(req.Body, func(e message.BatchEntry) error {
			store(e.Flag, e.Body, e.Properties)
			return nil
		})
		if err != nil {
			b.mu.Unlock()
			return remoting.NewResponse(req, protocol.MessageIllegal, err.Error()), nil
		}
	} else {
		store(h.Flag, req.Body, []byte(h.Properties))
	}
	b.wakeLocked(queueKey{h.Topic, h.QueueID})
	b.mu.Unlock()
	if hold != nil {
		<-hold
	}
	resp := remoting.NewResponse(req, answer, "")
	rh := protocol.SendMessageResponseHeader{MsgID: strings.Join(ids, ","), QueueID: h.QueueID, QueueOffset: first, MsgRegion: "DefaultRegion", TraceOn: "true"}
	resp.ExtFields = rh.AppendExt(nil)
	return resp, nil
}

// appendLocked stores one record and returns its queue offset.
func (b *fakeBroker) appendLocked(in *message.Inner) int64 {
	k := queueKey{in.Topic, in.QueueID}
	in.QueueOffset = int64(len(b.queues[k]))
	in.CommitLogOffset = b.physical
	in.StoreTimestamp = time.Now().UnixMilli()
	in.BodyCRC = message.BodyCRC(in.Body)
	size, err := in.RecordSize()
	require.NoError(b.t, err)
	buf := make([]byte, size)
	_, err = message.EncodeRecord(buf, in)
	require.NoError(b.t, err)
	b.physical += int64(size)
	b.queues[k] = append(b.queues[k], storedRecord{data: buf, tags: message.PropertyString(in.Properties, message.PropertyTags), storedAt: in.StoreTimestamp})
	return in.QueueOffset
}

func (b *fakeBroker) onPull(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.PullMessageRequestHeader
	if err := h.DecodeExt(req.ExtFields); err != nil {
		return nil, remoting.Errorf(protocol.InvalidParameter, "%v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if h.SysFlag&protocol.PullFlagCommitOffset != 0 {
		b.offsets[offsetKey(h.ConsumerGroup, h.Topic, h.QueueID)] = h.CommitOffset
	}
	resp := b.pullLocked(req, &h)
	if resp.Code == int32(protocol.PullNotFound) && h.SysFlag&protocol.PullFlagSuspend != 0 {
		p := &parkedPull{conn: c, req: req, h: h}
		k := queueKey{h.Topic, h.QueueID}
		b.waiters[k] = append(b.waiters[k], p)
		p.timer = time.AfterFunc(time.Duration(h.SuspendTimeoutMillis)*time.Millisecond, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.answerParkedLocked(p)
		})
		return nil, nil // answered later
	}
	return resp, nil
}

// wakeLocked answers the pulls parked on k.
func (b *fakeBroker) wakeLocked(k queueKey) {
	for _, p := range b.waiters[k] {
		p.timer.Stop()
		b.answerParkedLocked(p)
	}
	delete(b.waiters, k)
}

func (b *fakeBroker) answerParkedLocked(p *parkedPull) {
	if p.done {
		return
	}
	p.done = true
	_ = p.conn.Respond(p.req, b.pullLocked(p.req, &p.h))
}

func (b *fakeBroker) pullLocked(req *remoting.Command, h *protocol.PullMessageRequestHeader) *remoting.Command {
	rs := b.queues[queueKey{h.Topic, h.QueueID}]
	maxOff := int64(len(rs))
	answer := func(code protocol.ResponseCode, next int64) *remoting.Command {
		resp := remoting.NewResponse(req, code, "")
		rh := protocol.PullMessageResponseHeader{NextBeginOffset: next, MinOffset: 0, MaxOffset: maxOff}
		resp.ExtFields = rh.AppendExt(nil)
		return resp
	}
	switch {
	case maxOff == 0 && h.QueueOffset == 0, h.QueueOffset == maxOff:
		return answer(protocol.PullNotFound, h.QueueOffset)
	case h.QueueOffset > maxOff:
		return answer(protocol.PullOffsetMoved, maxOff)
	}
	var tags []string
	if h.Subscription != "" && h.Subscription != "*" {
		for t := range strings.SplitSeq(h.Subscription, "||") {
			tags = append(tags, strings.TrimSpace(t))
		}
	}
	var body []byte
	n := int64(0)
	next := h.QueueOffset
	for _, r := range rs[h.QueueOffset:] {
		if n == int64(h.MaxMsgNums) {
			break
		}
		next++
		if tags != nil && !slices.ContainsFunc(tags, func(t string) bool {
			// Like a broker, filter by hash code only.
			return message.TagsHashCode(t) == message.TagsHashCode(r.tags)
		}) {
			continue
		}
		body = append(body, r.data...)
		n++
	}
	if n == 0 {
		return answer(protocol.PullRetryImmediately, next)
	}
	resp := answer(protocol.Success, next)
	resp.Body = body
	return resp
}

func (b *fakeBroker) onQueryOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.QueryConsumerOffsetRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	off, found := b.offsets[offsetKey(h.ConsumerGroup, h.Topic, h.QueueID)]
	b.mu.Unlock()
	if !found {
		return remoting.NewResponse(req, protocol.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"), nil
	}
	return offsetResponse(req, off), nil
}

func offsetResponse(req *remoting.Command, off int64) *remoting.Command {
	resp := ok(req)
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.OffsetResponseHeader{Offset: off})
	return resp
}

func (b *fakeBroker) onUpdateOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UpdateConsumerOffsetRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.offsets[offsetKey(h.ConsumerGroup, h.Topic, h.QueueID)] = h.CommitOffset
	b.mu.Unlock()
	return ok(req), nil
}

func (b *fakeBroker) onMaxOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetMaxOffsetRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	n := len(b.queues[queueKey{h.Topic, h.QueueID}])
	b.mu.Unlock()
	return offsetResponse(req, int64(n)), nil
}

func (b *fakeBroker) onMinOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	return offsetResponse(req, 0), nil
}

func (b *fakeBroker) onSearchOffset(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.SearchOffsetRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	rs := b.queues[queueKey{h.Topic, h.QueueID}]
	i, _ := slices.BinarySearchFunc(rs, h.Timestamp, func(r storedRecord, ts int64) int {
		if r.storedAt < ts {
			return -1
		}
		return 1
	})
	b.mu.Unlock()
	return offsetResponse(req, int64(i)), nil
}

func (b *fakeBroker) onHeartbeat(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var hb protocol.HeartbeatData
	if err := protocol.DecodeBody(req.Body, &hb); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.heartbeats = append(b.heartbeats, hb)
	var changed []string
	for _, cd := range hb.ConsumerDataSet {
		if b.members[cd.GroupName] == nil {
			b.members[cd.GroupName] = map[string]*remoting.Conn{}
		}
		if b.members[cd.GroupName][hb.ClientID] != c {
			b.members[cd.GroupName][hb.ClientID] = c
			changed = append(changed, cd.GroupName)
		}
	}
	b.mu.Unlock()
	for _, g := range changed {
		b.notify(g)
	}
	return ok(req), nil
}

// notify sends NOTIFY_CONSUMER_IDS_CHANGED to every member of group, as
// a broker does when one joins or leaves.
func (b *fakeBroker) notify(group string) {
	b.mu.Lock()
	conns := slices.Collect(maps.Values(b.members[group]))
	b.mu.Unlock()
	ext := protocol.EncodeHeader(nil, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: group})
	for _, c := range conns {
		_ = c.InvokeOneway(context.Background(), remoting.NewRequest(protocol.NotifyConsumerIDsChanged, ext, nil))
	}
}

func (b *fakeBroker) onUnregister(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UnregisterClientRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	_, was := b.members[h.ConsumerGroup][h.ClientID]
	delete(b.members[h.ConsumerGroup], h.ClientID)
	b.mu.Unlock()
	if was {
		b.notify(h.ConsumerGroup)
	}
	return ok(req), nil
}

func (b *fakeBroker) onConnClose(c *remoting.Conn) {
	var changed []string
	b.mu.Lock()
	for g, m := range b.members {
		for id, mc := range m {
			if mc == c {
				delete(m, id)
				changed = append(changed, g)
			}
		}
	}
	b.mu.Unlock()
	for _, g := range changed {
		go b.notify(g) // not on the transport goroutine running this callback
	}
}

func (b *fakeBroker) onConsumerList(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	body := protocol.ConsumerListByGroup{ConsumerIDList: slices.Sorted(maps.Keys(b.members[h.ConsumerGroup]))}
	b.mu.Unlock()
	resp := ok(req)
	var err error
	resp.Body, err = protocol.EncodeBody(&body)
	return resp, err
}

func (b *fakeBroker) onCreateTopic(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.CreateTopicRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.createTopic(protocol.TopicConfig{TopicName: h.Topic, ReadQueueNums: h.ReadQueueNums, WriteQueueNums: h.WriteQueueNums, Perm: h.Perm, Order: h.Order})
	return ok(req), nil
}

func (b *fakeBroker) onDeleteTopic(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	delete(b.topics, h.Topic)
	b.mu.Unlock()
	b.fc.unregister(b, h.Topic)
	return ok(req), nil
}

func (b *fakeBroker) onConsumeStats(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetConsumeStatsRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	cs := protocol.ConsumeStats{OffsetTable: protocol.MQMap[protocol.OffsetWrapper]{}}
	for i := range b.topics[h.Topic].ReadQueueNums {
		k := queueKey{h.Topic, i}
		cs.OffsetTable[protocol.MessageQueue{Topic: h.Topic, BrokerName: b.name, QueueID: i}] = protocol.OffsetWrapper{
			BrokerOffset:   int64(len(b.queues[k])),
			ConsumerOffset: b.offsets[offsetKey(h.ConsumerGroup, h.Topic, i)],
		}
	}
	b.mu.Unlock()
	resp := ok(req)
	var err error
	resp.Body, err = protocol.EncodeBody(&cs)
	return resp, err
}
