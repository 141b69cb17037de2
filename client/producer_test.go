package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

func TestSendStoresWhatTheMessageSays(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 4)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{Group: "pg"})

	msg := &Message{
		Topic: "T", Body: []byte("hello"), Tags: "TagA", Keys: []string{"k1", "k2"}, DelayLevel: 3, Flag: 7,
		Properties: map[string]string{"color": "blue", "TAGS": "overridden"},
	}
	res, err := p.Send(testCtx(t), msg)
	require.NoError(t, err)
	require.Equal(t, SendOK, res.Status)
	require.Len(t, res.MsgID, message.UniqIDLen)
	require.Equal(t, "broker-a", res.Queue.BrokerName)
	require.Equal(t, int64(0), res.QueueOffset)
	require.Equal(t, "DefaultRegion", res.RegionID)
	require.True(t, res.TraceOn)

	stored := fc.brokers[0].records("T", int32(res.Queue.QueueID))
	require.Len(t, stored, 1)
	m := stored[0]
	require.Equal(t, "hello", string(m.Body))
	require.Equal(t, int32(7), m.Flag)
	require.Equal(t, "TagA", m.Property("TAGS"))
	require.Equal(t, "k1 k2", m.Property("KEYS"))
	require.Equal(t, "3", m.Property("DELAY"))
	require.Equal(t, "blue", m.Property("color"))
	require.Equal(t, res.MsgID, m.Property("UNIQ_KEY"))
	require.Equal(t, res.OffsetMsgID, m.OffsetMsgID)
	require.Equal(t, []protocol.RequestCode{protocol.SendMessageV2}, fc.brokers[0].sendCodesSeen())
}

func TestSendKeepsUserMessageID(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x"), Properties: map[string]string{"UNIQ_KEY": "MYID"}})
	require.NoError(t, err)
	require.Equal(t, "MYID", res.MsgID)
	require.Equal(t, "MYID", fc.brokers[0].records("T", 0)[0].Property("UNIQ_KEY"))
}

func TestSendRoundRobinsOverQueuesAndBrokers(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 2)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	seen := map[MessageQueue]int{}
	for range 8 {
		res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
		require.NoError(t, err)
		seen[res.Queue]++
	}
	require.Len(t, seen, 4, "every queue of both brokers")
	for q, n := range seen {
		require.Equal(t, 2, n, "queue %s", q)
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	fc := newFakeCluster(t, 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{MaxMessageSize: 10})
	for name, m := range map[string]*Message{
		"nil":        nil,
		"no topic":   {Body: []byte("x")},
		"bad topic":  {Topic: "a b", Body: []byte("x")},
		"long topic": {Topic: strings.Repeat("t", 128), Body: []byte("x")},
		"no body":    {Topic: "T"},
		"too big":    {Topic: "T", Body: make([]byte, 11)},
		"bad tag":    {Topic: "T", Body: []byte("x"), Tags: "a\x01b"},
		"bad key":    {Topic: "T", Body: []byte("x"), Keys: []string{"a b"}},
		"bad prop":   {Topic: "T", Body: []byte("x"), Properties: map[string]string{"k": "v\x02"}},
		"huge props": {Topic: "T", Body: []byte("x"), Properties: map[string]string{"k": strings.Repeat("v", 40000)}},
	} {
		_, err := p.Send(testCtx(t), m)
		require.ErrorIs(t, err, ErrInvalidMessage, name)
	}
	require.Zero(t, fc.brokers[0].callCount(protocol.SendMessageV2), "nothing reached the broker")
}

func TestSendRetriesRetryableCodesOnAnotherBroker(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	// Whichever broker the first attempt goes to refuses once.
	fc.brokers[0].failNext(protocol.SystemError)
	fc.brokers[1].failNext(protocol.SystemError)

	res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.NoError(t, err)
	first := fc.brokers[0]
	if res.Queue.BrokerName == "broker-a" {
		first = fc.brokers[1]
	}
	require.Equal(t, 1, first.callCount(protocol.SendMessageV2), "the first attempt went to the other broker")
	require.Equal(t, 1, fc.brokers[0].total("T")+fc.brokers[1].total("T"), "stored once")
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{MaxAttempts: 2})
	fc.brokers[0].failNext(protocol.ServiceNotAvailable, protocol.ServiceNotAvailable, protocol.ServiceNotAvailable)

	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	var be *BrokerError
	require.ErrorAs(t, err, &be)
	require.Equal(t, CodeServiceNotAvailable, be.Code)
	require.Equal(t, 2, fc.brokers[0].callCount(protocol.SendMessageV2))
}

func TestSendDoesNotRetryOtherCodes(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	fc.brokers[0].failNext(protocol.SystemBusy)

	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	var be *BrokerError
	require.ErrorAs(t, err, &be)
	require.Equal(t, CodeSystemBusy, be.Code)
	require.Equal(t, "injected failure", be.Remark)
	require.Equal(t, fc.brokers[0].addr(), be.Addr)
	require.Equal(t, 1, fc.brokers[0].callCount(protocol.SendMessageV2))
}

func TestSendReportsStoredButNotFlushed(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	fc.brokers[0].failNext(protocol.FlushDiskTimeout)
	res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.NoError(t, err, "stored is not an error")
	require.Equal(t, SendFlushDiskTimeout, res.Status)
	require.Equal(t, 1, fc.brokers[0].callCount(protocol.SendMessageV2), "not retried: it is stored")
	require.Equal(t, 1, fc.brokers[0].total("T"))
}

func TestSendRetriesWhenABrokerIsDown(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	// broker-a stops listening but stays in the route.
	require.NoError(t, fc.brokers[0].srv.Close())
	for range 4 {
		res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
		require.NoError(t, err)
		require.Equal(t, "broker-b", res.Queue.BrokerName)
	}
}

func TestSendBorrowsTheDefaultTopicRoute(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	res, err := p.Send(testCtx(t), &Message{Topic: "NewTopic", Body: []byte("x")})
	require.NoError(t, err)
	require.Less(t, res.Queue.QueueID, 4, "DefaultTopicQueueNums caps the borrowed queues")
	require.Equal(t, 1, fc.brokers[0].total("NewTopic"))
	r := c.routes.lookup("NewTopic")
	require.True(t, r.fromDefault)
	require.Len(t, r.pub, 4)

	// The broker created the topic; a refresh replaces the borrowed route.
	c.refreshRoutes(testCtx(t))
	r = c.routes.lookup("NewTopic")
	require.False(t, r.fromDefault)
	require.Len(t, r.pub, 4)
}

func TestSendOnABorrowedRouteThatProvesWrongFetchesTheRouteAgain(t *testing.T) {
	fc := newFakeCluster(t, 1)
	// The broker has the topic with one queue; the name server does not
	// know it yet, so the producer borrows TBW102's route (four queues).
	fc.brokers[0].createTopicUnregistered(protocol.TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, 0, res.Queue.QueueID)
	require.False(t, c.routes.lookup("T").fromDefault, "the real route replaced the borrowed one")
	require.Equal(t, 2, fc.brokers[0].callCount(protocol.SendMessageV2), "one refusal, one success")
}

func TestSendWithoutFallbackFailsOnUnknownTopic(t *testing.T) {
	fc := newFakeCluster(t, 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{DisableTopicFallback: true})
	_, err := p.Send(testCtx(t), &Message{Topic: "Nope", Body: []byte("x")})
	require.ErrorIs(t, err, ErrTopicNotExist)
	var be *BrokerError
	require.ErrorAs(t, err, &be)
	require.Equal(t, fc.addr(), be.Addr)
}

func TestHashSelectorKeepsAKeyOnOneQueue(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 4)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{Selector: HashSelector()})
	queues := map[string]map[MessageQueue]bool{}
	for i := range 40 {
		key := fmt.Sprintf("order-%d", i%5)
		res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x"), ShardingKey: key})
		require.NoError(t, err)
		if queues[key] == nil {
			queues[key] = map[MessageQueue]bool{}
		}
		queues[key][res.Queue] = true
	}
	for key, qs := range queues {
		require.Len(t, qs, 1, "key %s", key)
	}
	// Java's SelectMessageQueueByHash: abs(hashCode % n) over sorted queues.
	q := HashSelector().Select(&Message{ShardingKey: "order-1"}, []MessageQueue{{QueueID: 0}, {QueueID: 1}, {QueueID: 2}})
	want := message.JavaHashCode("order-1") % 3
	if want < 0 {
		want = -want
	}
	require.Equal(t, int(want), q.QueueID)
}

func TestSendAsyncCallsBackOncePerMessage(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 4)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{MaxInFlight: 16})
	const n = 500
	var wg sync.WaitGroup
	var okCount, calls atomic.Int64
	ids := sync.Map{}
	wg.Add(n)
	for i := range n {
		err := p.SendAsync(testCtx(t), &Message{Topic: "T", Body: fmt.Appendf(nil, "m%d", i)}, func(res SendResult, err error) {
			defer wg.Done()
			calls.Add(1)
			if err == nil && res.Status == SendOK {
				okCount.Add(1)
				ids.Store(res.MsgID, true)
			}
		})
		require.NoError(t, err)
	}
	wg.Wait()
	require.Equal(t, int64(n), calls.Load())
	require.Equal(t, int64(n), okCount.Load())
	distinct := 0
	ids.Range(func(any, any) bool { distinct++; return true })
	require.Equal(t, n, distinct, "every message has its own id")
	require.Equal(t, n, fc.brokers[0].total("T")+fc.brokers[1].total("T"))
}

func TestSendAsyncWindowPushesBack(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	hold := make(chan struct{})
	fc.brokers[0].hold(hold)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{MaxInFlight: 3})
	var done atomic.Int64
	cb := func(SendResult, error) { done.Add(1) }
	for range 3 {
		require.NoError(t, p.SendAsync(testCtx(t), &Message{Topic: "T", Body: []byte("x")}, cb))
	}
	// The window is full: the fourth waits until its context gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.SendAsync(ctx, &Message{Topic: "T", Body: []byte("x")}, cb)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	close(hold)
	eventually(t, "three callbacks", func() bool { return done.Load() == 3 })
	require.NoError(t, p.SendAsync(testCtx(t), &Message{Topic: "T", Body: []byte("x")}, cb))
	require.NoError(t, p.Close(), "Close waits for the last callback")
	require.Equal(t, int64(4), done.Load())
	require.ErrorIs(t, p.SendAsync(testCtx(t), &Message{Topic: "T", Body: []byte("x")}, cb), ErrClosed)
}

func TestSendAsyncReportsTimeouts(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	hold := make(chan struct{})
	defer close(hold)
	fc.brokers[0].hold(hold)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, p.SendAsync(ctx, &Message{Topic: "T", Body: []byte("x")}, func(_ SendResult, err error) { errc <- err }))
	require.ErrorIs(t, <-errc, context.DeadlineExceeded)
}

// Without a deadline of its own a send gets RequestTimeout, sync and async
// alike, and a sync send's retries share it: a timed-out attempt is not
// retried.
func TestSendWithoutDeadlineGetsRequestTimeout(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	const timeout = 100 * time.Millisecond
	p := newTestProducer(t, newTestClient(t, fc, func(o *Options) { o.RequestTimeout = timeout }), ProducerOptions{MaxAttempts: 3})
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("warm")}) // the route, outside the timeout
	require.NoError(t, err)
	hold := make(chan struct{})
	defer close(hold)
	fc.brokers[0].hold(hold)

	start := time.Now()
	_, err = p.Send(context.Background(), &Message{Topic: "T", Body: []byte("x")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), timeout)
	require.Equal(t, 2, fc.brokers[0].callCount(protocol.SendMessageV2), "the timed-out attempt was not retried")

	errc := make(chan error, 1)
	start = time.Now()
	require.NoError(t, p.SendAsync(context.Background(), &Message{Topic: "T", Body: []byte("x")}, func(_ SendResult, err error) { errc <- err }))
	require.ErrorIs(t, <-errc, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), timeout)
}

func TestSendOneway(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	for range 10 {
		require.NoError(t, p.SendOneway(testCtx(t), &Message{Topic: "T", Body: []byte("x")}))
	}
	eventually(t, "ten stored messages", func() bool { return fc.brokers[0].total("T") == 10 })
}

func TestSendBatch(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	var msgs []*Message
	for i := range 10 {
		msgs = append(msgs, &Message{Topic: "T", Body: fmt.Appendf(nil, "b%d", i), Tags: "TagB", Flag: int32(i)})
	}
	res, err := p.SendBatch(testCtx(t), msgs...)
	require.NoError(t, err)
	require.Equal(t, int64(0), res.QueueOffset)
	ids := strings.Split(res.MsgID, ",")
	require.Len(t, ids, 10)
	require.Len(t, strings.Split(res.OffsetMsgID, ","), 10)
	require.Equal(t, []protocol.RequestCode{protocol.SendBatchMessage}, fc.brokers[0].sendCodesSeen())

	stored := fc.brokers[0].records("T", 0)
	require.Len(t, stored, 10)
	for i, m := range stored {
		require.Equal(t, int64(i), m.QueueOffset, "consecutive offsets")
		require.Equal(t, fmt.Sprintf("b%d", i), string(m.Body))
		require.Equal(t, int32(i), m.Flag)
		require.Equal(t, ids[i], m.Property("UNIQ_KEY"), "each message keeps its own id")
		require.Equal(t, "TagB", m.Tags())
	}

	_, err = p.SendBatch(testCtx(t), &Message{Topic: "T", Body: []byte("x")}, &Message{Topic: "U", Body: []byte("y")})
	require.ErrorIs(t, err, ErrInvalidMessage)
	_, err = p.SendBatch(testCtx(t), &Message{Topic: "T", Body: []byte("x"), DelayLevel: 1})
	require.ErrorIs(t, err, ErrInvalidMessage)
	_, err = p.SendBatch(testCtx(t))
	require.ErrorIs(t, err, ErrInvalidMessage)
}

func TestSendBatchAsync(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{MaxInFlight: 2})
	const batches, per = 20, 5
	results := make(chan SendResult, batches)
	for b := range batches {
		var msgs []*Message
		for i := range per {
			msgs = append(msgs, &Message{Topic: "T", Body: fmt.Appendf(nil, "%d-%d", b, i)})
		}
		require.NoError(t, p.SendBatchAsync(testCtx(t), msgs, func(res SendResult, err error) {
			require.NoError(t, err)
			results <- res
		}))
	}
	offsets := map[int64]bool{}
	for range batches {
		res := <-results
		require.Len(t, strings.Split(res.MsgID, ","), per)
		offsets[res.QueueOffset] = true
	}
	require.Len(t, offsets, batches, "each batch got its own offsets")
	require.Len(t, fc.brokers[0].records("T", 0), batches*per)
	require.Equal(t, []protocol.RequestCode{protocol.SendBatchMessage}, slices.Compact(fc.brokers[0].sendCodesSeen()))

	require.ErrorIs(t, p.SendBatchAsync(testCtx(t), nil, func(SendResult, error) {}), ErrInvalidMessage)
	require.ErrorIs(t, p.SendBatchAsync(testCtx(t), []*Message{{Topic: "T", Body: []byte("x")}}, nil), ErrInvalidOptions)
}

// Connect fetches the route and dials the brokers before the first send,
// which then needs neither.
func TestProducerConnect(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 2)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{DisableTopicFallback: true})
	require.NoError(t, p.Connect(testCtx(t), "T"))
	require.Equal(t, 1, fc.calls(protocol.GetRouteInfoByTopic))
	for _, b := range fc.brokers {
		eventually(t, "connected to "+b.name, func() bool { return len(b.srv.Conns()) == 1 })
	}
	for range 4 {
		_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
		require.NoError(t, err)
	}
	require.Equal(t, 1, fc.calls(protocol.GetRouteInfoByTopic), "no route fetch on send")
	for _, b := range fc.brokers {
		require.Len(t, b.srv.Conns(), 1, "no new connection to %s", b.name)
	}

	err := p.Connect(testCtx(t), "Unknown")
	require.ErrorIs(t, err, ErrTopicNotExist)
}

func TestSendCompressesLargeBodies(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{CompressThreshold: 1024})
	body := bytes.Repeat([]byte("compressible "), 1000)
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: body})
	require.NoError(t, err)
	_, err = p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("small")})
	require.NoError(t, err)

	stored := fc.brokers[0].records("T", 0)
	require.NotZero(t, stored[0].SysFlag&message.SysFlagCompressed)
	require.Less(t, len(stored[0].Body), len(body)/10)
	require.Zero(t, stored[1].SysFlag&message.SysFlagCompressed)

	pc := newTestPullConsumer(t, c, "g")
	res, err := pc.Pull(testCtx(t), PullRequest{Queue: MessageQueue{Topic: "T", BrokerName: "broker-a"}})
	require.NoError(t, err)
	require.Len(t, res.Messages, 2)
	require.Equal(t, body, res.Messages[0].Body, "inflated on the way in")
	require.Equal(t, "small", string(res.Messages[1].Body))
}

func TestProducerCloseIsIdempotentAndFinal(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	p := newTestProducer(t, newTestClient(t, fc), ProducerOptions{})
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, p.SendOneway(testCtx(t), &Message{Topic: "T", Body: []byte("x")}), ErrClosed)
}

func TestSendAfterClientCloseFails(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	require.NoError(t, c.Close())
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.True(t, errors.Is(err, ErrClosed), "%v", err)
}

func TestProducerOptionsValidate(t *testing.T) {
	require.NoError(t, ProducerOptions{}.Validate())
	require.NoError(t, DefaultProducerOptions().Validate())
	for name, o := range map[string]ProducerOptions{
		"bad group":    {Group: "a b"},
		"attempts":     {MaxAttempts: -1},
		"in flight":    {MaxInFlight: -1},
		"create key":   {CreateTopicKey: "bad key"},
		"queue nums":   {DefaultTopicQueueNums: -1},
		"compress":     {CompressThreshold: -1},
		"level":        {CompressLevel: 10},
		"message size": {MaxMessageSize: -1},
	} {
		require.ErrorIs(t, o.Validate(), ErrInvalidOptions, name)
	}
}

func TestClosingTheLastProducerOfAGroupUnregistersIt(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	c := newTestClient(t, fc)
	p1, err := NewProducer(c, ProducerOptions{Group: "pg"})
	require.NoError(t, err)
	p2, err := NewProducer(c, ProducerOptions{Group: "pg"})
	require.NoError(t, err)
	_, err = p1.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, p1.Close())
	require.Zero(t, fc.brokers[0].callCount(protocol.UnregisterClient), "p2 still uses the group")
	require.NoError(t, p2.Close())
	require.Equal(t, 1, fc.brokers[0].callCount(protocol.UnregisterClient))
}
