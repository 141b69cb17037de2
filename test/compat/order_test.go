package compat

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/stretchr/testify/require"
)

// Ordered consumption with the official client: messages of one order
// (sharding key) go to one queue through the hash queue selector, and an
// orderly push consumer (consumer.WithConsumerOrder) consumes each queue
// under the broker's queue lock (LOCK_BATCH_MQ), one message at a time.

const (
	orders = 20
	steps  = 25
)

func orderBody(order, step int) string { return fmt.Sprintf("order-%02d/step-%02d", order, step) }

func parseOrderBody(t *testing.T, b []byte) (order, step int) {
	t.Helper()
	o, s, ok := strings.Cut(strings.TrimPrefix(string(b), "order-"), "/step-")
	require.True(t, ok, "body %q", b)
	order, err := strconv.Atoi(o)
	require.NoError(t, err)
	step, err = strconv.Atoi(s)
	require.NoError(t, err)
	return order, step
}

// sendOrders sends steps [from, to) of every order, steps in turn across
// orders, each order's messages to the queue its key hashes to.
func sendOrders(t *testing.T, p rocketmq.Producer, topic string, from, to int) {
	t.Helper()
	for step := from; step < to; step++ {
		for order := range orders {
			m := primitive.NewMessage(topic, []byte(orderBody(order, step)))
			m.WithShardingKey("order-" + strconv.Itoa(order))
			res, err := p.SendSync(context.Background(), m)
			require.NoError(t, err)
			require.Equal(t, primitive.SendOK, res.Status)
		}
	}
}

// orderLog checks deliveries as they happen: a step may be delivered only
// once the step before it was accepted (never skip ahead), and it says
// which deliveries are accepted. A redelivery of an accepted step (after a
// restart or a rebalance, RocketMQ being at-least-once) is counted, not
// refused.
type orderLog struct {
	t *testing.T

	mu         sync.Mutex
	accepted   [orders]int // steps accepted so far, per order
	deliveries int
	repeats    int              // deliveries of steps already accepted
	violations []string         // deliveries that skipped ahead
	queueOf    map[int]int      // order -> queue id it arrived on
	refused    map[string]int   // body -> times the consumer refused it
	by         map[string]int   // consumer -> steps it accepted
	takers     [orders][]string // consumers that accepted steps of the order, in turn
}

func newOrderLog(t *testing.T) *orderLog {
	return &orderLog{t: t, queueOf: map[int]int{}, refused: map[string]int{}, by: map[string]int{}}
}

// deliver records one delivery. refuse decides whether the consumer asks
// for it again (it is then not accepted).
func (l *orderLog) deliver(by string, m *primitive.MessageExt, refuse func(order, step, times int) bool) (accepted bool) {
	order, step := parseOrderBody(l.t, m.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliveries++
	if q, ok := l.queueOf[order]; ok && q != m.Queue.QueueId {
		l.violations = append(l.violations, fmt.Sprintf("order %d on queues %d and %d", order, q, m.Queue.QueueId))
	}
	l.queueOf[order] = m.Queue.QueueId
	switch {
	case step < l.accepted[order]:
		l.repeats++
		return true
	case step > l.accepted[order]:
		l.violations = append(l.violations, fmt.Sprintf("order %d: step %d delivered before step %d was consumed",
			order, step, l.accepted[order]))
		return true
	}
	body := string(m.Body)
	if refuse != nil && refuse(order, step, l.refused[body]) {
		l.refused[body]++
		return false
	}
	l.accepted[order]++
	l.by[by]++
	if n := len(l.takers[order]); n == 0 || l.takers[order][n-1] != by {
		l.takers[order] = append(l.takers[order], by)
	}
	return true
}

// handedOver returns the orders consumed by from and then by to.
func (l *orderLog) handedOver(from, to string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for order, ts := range l.takers {
		for i := 1; i < len(ts); i++ {
			if ts[i-1] == from && ts[i] == to {
				out = append(out, order)
				break
			}
		}
	}
	return out
}

// acceptedBy returns how many steps consumer by accepted.
func (l *orderLog) acceptedBy(by string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[by]
}

func (l *orderLog) done() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.accepted {
		n += a
	}
	return n
}

func (l *orderLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deliveries
}

func (l *orderLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.violations, "deliveries out of order")
}

func (l *orderLog) waitAccepted(t *testing.T, n int, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		l.check(t)
		if got := l.done(); got < n {
			return fmt.Errorf("%d of %d steps consumed", got, n)
		}
		return nil
	})
}

// orderlyConsumer starts an orderly push consumer of group on topic; each
// message goes through log under the consumer's instance name (returned),
// and refused ones are answered with SuspendCurrentQueueAMoment (hold the
// queue, deliver again).
func (c *cluster) orderlyConsumer(group, topic string, log *orderLog, refuse func(order, step, times int) bool, opts ...consumer.Option) (rocketmq.PushConsumer, string) {
	c.t.Helper()
	name := instance(c.t)
	all := append([]consumer.Option{
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(name),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumerOrder(true),
	}, opts...)
	pc, err := rocketmq.NewPushConsumer(all...)
	require.NoError(c.t, err)
	require.NoError(c.t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				if !log.deliver(name, m, refuse) {
					if oc, ok := primitive.GetOrderlyCtx(ctx); ok {
						oc.SuspendCurrentQueueTimeMillis = 50
					}
					return consumer.SuspendCurrentQueueAMoment, nil
				}
			}
			return consumer.ConsumeSuccess, nil
		}))
	require.NoError(c.t, pc.Start())
	var once sync.Once
	c.t.Cleanup(func() { once.Do(func() { _ = pc.Shutdown() }) })
	return pc, name
}

func (c *cluster) orderedProducer() rocketmq.Producer {
	return c.producer(producer.WithQueueSelector(producer.NewHashQueueSelector()))
}

// TestOrderlyHashSelector: 20 orders x 25 steps arrive in order per order,
// each order on one queue, although the consumer asks for some steps
// again (SuspendCurrentQueueAMoment, the orderly "retry"): the queue is
// held back until the step is consumed, never skipped.
func TestOrderlyHashSelector(t *testing.T) {
	c := startCluster(t)
	p := c.orderedProducer()
	const topic, group = "Orders", "CG_Orders"
	sendOrders(t, p, topic, 0, steps)

	log := newOrderLog(t)
	refuse := func(order, step, times int) bool {
		// Every third order fails step 10 twice, and step 20 once.
		return order%3 == 0 && (step == 10 && times < 2 || step == 20 && times < 1)
	}
	c.orderlyConsumer(group, topic, log, refuse)
	log.waitAccepted(t, orders*steps, 60*time.Second)
	quiet(t, 300*time.Millisecond, 10*time.Second, log.count)
	log.check(t)
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Zero(t, log.repeats, "nothing consumed twice")
	require.Equal(t, orders*steps+3*7, log.deliveries, "each refusal delivered once more")
}

// TestOrderlyConsumeRetryLater records what the unchanged client does when
// an orderly listener answers ConsumeRetryLater, the concurrent consumer's
// "retry" (rocketmq-client-go v2.1.2, push_consumer.go
// consumeMessageOrderly): the answer falls through the orderly result
// switch, the message is neither put back nor sent back, the next step is
// delivered at once and the offset is committed past the refused one
// (cgo#618). The broker delivered the message and was never asked for it
// again: the skip is the client's. Orderly listeners must answer
// SuspendCurrentQueueAMoment to hold a queue back (TestOrderlyHashSelector).
func TestOrderlyConsumeRetryLater(t *testing.T) {
	c := startCluster(t)
	p := c.orderedProducer()
	const topic, group = "OrdersRetryLater", "CG_OrdersRetryLater"
	sendOrders(t, p, topic, 0, steps)

	var mu sync.Mutex
	var order0 []int
	refused := false
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumerOrder(true),
	)
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				order, step := parseOrderBody(t, m.Body)
				if order != 0 {
					continue
				}
				order0 = append(order0, step)
				if step == 10 && !refused {
					refused = true
					return consumer.ConsumeRetryLater, nil
				}
			}
			return consumer.ConsumeSuccess, nil
		}))
	require.NoError(t, pc.Start())
	t.Cleanup(func() { _ = pc.Shutdown() })

	var want []int
	for s := range steps {
		want = append(want, s)
	}
	eventually(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(order0) < steps {
			return fmt.Errorf("order 0: %d steps delivered", len(order0))
		}
		return nil
	})
	quiet(t, 500*time.Millisecond, 10*time.Second, func() int { mu.Lock(); defer mu.Unlock(); return len(order0) })
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, want, order0,
		"rocketmq-client-go v2.1.2 skips a ConsumeRetryLater in orderly mode (step 10 is not delivered again); if this fails, the client changed")
}

// TestOrderlyAcrossRestart: the group's consumer is replaced midway (a
// graceful shutdown commits its offsets and unlocks its queues; the new
// instance locks them and resumes from the committed offsets): no order
// skips ahead, nothing is consumed twice.
func TestOrderlyAcrossRestart(t *testing.T) {
	c := startCluster(t)
	p := c.orderedProducer()
	const topic, group = "OrdersRestart", "CG_OrdersRestart"
	sendOrders(t, p, topic, 0, steps/2)

	log := newOrderLog(t)
	first, _ := c.orderlyConsumer(group, topic, log, nil)
	log.waitAccepted(t, orders*(steps/2), 30*time.Second)
	require.NoError(t, first.Shutdown())
	sendOrders(t, p, topic, steps/2, steps) // waiting for the next instance
	_, second := c.orderlyConsumer(group, topic, log, nil)
	log.waitAccepted(t, orders*steps, 30*time.Second)
	quiet(t, 300*time.Millisecond, 10*time.Second, log.count)
	log.check(t)
	require.Equal(t, orders*(steps-steps/2), log.acceptedBy(second))
	require.Zero(t, log.repeats, "the offsets committed at shutdown were kept")
}

// twoMemberStrategy allocates like AllocateByAveragely once the group has
// had two members, and nothing before: both members then start with their
// half. (A lone member would take every queue and, when the second one
// joins, drop half of them without unlocking them: the v2.1.2 client never
// unlocks a queue it is rebalanced away from, so the newcomer waits for
// the locks to expire; TestOrderlyRebalanceMemberJoins.)
func twoMemberStrategy() consumer.AllocateStrategy {
	var seen atomic.Bool
	return func(group, cid string, mqAll []*primitive.MessageQueue, cidAll []string) []*primitive.MessageQueue {
		if len(cidAll) >= 2 {
			seen.Store(true)
		}
		if !seen.Load() {
			return nil
		}
		return consumer.AllocateByAveragely(group, cid, mqAll, cidAll)
	}
}

// TestOrderlyRebalanceMemberLeaves: two members share the queues; when one
// shuts down (unlocking its queues) the other takes them over at once,
// from the offsets the first committed, and every order stays in order.
func TestOrderlyRebalanceMemberLeaves(t *testing.T) {
	c := startCluster(t)
	p := c.orderedProducer()
	const topic, group = "OrdersLeave", "CG_OrdersLeave"
	sendOrders(t, p, topic, 0, 1) // create the topic: both members see all 8 queues

	log := newOrderLog(t)
	_, staying := c.orderlyConsumer(group, topic, log, nil, consumer.WithStrategy(twoMemberStrategy()))
	leaving, leaver := c.orderlyConsumer(group, topic, log, nil, consumer.WithStrategy(twoMemberStrategy()))
	sendOrders(t, p, topic, 1, steps/2)
	log.waitAccepted(t, orders*(steps/2), 30*time.Second)
	require.NotZero(t, log.acceptedBy(staying))
	require.NotZero(t, log.acceptedBy(leaver))

	require.NoError(t, leaving.Shutdown())
	sendOrders(t, p, topic, steps/2, steps)
	log.waitAccepted(t, orders*steps, 30*time.Second)
	log.check(t)
	require.NotEmpty(t, log.handedOver(leaver, staying), "the staying member took the leaver's orders over")
	t.Logf("%d deliveries, %d of them again after the rebalance", log.count(), log.repeats)
}

var long = flag.Bool("long", false, "run the long compatibility tests (minutes each)")

// TestOrderlyRebalanceMemberJoins: a second member joins a group whose
// first member holds every queue. The v2.1.2 client drops the queues it is
// rebalanced away from without unlocking them (pushConsumer.
// removeUnnecessaryMessageQueue: "TODO orderly"; Java's client unlocks),
// so the newcomer gets them only when the first member's locks expire on
// the broker, 60 s after their last renewal, at one of its rebalances (every
// 20 s). Meanwhile those orders wait — in order, which is the point. It
// takes a minute or two, hence -long.
func TestOrderlyRebalanceMemberJoins(t *testing.T) {
	if !*long {
		t.Skip("takes the broker's 60 s lock expiry; run with -long")
	}
	c := startCluster(t)
	p := c.orderedProducer()
	const topic, group = "OrdersJoin", "CG_OrdersJoin"
	sendOrders(t, p, topic, 0, steps/2)

	log := newOrderLog(t)
	_, first := c.orderlyConsumer(group, topic, log, nil)
	log.waitAccepted(t, orders*(steps/2), 30*time.Second)
	joined := time.Now()
	_, second := c.orderlyConsumer(group, topic, log, nil)
	sendOrders(t, p, topic, steps/2, steps)
	log.waitAccepted(t, orders*steps, 3*time.Minute)
	log.check(t)
	require.NotEmpty(t, log.handedOver(first, second), "the newcomer took orders over")
	t.Logf("all consumed %v after the second member joined; %d deliveries, %d again",
		time.Since(joined).Round(time.Second), log.count(), log.repeats)
}
