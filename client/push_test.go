package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// collector is a handler that records what it was given.
type collector struct {
	mu     sync.Mutex
	bodies map[string]int
	n      int
	fail   func(msgs []MessageExt) error
}

func newCollector() *collector { return &collector{bodies: map[string]int{}} }

func (c *collector) handle(_ context.Context, msgs []MessageExt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(msgs); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		c.bodies[string(m.Body)]++
		c.n++
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *collector) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.bodies))
	for k, v := range c.bodies {
		out[k] = v
	}
	return out
}

func fastConsumerOptions(group string) PushConsumerOptions {
	o := DefaultPushConsumerOptions(group)
	o.ConsumeFrom = ConsumeFromFirstOffset
	o.CommitInterval = 20 * time.Millisecond
	o.RebalanceInterval = time.Hour // only notifications rebalance
	o.RetryBackoff = 10 * time.Millisecond
	o.PollTimeout = 2 * time.Second
	return o
}

func startPushConsumer(t *testing.T, c *Client, opts PushConsumerOptions, topic string, h MessageHandler) *PushConsumer {
	t.Helper()
	pc, err := NewPushConsumer(c, opts, h)
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe(topic, Filter{}))
	require.NoError(t, pc.Start(testCtx(t)))
	t.Cleanup(func() { require.NoError(t, pc.Close()) })
	return pc
}

func TestPushConsumerConsumesEverythingAndCommits(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 4)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	for i := range 100 {
		_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: fmt.Appendf(nil, "m%d", i)})
		require.NoError(t, err)
	}
	col := newCollector()
	pc := startPushConsumer(t, c, fastConsumerOptions("cg"), "T", col.handle)
	require.Len(t, pc.Assigned(), 4, "the only member owns every queue")

	eventually(t, "100 messages", func() bool { return col.count() >= 100 })
	got := col.snapshot()
	require.Len(t, got, 100)
	for body, n := range got {
		require.Equal(t, 1, n, "%s delivered once", body)
	}
	eventually(t, "committed offsets", func() bool {
		for q := range int32(4) {
			if fc.brokers[0].offset("cg", "T", q) != 25 {
				return false
			}
		}
		return true
	})

	// Messages sent while it runs arrive through the parked pulls.
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("late")})
	require.NoError(t, err)
	eventually(t, "the late message", func() bool { return col.snapshot()["late"] == 1 })
}

func TestPushConsumerResumesFromCommittedOffsets(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	sendAll := func(prefix string, n int) {
		for i := range n {
			_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: fmt.Appendf(nil, "%s%d", prefix, i)})
			require.NoError(t, err)
		}
	}
	sendAll("a", 10)
	col := newCollector()
	opts := fastConsumerOptions("cg")
	opts.CommitInterval = time.Hour // only Close commits
	pc, err := NewPushConsumer(c, opts, col.handle)
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe("T", Filter{}))
	require.NoError(t, pc.Start(testCtx(t)))
	eventually(t, "the first ten", func() bool { return col.count() == 10 })
	require.NoError(t, pc.Close())
	require.Equal(t, int64(5), fc.brokers[0].offset("cg", "T", 0), "Close commits")

	sendAll("b", 10)
	col2 := newCollector()
	startPushConsumer(t, c, opts, "T", col2.handle)
	eventually(t, "the next ten", func() bool { return col2.count() == 10 })
	for body := range col2.snapshot() {
		require.Equal(t, byte('b'), body[0], "nothing consumed twice: %s", body)
	}
}

func TestPushConsumerFromLastOffsetSkipsTheBacklog(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	sendN(t, p, "T", 5, nil)
	col := newCollector()
	opts := fastConsumerOptions("cg")
	opts.ConsumeFrom = ConsumeFromLastOffset
	startPushConsumer(t, c, opts, "T", col.handle)
	eventually(t, "a committed start", func() bool { return fc.brokers[0].offset("cg", "T", 0) == 5 })
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("new")})
	require.NoError(t, err)
	eventually(t, "the new message", func() bool { return col.count() == 1 })
	require.Equal(t, map[string]int{"new": 1}, col.snapshot())
}

func TestPushConsumerRedeliversRefusedBatches(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	sendN(t, newTestProducer(t, c, ProducerOptions{}), "T", 3, nil)
	col := newCollector()
	refusals := 0
	col.fail = func([]MessageExt) error {
		if refusals < 2 {
			refusals++
			return errors.New("not now")
		}
		return nil
	}
	startPushConsumer(t, c, fastConsumerOptions("cg"), "T", col.handle)
	eventually(t, "the batch accepted", func() bool { return col.count() == 3 })
	require.Equal(t, map[string]int{"m0": 1, "m1": 1, "m2": 1}, col.snapshot())
	eventually(t, "the offset committed", func() bool { return fc.brokers[0].offset("cg", "T", 0) == 3 })
}

func TestPushConsumerRebalancesWhenAMemberJoinsAndLeaves(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 4)
	c1 := newTestClient(t, fc)
	c2 := newTestClient(t, fc)
	col := newCollector()
	a := startPushConsumer(t, c1, fastConsumerOptions("cg"), "T", col.handle)
	require.Len(t, a.Assigned(), 8)

	b, err := NewPushConsumer(c2, fastConsumerOptions("cg"), col.handle)
	require.NoError(t, err)
	require.NoError(t, b.Subscribe("T", Filter{}))
	require.NoError(t, b.Start(testCtx(t)))
	// b's heartbeat made the brokers notify a, which gives half away.
	eventually(t, "four queues each", func() bool { return len(a.Assigned()) == 4 && len(b.Assigned()) == 4 })
	all := append(a.Assigned(), b.Assigned()...)
	require.Equal(t, sortedQueues(all), sortedQueues(slices.Compact(sortedQueues(all))), "no queue owned twice")
	require.Len(t, sortedQueues(all), 8)

	// Each message is consumed by exactly one of them.
	p := newTestProducer(t, c1, ProducerOptions{})
	sendN(t, p, "T", 80, nil)
	eventually(t, "80 messages", func() bool { return col.count() >= 80 })
	for body, n := range col.snapshot() {
		require.Equal(t, 1, n, "%s", body)
	}

	require.NoError(t, b.Close())
	eventually(t, "a owning everything again", func() bool { return len(a.Assigned()) == 8 })
}

func TestPushConsumerLifecycleErrors(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	h := newCollector().handle

	_, err := NewPushConsumer(c, PushConsumerOptions{}, h)
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = NewPushConsumer(c, DefaultPushConsumerOptions("g"), nil)
	require.ErrorIs(t, err, ErrInvalidOptions)

	pc, err := NewPushConsumer(c, DefaultPushConsumerOptions("g"), h)
	require.NoError(t, err)
	require.ErrorIs(t, pc.Start(testCtx(t)), ErrInvalidOptions, "no subscription")
	require.NoError(t, pc.Close())

	pc, err = NewPushConsumer(c, DefaultPushConsumerOptions("g"), h)
	require.NoError(t, err)
	require.ErrorIs(t, pc.Subscribe("bad topic", Filter{}), ErrInvalidMessage)
	require.NoError(t, pc.Subscribe("Missing", Filter{}))
	require.ErrorIs(t, pc.Start(testCtx(t)), ErrTopicNotExist)
	require.NoError(t, pc.Close())

	pc = startPushConsumer(t, c, fastConsumerOptions("g"), "T", h)
	require.ErrorIs(t, pc.Subscribe("T", Filter{}), ErrInvalidOptions, "after Start")
	require.ErrorIs(t, pc.Start(testCtx(t)), ErrInvalidOptions, "twice")
	dup, err := NewPushConsumer(c, fastConsumerOptions("g"), h)
	require.NoError(t, err)
	require.NoError(t, dup.Subscribe("T", Filter{}))
	require.ErrorIs(t, dup.Start(testCtx(t)), ErrInvalidOptions, "one consumer per group and client")
	require.NoError(t, dup.Close())
}

func TestPushConsumerHeartbeatCarriesSubscriptions(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	pc, err := NewPushConsumer(c, fastConsumerOptions("cg"), newCollector().handle)
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe("T", TagFilter("A || B")))
	require.NoError(t, pc.Start(testCtx(t)))
	defer pc.Close()
	b := fc.brokers[0]
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.heartbeats)
	hb := b.heartbeats[0]
	require.Equal(t, c.ID(), hb.ClientID)
	require.Len(t, hb.ConsumerDataSet, 1)
	cd := hb.ConsumerDataSet[0]
	require.Equal(t, "cg", cd.GroupName)
	require.Equal(t, "CONSUME_PASSIVELY", cd.ConsumeType)
	require.Equal(t, "CLUSTERING", cd.MessageModel)
	require.Equal(t, "CONSUME_FROM_FIRST_OFFSET", cd.ConsumeFromWhere)
	sd := cd.SubscriptionDataSet[0]
	require.Equal(t, "T", sd.Topic)
	require.Equal(t, "A || B", sd.SubString)
	require.Equal(t, []string{"A", "B"}, sd.TagsSet)
	require.Equal(t, []int32{65, 66}, []int32(sd.CodeSet))
	require.Equal(t, "TAG", sd.ExpressionType)
}

func TestClientCloseStopsItsConsumers(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	opts := DefaultOptions(fc.addr())
	opts.Logger = testLogger(t)
	c, err := New(opts)
	require.NoError(t, err)
	col := newCollector()
	copts := fastConsumerOptions("cg")
	copts.CommitInterval = time.Hour // only Close commits with UPDATE_CONSUMER_OFFSET
	pc, err := NewPushConsumer(c, copts, col.handle)
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe("T", Filter{}))
	require.NoError(t, pc.Start(testCtx(t)))
	sendN(t, newTestProducer(t, c, ProducerOptions{}), "T", 4, nil)
	eventually(t, "four messages", func() bool { return col.count() == 4 })
	require.Zero(t, fc.brokers[0].callCount(protocol.UpdateConsumerOffset))

	require.NoError(t, c.Close()) // goleak in TestMain checks nothing is left
	require.Equal(t, 2, fc.brokers[0].callCount(protocol.UpdateConsumerOffset), "one commit per queue on the way out")
	require.Equal(t, int64(4), fc.brokers[0].offset("cg", "T", 0)+fc.brokers[0].offset("cg", "T", 1))
	require.NoError(t, pc.Close(), "closing again is harmless")
}

func TestPushConsumerCloseDuringStart(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 4)
	c := newTestClient(t, fc)
	for range 20 {
		pc, err := NewPushConsumer(c, fastConsumerOptions("cg"), newCollector().handle)
		require.NoError(t, err)
		require.NoError(t, pc.Subscribe("T", Filter{}))
		started := make(chan error, 1)
		go func() { started <- pc.Start(testCtx(t)) }()
		require.NoError(t, pc.Close())
		if err := <-started; err != nil {
			require.True(t, errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalidOptions), "%v", err)
		}
		require.NoError(t, pc.Close())
		require.Empty(t, pc.Assigned(), "no queue loop outlives Close")
	}
}

func TestPushConsumerTakesQueuesAddedToItsTopic(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc, func(o *Options) { o.RouteRefreshInterval = 20 * time.Millisecond })
	col := newCollector()
	pc := startPushConsumer(t, c, fastConsumerOptions("cg"), "T", col.handle) // rebalances only when told
	require.Len(t, pc.Assigned(), 2)

	fc.createTopic("T", 4)
	eventually(t, "the new queues owned", func() bool { return len(pc.Assigned()) == 4 })
	p := newTestProducer(t, c, ProducerOptions{Selector: QueueSelectorFunc(func(_ *Message, qs []MessageQueue) MessageQueue { return qs[3] })})
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("on queue 3"), DelayLevel: 2})
	require.NoError(t, err)
	eventually(t, "the message of a new queue", func() bool { return col.snapshot()["on queue 3"] == 1 })
}
