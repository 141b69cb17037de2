package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/standalone"
)

// oneSecondLevels makes every delay level 1 s, so retries come quickly;
// these tests are about the retry path, not the default levels.
func oneSecondLevels(o *standalone.Options) {
	o.Store.MessageDelayLevel = "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s"
}

// failing is a consumer that asks for a retry of each message until it
// has seen it failures+1 times, recording every delivery.
type failing struct {
	mu       sync.Mutex
	failures int32 // -1: fail forever
	seen     []*primitive.MessageExt
}

func (f *failing) handle(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	result := consumer.ConsumeSuccess
	for _, m := range msgs {
		f.seen = append(f.seen, m)
		if f.failures < 0 || m.ReconsumeTimes < f.failures {
			result = consumer.ConsumeRetryLater
		}
	}
	return result, nil
}

func (f *failing) deliveries() []*primitive.MessageExt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*primitive.MessageExt(nil), f.seen...)
}

// primeGroup creates the group's %RETRY% topic (one queue, read-write,
// as the broker would) with the official admin client before the test's
// consumer starts, as it exists for a group that ran before. The official
// client looks its routes up before its first heartbeat (which creates
// the retry topic) and after that only every 30 s: a brand-new group may
// not consume its retries for that long.
func primeGroup(c *cluster, group string) {
	c.t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(c.resolver()))
	require.NoError(c.t, err)
	defer adm.Close()
	require.NoError(c.t, adm.CreateTopic(context.Background(), admin.WithTopicCreate("%RETRY%"+group),
		admin.WithBrokerAddrCreate(c.s.BrokerAddr()), admin.WithReadQueueNums(1), admin.WithWriteQueueNums(1),
		admin.WithPerm(6)))
}

func retryMessage(topic, body string) *primitive.Message {
	m := primitive.NewMessage(topic, []byte(body))
	m.WithTag("red")
	m.WithKeys([]string{"order-1", "order-2"})
	m.WithProperty("region", "eu")
	return m
}

// requireIntact checks that a redelivered message is the one sent.
func requireIntact(t *testing.T, topic string, m *primitive.MessageExt, sent *primitive.SendResult) {
	t.Helper()
	require.Equal(t, topic, m.Topic, "the client sees the original topic")
	require.Equal(t, "red", m.GetTags())
	require.Equal(t, "order-1 order-2", m.GetKeys())
	require.Equal(t, "eu", m.GetProperty("region"))
	require.Equal(t, sent.MsgID, m.MsgId, "the producer's message id")
}

// TestRetryOnceSeesReconsumeTimesOne: a consumer that fails a message once
// (ConsumeRetryLater) gets it again with ReconsumeTimes == 1 and the
// topic, tags, keys, properties and body it was sent with.
func TestRetryOnceSeesReconsumeTimesOne(t *testing.T) {
	t.Parallel()
	c := startClusterWith(t, oneSecondLevels)
	const topic, group = "RetryOnce", "CG_RetryOnce"
	p := c.producer()
	res, err := p.SendSync(context.Background(), retryMessage(topic, "try-me"))
	require.NoError(t, err)
	primeGroup(c, group)
	f := &failing{failures: 1}
	subscribeFunc(c, group, topic, f.handle)

	eventually(t, 20*time.Second, func() error {
		if n := len(f.deliveries()); n < 2 {
			return fmt.Errorf("%d deliveries", n)
		}
		return nil
	})
	quiet(t, 1500*time.Millisecond, 10*time.Second, func() int { return len(f.deliveries()) })
	got := f.deliveries()
	require.Len(t, got, 2, "consumed once more after the failure, then done")
	require.Equal(t, int32(0), got[0].ReconsumeTimes)
	require.Equal(t, int32(1), got[1].ReconsumeTimes)
	for _, m := range got {
		requireIntact(t, topic, m, res)
		require.Equal(t, "try-me", string(m.Body))
	}
	require.Equal(t, topic, got[1].GetProperty("RETRY_TOPIC"))
	require.NotEmpty(t, got[1].GetProperty("ORIGIN_MESSAGE_ID"))
}

// TestMaxRetriesEndInTheDeadLetterQueue: a message failed past the
// consumer's maximum (WithMaxReconsumeTimes) is moved to %DLQ%<group>,
// where a consumer of that topic reads it, intact, with its reconsume
// count.
func TestMaxRetriesEndInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	c := startClusterWith(t, oneSecondLevels)
	const topic, group = "RetryToDLQ", "CG_RetryToDLQ"
	p := c.producer()
	res, err := p.SendSync(context.Background(), retryMessage(topic, "doomed"))
	require.NoError(t, err)
	primeGroup(c, group)
	f := &failing{failures: -1}
	subscribeFunc(c, group, topic, f.handle, consumer.WithMaxReconsumeTimes(2))

	// Browse the dead letters once there are some: the official client
	// looks a topic's route up when it starts, then only every 30 s.
	eventually(t, 30*time.Second, func() error {
		if n := c.s.Broker().ScheduleStats().DeadLetters; n < 1 {
			return fmt.Errorf("%d dead letters", n)
		}
		return nil
	})
	dead := newArrivals()
	dead.subscribe(c, "CG_DLQ_Browser", "%DLQ%"+group)
	dead.wait(t, 30*time.Second, "doomed")
	m := dead.msgs["doomed"]
	require.Equal(t, "%DLQ%"+group, m.Topic)
	require.Equal(t, int32(3), m.ReconsumeTimes)
	require.Equal(t, topic, m.GetProperty("RETRY_TOPIC"))
	require.Equal(t, "red", m.GetTags())
	require.Equal(t, "order-1 order-2", m.GetKeys())
	require.Equal(t, "eu", m.GetProperty("region"))
	require.Equal(t, res.MsgID, m.MsgId)

	got := f.deliveries()
	require.Len(t, got, 3, "the first try and two retries")
	for i, m := range got {
		require.Equal(t, int32(i), m.ReconsumeTimes)
		requireIntact(t, topic, m, res)
	}
}
