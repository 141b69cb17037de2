package compat

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/standalone"
)

// arrivals records when each body was first consumed.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	msgs map[string]*primitive.MessageExt
}

func newArrivals() *arrivals {
	return &arrivals{at: map[string]time.Time{}, msgs: map[string]*primitive.MessageExt{}}
}

func (a *arrivals) handle(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range msgs {
		if _, ok := a.at[string(m.Body)]; !ok {
			a.at[string(m.Body)], a.msgs[string(m.Body)] = now, m
		}
	}
	return consumer.ConsumeSuccess, nil
}

func (a *arrivals) get(body string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.at[body]
	return at, ok
}

func (a *arrivals) wait(t *testing.T, within time.Duration, bodies ...string) {
	t.Helper()
	eventually(t, within, func() error {
		for _, b := range bodies {
			if _, ok := a.get(b); !ok {
				return fmt.Errorf("%q not consumed yet", b)
			}
		}
		return nil
	})
}

func (a *arrivals) subscribe(c *cluster, group, topic string) {
	c.t.Helper()
	subscribeFunc(c, group, topic, a.handle)
}

// subscribeFunc starts a push consumer of group on topic (all tags) that
// hands messages to f.
func subscribeFunc(c *cluster, group, topic string, f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error), opts ...consumer.Option) {
	c.t.Helper()
	all := append([]consumer.Option{
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(c.t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	pc, err := rocketmq.NewPushConsumer(all...)
	require.NoError(c.t, err)
	require.NoError(c.t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}, f))
	require.NoError(c.t, pc.Start())
	c.t.Cleanup(func() { _ = pc.Shutdown() })
}

// onTime checks a delivery: not before due, at most late after it.
func onTime(t *testing.T, what string, arrived, due time.Time, late time.Duration) {
	t.Helper()
	require.False(t, arrived.Before(due), "%s arrived %v early", what, due.Sub(arrived))
	require.LessOrEqual(t, arrived.Sub(due), late, "%s arrived %v late", what, arrived.Sub(due))
}

// TestDelayLevel3ArrivesAfterTenSeconds: with the default levels, a
// message sent with delay level 3 is consumed 10 s after it was sent, not
// before, and within a second of that.
func TestDelayLevel3ArrivesAfterTenSeconds(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const topic = "DelayLevel3"
	p := c.producer()

	sent := time.Now()
	m := primitive.NewMessage(topic, []byte("level-3"))
	m.WithDelayTimeLevel(3)
	m.WithTag("tg")
	res, err := p.SendSync(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)
	// The send created the topic; the consumer is up long before 10 s.
	a := newArrivals()
	a.subscribe(c, "CG_DelayLevel3", topic)

	a.wait(t, 20*time.Second, "level-3")
	at, _ := a.get("level-3")
	onTime(t, "level 3", at, sent.Add(10*time.Second), time.Second)
	got := a.msgs["level-3"]
	require.Equal(t, topic, got.Topic)
	require.Equal(t, "tg", got.GetTags())
	require.Equal(t, res.MsgID, got.MsgId, "the producer's message id is kept")
	require.Empty(t, got.GetProperty("DELAY"))
}

// TestTimerMessagesArriveAtTheirTime: TIMER_DELIVER_MS (absolute),
// TIMER_DELAY_SEC, TIMER_DELAY_MS (relative) and the legacy
// __STARTDELIVERTIME, set with the official client's WithProperty, each
// deliver the message at its time, not before, within a second.
func TestTimerMessagesArriveAtTheirTime(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	const topic = "TimerMessages"
	p := c.producer()

	base := time.Now()
	due := map[string]time.Time{}
	send := func(body, key, value string, at time.Time) {
		m := primitive.NewMessage(topic, []byte(body))
		m.WithProperty(key, value)
		res, err := p.SendSync(context.Background(), m)
		require.NoError(t, err)
		require.Equal(t, primitive.SendOK, res.Status)
		due[body] = at
	}
	deliver := base.Add(3 * time.Second)
	send("deliver-ms", "TIMER_DELIVER_MS", strconv.FormatInt(deliver.UnixMilli(), 10), time.UnixMilli(deliver.UnixMilli()))
	now := time.Now()
	send("delay-sec", "TIMER_DELAY_SEC", "2", now.Add(2*time.Second))
	now = time.Now()
	send("delay-ms", "TIMER_DELAY_MS", "2500", now.Add(2500*time.Millisecond))
	legacy := base.Add(3500 * time.Millisecond)
	send("legacy", "__STARTDELIVERTIME", strconv.FormatInt(legacy.UnixMilli(), 10), time.UnixMilli(legacy.UnixMilli()))
	a := newArrivals()
	a.subscribe(c, "CG_TimerMessages", topic)

	a.wait(t, 15*time.Second, "deliver-ms", "delay-sec", "delay-ms", "legacy")
	for body, d := range due {
		at, _ := a.get(body)
		onTime(t, body, at, d, time.Second)
	}
	require.Empty(t, a.msgs["deliver-ms"].GetProperty("TIMER_DELIVER_MS"))
}

// TestTimerBeyondTheMaximumIsRefused: a delivery time further than
// timerMaxDelaySec is refused with a clear error, and nothing is stored.
func TestTimerBeyondTheMaximumIsRefused(t *testing.T) {
	t.Parallel()
	c := startClusterWith(t, func(o *standalone.Options) { o.Broker.TimerMaxDelaySec = 3600 })
	p := c.producer()
	m := primitive.NewMessage("TimerTooFar", []byte("x"))
	m.WithProperty("TIMER_DELAY_SEC", "3601")
	_, err := p.SendSync(context.Background(), m)
	require.Error(t, err)
	require.Contains(t, err.Error(), "CODE: 13")
	require.Contains(t, err.Error(), "timerMaxDelaySec=3600")

	m = primitive.NewMessage("TimerTooFar", []byte("y"))
	m.WithProperty("TIMER_DELIVER_MS", strconv.FormatInt(time.Now().Add(2*time.Hour).UnixMilli(), 10))
	_, err = p.SendSync(context.Background(), m)
	require.ErrorContains(t, err, "timerMaxDelaySec")

	// Within the maximum is fine (the default is 30 days).
	m = primitive.NewMessage("TimerTooFar", []byte("z"))
	m.WithProperty("TIMER_DELAY_SEC", "3000")
	res, err := p.SendSync(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)
}

// TestDelayedBatchIsRefused: the official producer sends several messages
// as one batch, which the broker cannot delay; a batch with a delayed or
// timed message is refused with a clear error instead of being delivered
// at once, and nothing of it is stored.
func TestDelayedBatchIsRefused(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	p := c.producer()
	const topic = "DelayedBatch"
	sendN(t, p, topic, "before", 1, "") // creates the topic

	plain := primitive.NewMessage(topic, []byte("plain"))
	delayed := primitive.NewMessage(topic, []byte("delayed"))
	delayed.WithDelayTimeLevel(2)
	_, err := p.SendSync(context.Background(), plain, delayed)
	require.ErrorContains(t, err, "CODE: 13")
	require.ErrorContains(t, err, "batch messages cannot be delayed")

	timed := primitive.NewMessage(topic, []byte("timed"))
	timed.WithProperty("TIMER_DELAY_SEC", "5")
	_, err = p.SendSync(context.Background(), timed, primitive.NewMessage(topic, []byte("plain")))
	require.ErrorContains(t, err, "TIMER_DELAY_SEC")

	res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("after-1")),
		primitive.NewMessage(topic, []byte("after-2")))
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)

	s := newSink()
	c.pushConsumer("CG_DelayedBatch", topic, "*", s)
	s.waitDistinct(t, 3, 30*time.Second)
	quiet(t, time.Second, 30*time.Second, s.distinct)
	require.Equal(t, []string{"after-1", "after-2", "before-0"}, s.bodies(), "nothing of the refused batches")
}

// TestDelayedAndTimedSurviveBrokerRestart: delayed and timed messages
// still waiting when the broker restarts are all delivered afterwards,
// none early and none twice.
func TestDelayedAndTimedSurviveBrokerRestart(t *testing.T) {
	t.Parallel()
	c := startClusterWith(t, func(o *standalone.Options) { o.Store.MessageDelayLevel = "3s 4s" })
	const topic = "DelayRestart"
	p := c.producer()
	due := map[string]time.Time{}
	for i := range 5 {
		sent := time.Now()
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("level-%d", i)))
		m.WithDelayTimeLevel(1 + i%2)
		_, err := p.SendSync(context.Background(), m)
		require.NoError(t, err)
		due[string(m.Body)] = sent.Add(time.Duration(3+i%2) * time.Second)

		sent = time.Now()
		m = primitive.NewMessage(topic, []byte(fmt.Sprintf("timer-%d", i)))
		m.WithProperty("TIMER_DELAY_MS", strconv.Itoa(3000+i*300))
		_, err = p.SendSync(context.Background(), m)
		require.NoError(t, err)
		due[string(m.Body)] = sent.Add(time.Duration(3000+i*300) * time.Millisecond)
	}
	c.restart()

	s := newSink()
	c.pushConsumer("CG_DelayRestart", topic, "*", s)
	s.waitDistinct(t, len(due), 30*time.Second)
	quiet(t, 500*time.Millisecond, 10*time.Second, s.total)
	require.Equal(t, len(due), s.total(), "delivered twice: %v", s.bodies())
	for _, m := range s.snapshot() {
		// The consumer may have started late: check the store time of the
		// delivered record, which is when the broker re-put it.
		stored := time.UnixMilli(m.StoreTimestamp)
		require.False(t, stored.Before(due[string(m.Body)].Truncate(time.Millisecond)),
			"%s re-put %v early", m.Body, due[string(m.Body)].Sub(stored))
	}
}
