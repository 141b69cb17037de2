// The official client v2.1.2 has data races of its own (the push
// consumer's messageQueueChanged writes subscription data that its route
// refresh reads; GetOrNewRocketMQClient writes fields its goroutines read),
// which the race detector reports whatever the broker does. This test runs
// without -race; the broker's own paths are raced by the other tests.

//go:build !race

package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/store"
)

// TestGoClientProducesAndConsumes runs the official Go client
// (rocketmq-client-go v2.1.2), unchanged, against a NameServer and this
// broker: a producer sends single, async and batch messages to a topic
// that does not exist yet (created through TBW102), and a push consumer
// with a tag subscription receives exactly the matching ones.
func TestGoClientProducesAndConsumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the official client")
	}
	rlog.SetLogLevel("fatal")
	ns := startNamesrv(t)
	startBroker(t, func(o *Options, _ *store.Options) { o.NamesrvAddr = ns.Addr() })
	const topicName = "GoClientTopic"
	ctx := context.Background()

	p, err := producer.NewDefaultProducer(
		producer.WithNameServer([]string{ns.Addr()}),
		producer.WithGroupName("smoke_producer"),
		// Separate client instances: the client races with itself when a
		// producer and a consumer share one (GetOrNewRocketMQClient).
		producer.WithInstanceName("smoke_producer"),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10*time.Second),
	)
	require.NoError(t, err)
	require.NoError(t, p.Start())
	defer func() { require.NoError(t, p.Shutdown()) }()

	tags := []string{"TagA", "TagB", "TagC"}
	want := map[string]bool{}
	msg := func(i int) *primitive.Message {
		body := fmt.Sprintf("m-%03d", i)
		tag := tags[i%3]
		if tag != "TagB" {
			want[body] = true
		}
		return primitive.NewMessage(topicName, []byte(body)).WithTag(tag).WithKeys([]string{body})
	}
	for i := range 12 {
		res, err := p.SendSync(ctx, msg(i))
		require.NoError(t, err)
		require.Equal(t, primitive.SendOK, res.Status)
		require.NotEmpty(t, res.MsgID, "the client's UNIQ_KEY")
		require.Len(t, res.OffsetMsgID, 32)
	}
	var batch []*primitive.Message
	for i := 12; i < 18; i++ {
		batch = append(batch, msg(i))
	}
	res, err := p.SendSync(ctx, batch...)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)
	var wg sync.WaitGroup
	for i := 18; i < 24; i++ {
		wg.Add(1)
		require.NoError(t, p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || r.Status != primitive.SendOK {
				t.Errorf("async send: %v %v", r, err)
			}
		}, msg(i)))
	}
	wg.Wait()
	require.NoError(t, p.SendOneWay(ctx, primitive.NewMessage(topicName, []byte("oneway")).WithTag("TagB")))

	// The first send created the topic and was answered once the
	// NameServer knew it: the consumer finds the route (the client refuses
	// to start without one).
	var mu sync.Mutex
	got := map[string]int{}
	c, err := consumer.NewPushConsumer(
		consumer.WithNameServer([]string{ns.Addr()}),
		consumer.WithGroupName("smoke_consumer"),
		consumer.WithInstance("smoke_consumer"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	require.NoError(t, err)
	require.NoError(t, c.Subscribe(topicName, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagC"},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				got[string(m.Body)]++
			}
			return consumer.ConsumeSuccess, nil
		}))
	require.NoError(t, c.Start())
	defer func() { require.NoError(t, c.Shutdown()) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		require.True(t, time.Now().Before(deadline), "consumed %d of %d", n, len(want))
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for body := range want {
		require.Equal(t, 1, got[body], "%s consumed once", body)
	}
	require.Len(t, got, len(want), "nothing the subscription excludes")
}
