package client

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

func newTestPullConsumer(t *testing.T, c *Client, group string) *PullConsumer {
	t.Helper()
	pc, err := NewPullConsumer(c, PullConsumerOptions{Group: group})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pc.Close()) })
	return pc
}

// sendN sends n messages to queue 0 of topic on broker-a, with bodies
// "m0".."m<n-1>".
func sendN(t *testing.T, p *Producer, topic string, n int, tags func(int) string) {
	t.Helper()
	for i := range n {
		m := &Message{Topic: topic, Body: fmt.Appendf(nil, "m%d", i)}
		if tags != nil {
			m.Tags = tags(i)
		}
		_, err := p.Send(testCtx(t), m)
		require.NoError(t, err)
	}
}

func TestPullDecodesMessages(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	before := time.Now().Add(-time.Second)
	res0, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("first"), Tags: "A", Keys: []string{"k"}, Flag: 3,
		Properties: map[string]string{"p": "v"}})
	require.NoError(t, err)
	sendN(t, p, "T", 4, nil)

	pc := newTestPullConsumer(t, c, "g")
	qs, err := pc.Queues(testCtx(t), "T")
	require.NoError(t, err)
	require.Equal(t, []MessageQueue{{Topic: "T", BrokerName: "broker-a", QueueID: 0}}, qs)

	res, err := pc.Pull(testCtx(t), PullRequest{Queue: qs[0], Offset: 0, MaxNums: 3})
	require.NoError(t, err)
	require.Equal(t, PullFound, res.Status)
	require.Equal(t, int64(3), res.NextBeginOffset)
	require.Equal(t, int64(5), res.MaxOffset)
	require.Len(t, res.Messages, 3)
	m := res.Messages[0]
	require.Equal(t, "first", string(m.Body))
	require.Equal(t, "T", m.Topic)
	require.Equal(t, qs[0], m.Queue())
	require.Equal(t, int64(0), m.QueueOffset)
	require.Equal(t, int32(3), m.Flag)
	require.Equal(t, "A", m.Tags())
	require.Equal(t, []string{"k"}, m.Keys())
	require.Equal(t, "v", m.Property("p"))
	require.Equal(t, res0.MsgID, m.MsgID())
	require.Equal(t, res0.OffsetMsgID, m.OffsetMsgID())
	require.Equal(t, map[string]string{"TAGS": "A", "KEYS": "k", "p": "v", "UNIQ_KEY": res0.MsgID}, m.Properties())
	require.True(t, m.BornTimestamp.After(before))
	require.False(t, m.StoreTimestamp.Before(m.BornTimestamp))
	require.Equal(t, netip.MustParseAddrPort(fc.brokers[0].addr()), m.StoreHost)
	require.Equal(t, message.BodyCRC(m.Body), m.BodyCRC)
	require.Equal(t, "m0", string(res.Messages[1].Body))
	require.Equal(t, int64(2), res.Messages[2].QueueOffset)

	// A body append must not run into the next message's bytes.
	next := string(res.Messages[1].Body)
	_ = append(res.Messages[0].Body, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"...)
	require.Equal(t, next, string(res.Messages[1].Body))

	res, err = pc.Pull(testCtx(t), PullRequest{Queue: qs[0], Offset: 5})
	require.NoError(t, err)
	require.Equal(t, PullNoNewMsg, res.Status)
	require.Empty(t, res.Messages)

	res, err = pc.Pull(testCtx(t), PullRequest{Queue: qs[0], Offset: 99})
	require.NoError(t, err)
	require.Equal(t, PullOffsetIllegal, res.Status)
	require.Equal(t, int64(5), res.NextBeginOffset)
}

func TestPullFiltersTagsThatShareAHash(t *testing.T) {
	// "Aa" and "BB" have the same Java hash code: the broker cannot tell
	// them apart, the client must.
	require.Equal(t, message.TagsHashCode("Aa"), message.TagsHashCode("BB"))
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	sendN(t, p, "T", 6, func(i int) string { return []string{"Aa", "BB", "C"}[i%3] })

	pc := newTestPullConsumer(t, c, "g")
	q := MessageQueue{Topic: "T", BrokerName: "broker-a"}
	res, err := pc.Pull(testCtx(t), PullRequest{Queue: q, Filter: TagFilter("Aa || C")})
	require.NoError(t, err)
	var tags []string
	for _, m := range res.Messages {
		tags = append(tags, m.Tags())
	}
	require.Equal(t, []string{"Aa", "C", "Aa", "C"}, tags)
	require.Equal(t, int64(6), res.NextBeginOffset)

	res, err = pc.Pull(testCtx(t), PullRequest{Queue: q, Filter: TagFilter("BB")})
	require.NoError(t, err)
	require.Len(t, res.Messages, 2)

	res, err = pc.Pull(testCtx(t), PullRequest{Queue: q, Filter: TagFilter("Nope")})
	require.NoError(t, err)
	require.Equal(t, PullNoMatchedMsg, res.Status)
	require.Equal(t, int64(6), res.NextBeginOffset)
}

func TestPullLongPollsUntilAMessageArrives(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	pc := newTestPullConsumer(t, c, "g")
	q := MessageQueue{Topic: "T", BrokerName: "broker-a"}

	type result struct {
		res PullResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := pc.Pull(context.Background(), PullRequest{Queue: q, Suspend: 10 * time.Second})
		done <- result{res, err}
	}()
	// The pull is parked at the broker, not answered.
	eventually(t, "the pull to be parked", func() bool {
		fc.brokers[0].mu.Lock()
		defer fc.brokers[0].mu.Unlock()
		return len(fc.brokers[0].waiters[queueKey{"T", 0}]) == 1
	})
	select {
	case r := <-done:
		t.Fatalf("pull answered before any message: %+v", r)
	default:
	}
	sendN(t, p, "T", 1, nil)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, PullFound, r.res.Status)
	require.Len(t, r.res.Messages, 1)

	// With nothing arriving, the broker answers when the suspend ends.
	res, err := pc.Pull(testCtx(t), PullRequest{Queue: q, Offset: 1, Suspend: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, PullNoNewMsg, res.Status)
}

func TestPullCommitOffsetFlag(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	sendN(t, newTestProducer(t, c, ProducerOptions{}), "T", 3, nil)
	pc := newTestPullConsumer(t, c, "g")
	q := MessageQueue{Topic: "T", BrokerName: "broker-a"}
	_, err := pc.Pull(testCtx(t), PullRequest{Queue: q, Offset: 2, CommitOffset: 2})
	require.NoError(t, err)
	require.Equal(t, int64(2), fc.brokers[0].offset("g", "T", 0))
}

func TestOffsets(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc)
	pc := newTestPullConsumer(t, c, "g")
	q := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}

	_, err := pc.QueryOffset(testCtx(t), q)
	require.ErrorIs(t, err, ErrOffsetNotFound)
	var be *BrokerError
	require.ErrorAs(t, err, &be)
	require.Equal(t, CodeQueryNotFound, be.Code)

	require.NoError(t, pc.UpdateOffset(testCtx(t), q, 42))
	off, err := pc.QueryOffset(testCtx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(42), off)
	require.Equal(t, int64(42), fc.brokers[0].offset("g", "T", 1))

	p := newTestProducer(t, c, ProducerOptions{Selector: QueueSelectorFunc(func(_ *Message, qs []MessageQueue) MessageQueue { return qs[1] })})
	sendN(t, p, "T", 3, nil)
	max, err := pc.MaxOffset(testCtx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(3), max)
	min, err := pc.MinOffset(testCtx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(0), min)
	at, err := pc.SearchOffset(testCtx(t), q, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(3), at)
	at, err = pc.SearchOffset(testCtx(t), q, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(0), at)

	_, err = pc.MaxOffset(testCtx(t), MessageQueue{Topic: "T", BrokerName: "broker-zz"})
	require.ErrorIs(t, err, ErrBrokerNotFound)
}

func TestPullRejectsBadRequests(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	pc := newTestPullConsumer(t, newTestClient(t, fc), "g")
	q := MessageQueue{Topic: "T", BrokerName: "broker-a"}
	_, err := pc.Pull(testCtx(t), PullRequest{Queue: q, Offset: -1})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = pc.Pull(testCtx(t), PullRequest{Queue: q, Filter: Filter{Type: "XPATH"}})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = pc.Pull(testCtx(t), PullRequest{Queue: q, Filter: SQLFilter(" ")})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = NewPullConsumer(pc.c, PullConsumerOptions{})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

func TestPullConsumerIsAnnouncedWithoutSubscriptions(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	pc := newTestPullConsumer(t, c, "pull-group")
	_, err := pc.Queues(testCtx(t), "T") // a route, hence a broker to announce to
	require.NoError(t, err)
	eventually(t, "a heartbeat naming the group", func() bool {
		b := fc.brokers[0]
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, hb := range b.heartbeats {
			for _, cd := range hb.ConsumerDataSet {
				if cd.GroupName == "pull-group" && cd.ConsumeType == protocol.ConsumeActively {
					return true
				}
			}
		}
		return false
	})
}
