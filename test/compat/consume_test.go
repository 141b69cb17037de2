package compat

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// TestClusteringGroup: two members of one group share the topic's queues;
// every message is consumed once across the group; when one member leaves,
// the other takes its queues over.
func TestClusteringGroup(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic, group = "Clustering", "CG_Clustering"
	sendN(t, p, topic, "warmup", 1, "") // create the topic (8 queues)

	a, b := newSink(), newSink()
	c.pushConsumer(group, topic, "*", a)
	pb := c.pushConsumer(group, topic, "*", b)

	// Until both members hold queues the group is rebalancing, and a queue
	// that moves may hand a message to both (RocketMQ is at-least-once
	// across a rebalance). Probe until each member has received something.
	probes := 0
	eventually(t, 30*time.Second, func() error {
		sendN(t, p, topic, fmt.Sprintf("probe%d", probes), 4, "")
		probes++
		if a.distinct() == 0 || b.distinct() == 0 {
			return fmt.Errorf("a has %d, b has %d", a.distinct(), b.distinct())
		}
		return nil
	})
	settled := quiet(t, 500*time.Millisecond, 10*time.Second, func() int { return a.total() + b.total() })
	require.Equal(t, 1+4*probes, union(a, b), "every probe delivered")

	// With the group settled, every message is consumed exactly once.
	const n = 200
	sendN(t, p, topic, "m", n, "")
	eventually(t, 30*time.Second, func() error {
		if got := union(a, b); got < 1+4*probes+n {
			return fmt.Errorf("%d of %d delivered", got-1-4*probes, n)
		}
		return nil
	})
	total := quiet(t, 500*time.Millisecond, 10*time.Second, func() int { return a.total() + b.total() })
	require.Equal(t, n, total-settled, "a message was delivered twice")

	// b leaves: a is told at once (NOTIFY_CONSUMER_IDS_CHANGED on channel
	// close) and takes every queue.
	require.NoError(t, pb.Shutdown())
	before := a.distinct()
	sendN(t, p, topic, "after", 100, "")
	eventually(t, 30*time.Second, func() error {
		if got := a.distinct() - before; got < 100 {
			return fmt.Errorf("member a got %d of 100 after b left", got)
		}
		return nil
	})
}

func union(sinks ...*sink) int {
	seen := map[string]bool{}
	for _, s := range sinks {
		for _, b := range s.bodies() {
			seen[b] = true
		}
	}
	return len(seen)
}

// TestBroadcasting: every member of a broadcasting group gets every message.
func TestBroadcasting(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic = "Broadcast"
	// Broadcasting offsets live on the client's disk: a group of its own
	// for this run, removed afterwards.
	group := fmt.Sprintf("CG_Broadcast_%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(localOffsetDir(group)) })
	sendN(t, p, topic, "first", 1, "")

	a, b := newSink(), newSink()
	c.pushConsumer(group, topic, "*", a, consumer.WithConsumerModel(consumer.BroadCasting))
	c.pushConsumer(group, topic, "*", b, consumer.WithConsumerModel(consumer.BroadCasting))
	sendN(t, p, topic, "m", 50, "")
	a.waitDistinct(t, 51, 30*time.Second)
	b.waitDistinct(t, 51, 30*time.Second)
}

// TestTagSubscription: "TagA || TagC" delivers TagA and TagC, never TagB.
func TestTagSubscription(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic = "Tags"
	for _, tag := range []string{"TagA", "TagB", "TagC"} {
		sendN(t, p, topic, tag, 20, tag)
	}
	s := newSink()
	c.pushConsumer("CG_Tags", topic, "TagA || TagC", s)
	s.waitDistinct(t, 40, 30*time.Second)
	quiet(t, 500*time.Millisecond, 10*time.Second, s.total)
	for _, b := range s.bodies() {
		require.False(t, strings.HasPrefix(b, "TagB"), "got %s", b)
	}
	for _, m := range s.snapshot() {
		require.Contains(t, []string{"TagA", "TagC"}, m.GetTags())
	}
}

// TestConsumeFromWhere covers the three starting points of a new group.
func TestConsumeFromWhere(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic = "FromWhere"
	sendN(t, p, topic, "old", 20, "")

	t.Run("first", func(t *testing.T) {
		s := newSink()
		c.pushConsumer("CG_First", topic, "*", s, consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
		s.waitDistinct(t, 20, 30*time.Second)
	})

	t.Run("timestamp", func(t *testing.T) {
		// RocketMQ answers a new group's offset query with 0 while the
		// queue still starts at offset 0 and its head is in memory (see
		// "last" below), so on a young queue CONSUME_FROM_TIMESTAMP starts
		// at the head, as against Java RocketMQ. The timestamp itself is
		// honoured by SEARCH_OFFSET_BY_TIMESTAMP (internal/broker tests).
		s := newSink()
		c.pushConsumer("CG_Timestamp", topic, "*", s,
			consumer.WithConsumeFromWhere(consumer.ConsumeFromTimestamp),
			consumer.WithConsumeTimestamp(time.Now().UTC().Format("20060102150405")))
		sendN(t, p, topic, "new", 10, "")
		s.waitDistinct(t, 30, 30*time.Second)
	})

	t.Run("last", func(t *testing.T) {
		// RocketMQ answers a new group's offset query with 0 while the
		// queue still starts at offset 0 and its head is in memory, so
		// CONSUME_FROM_LAST_OFFSET on a young queue starts at the head —
		// applications rely on a new group seeing a new topic's first
		// messages. The consumer therefore gets the old messages too.
		s := newSink()
		c.pushConsumer("CG_Last", topic, "*", s, consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
		sendN(t, p, topic, "latest", 5, "")
		s.waitDistinct(t, 35, 30*time.Second)
	})
}

// TestPullConsumer: Poll/ACK, and PullFrom at explicit offsets.
func TestPullConsumer(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic = "Pull"
	sendN(t, p, topic, "m", 30, "TagP")

	pc, err := newPullConsumer(c, "CG_Pull", topic, "TagP")
	require.NoError(t, err)
	got := map[string]bool{}
	eventually(t, 30*time.Second, func() error {
		cr, err := pc.Poll(context.Background(), 2*time.Second)
		if consumer.IsNoNewMsgError(err) {
			return fmt.Errorf("%d of 30 polled", len(got))
		}
		if err != nil {
			return err
		}
		for _, m := range cr.GetMsgList() {
			got[string(m.Body)] = true
		}
		pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
		if len(got) < 30 {
			return fmt.Errorf("%d of 30 polled", len(got))
		}
		return nil
	})

	// PullFrom: read one queue from offset 0 and again from its middle.
	res, err := pc.PullFrom(context.Background(), firstNonEmptyQueue(t, c, pc, topic), 0, 32)
	require.NoError(t, err)
	require.Equal(t, primitive.PullFound, res.Status)
	require.NotEmpty(t, res.GetMessageExts())
	for i, m := range res.GetMessageExts() {
		require.Equal(t, int64(i), m.QueueOffset)
	}
}

func newPullConsumer(c *cluster, group, topic, tag string) (rocketmqPull, error) {
	pc, err := newRawPullConsumer(c, group)
	if err != nil {
		return nil, err
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: tag}); err != nil {
		return nil, err
	}
	if err := pc.Start(); err != nil {
		return nil, err
	}
	c.t.Cleanup(func() { _ = pc.Shutdown() })
	return pc, nil
}

// firstNonEmptyQueue finds a queue of topic on the broker that holds
// messages from offset 0.
func firstNonEmptyQueue(t *testing.T, c *cluster, pc rocketmqPull, topic string) *primitive.MessageQueue {
	t.Helper()
	for q := 0; q < 8; q++ {
		mq := &primitive.MessageQueue{Topic: topic, BrokerName: c.opts.Broker.BrokerName, QueueId: q}
		res, err := pc.PullFrom(context.Background(), mq, 0, 1)
		if err == nil && res.Status == primitive.PullFound {
			return mq
		}
	}
	t.Fatal("no queue holds messages")
	return nil
}
