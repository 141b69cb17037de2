package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// TestSendModes sends with every mode the official producer has — sync,
// async, oneway and batch — and reads everything back with a push consumer,
// properties intact.
func TestSendModes(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic = "SendModes"
	ctx := context.Background()

	// Sync: the first send goes through TBW102 and creates the topic.
	var offsets []int64
	for i := 0; i < 10; i++ {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("sync-%d", i)))
		m.WithTag("TagS")
		m.WithKeys([]string{fmt.Sprintf("key-%d", i)})
		m.WithProperty("color", "blue")
		res, err := p.SendSync(ctx, m)
		require.NoError(t, err)
		require.Equal(t, primitive.SendOK, res.Status)
		require.Len(t, res.OffsetMsgID, 32, "offset msg id is the 32-char IPv4 form")
		require.NotEmpty(t, res.MsgID, "UNIQ_KEY comes back as the msg id")
		offsets = append(offsets, res.QueueOffset)
	}

	// Async.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err == nil && res.Status != primitive.SendOK {
				err = fmt.Errorf("status %v", res.Status)
			}
			errs <- err
		}, primitive.NewMessage(topic, []byte(fmt.Sprintf("async-%d", i))))
		require.NoError(t, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	// Oneway.
	for i := 0; i < 10; i++ {
		require.NoError(t, p.SendOneWay(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("oneway-%d", i)))))
	}

	// Batch: one SEND_BATCH_MESSAGE, consecutive offsets on one queue.
	batch := make([]*primitive.Message, 10)
	for i := range batch {
		batch[i] = primitive.NewMessage(topic, []byte(fmt.Sprintf("batch-%d", i)))
		batch[i].WithProperty("n", fmt.Sprint(i))
	}
	res, err := p.SendSync(ctx, batch...)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)

	s := newSink()
	c.pushConsumer("CG_SendModes", topic, "*", s)
	s.waitDistinct(t, 40, 30*time.Second)

	for _, m := range s.snapshot() {
		if len(m.Body) > 4 && string(m.Body[:4]) == "sync" {
			require.Equal(t, "TagS", m.GetTags())
			require.Equal(t, "blue", m.GetProperty("color"))
			require.NotEmpty(t, m.GetKeys())
			require.Equal(t, topic, m.Topic)
			require.NotZero(t, m.StoreTimestamp)
			require.NotZero(t, m.BornTimestamp)
		}
	}
}

// TestSendToUnknownTopicCreatesIt relies on autoCreateTopicEnable (on in
// standalone): the producer falls back to TBW102's route and the broker
// creates the topic, which then has its own route.
func TestSendToUnknownTopicCreatesIt(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	sendN(t, p, "BrandNewTopic", "m", 3, "")

	s := newSink()
	c.pushConsumer("CG_BrandNew", "BrandNewTopic", "*", s)
	s.waitDistinct(t, 3, 30*time.Second)
}
